"""Loaded at start-up by the moto_server that Tests/suites/terraform.sh runs (it puts this
folder on PYTHONPATH). Makes moto 5.2 usable where it otherwise hangs the provider, drops
events or refuses every request; nothing else of moto changes.

- Bucket policies: moto evaluates a statement whose condition keys it does not know (all
  of ours: aws:SecureTransport, aws:PrincipalArn, s3:ExistingObjectTag/...) as matching,
  and a matching Allow as a deny too, so nobody can read or write any bucket of this
  system. Bucket policies are ignored here; their effect is tested with a policy
  evaluator (infrastructure/tests/policy_effects.py), never on moto.

- Application Auto Scaling: moto lacks ListTagsForResource, TagResource and UntagResource.
  The AWS provider reads a scalable target's tags after creating it and retries that read
  for ever. These keep the tags in memory, per ARN.
- EventBridge rules with a Lambda target: moto raises NotImplementedError while delivering
  an event to one, and S3's event delivery then silently stops at that rule, so rules
  created after it never see the event. moto cannot run the function anyway: such targets
  are skipped (their wiring is checked through the API instead).
- Schedule rules: moto matches every event against them (they have no pattern); AWS never
  does.
- SQS SetQueueAttributes: moto drops the queue's policy whenever a call does not name it,
  so the provider's update of any other attribute silently removes the policy.
"""
import json

from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.events.models import Rule
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket
from moto.sqs.models import Queue

FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL

_tags: dict[str, dict[str, str]] = {}
_register = ApplicationAutoScalingResponse.register_scalable_target


def _register_with_tags(self):
    response = _register(self)
    _tags.setdefault(json.loads(response)["ScalableTargetARN"], {}).update(self._get_param("Tags") or {})
    return response


def _list_tags_for_resource(self):
    return json.dumps({"Tags": _tags.get(self._get_param("ResourceARN"), {})})


def _tag_resource(self):
    _tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
    return json.dumps({})


def _untag_resource(self):
    for key in self._get_param("TagKeys") or []:
        _tags.get(self._get_param("ResourceARN"), {}).pop(key, None)
    return json.dumps({})


ApplicationAutoScalingResponse.register_scalable_target = _register_with_tags
ApplicationAutoScalingResponse.list_tags_for_resource = _list_tags_for_resource
ApplicationAutoScalingResponse.tag_resource = _tag_resource
ApplicationAutoScalingResponse.untag_resource = _untag_resource

_send_to_targets = Rule.send_to_targets


def _send_to_targets_moto_supports(self, original_event, transform_input=True):
    if self.scheduled_expression:
        return
    targets = self.targets
    self.targets = [target for target in targets if ":lambda:" not in target["Arn"]]
    try:
        _send_to_targets(self, original_event, transform_input)
    finally:
        self.targets = targets


Rule.send_to_targets = _send_to_targets_moto_supports

_set_queue_attributes = Queue._set_attributes


def _set_queue_attributes_keeping_policy(self, attributes, now=None):
    policy = getattr(self, "policy", None)
    _set_queue_attributes(self, attributes, now)
    if "Policy" not in attributes:
        self.policy = policy


Queue._set_attributes = _set_queue_attributes_keeping_policy
