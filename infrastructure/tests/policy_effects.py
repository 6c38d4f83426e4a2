#!/usr/bin/env python3
"""States the intended effect of every policy Terraform renders, per principal and
request, and checks it with an IAM policy evaluator: Principal Mapper's local policy
simulation (principalmapper.querying), which evaluates identity policies, resource
policies, explicit denies and the condition operators we use (String*, Arn*, Null,
ForAnyValue:) against a request context.

    policy_effects.py [--exempt-filtered] APP_STATE.json NETWORK_STATE.json
                                         (terraform show -json of each)

--exempt-filtered: the app was applied with exempt_filtered_objects_from_protection, so the
keys scan_filters excludes (by prefix or suffix) on the protected bucket must be readable
without a CLEAN tag, and nothing else.

What the evaluator cannot know, the test states: which condition keys S3 and KMS put in a
request's context (taken from the Service Authorization Reference: for example
s3:ExistingObjectTag/<key> is absent from GetObjectVersionForReplication, and
s3:RequestObjectTagKeys is present on PutObject with x-amz-tagging), and that a request
through the VPC endpoint carries aws:SourceVpce. Requests through the S3 gateway endpoint
are evaluated against the endpoint policy too (allowed only if it allows and does not
deny). Run it with the Python that has principalmapper (scripts/setup.sh installs it in
its own virtual environment).
"""
import collections
import collections.abc
import json
import sys

# Principal Mapper 1.1.5 (its last release) imports these from collections, which Python
# 3.10 removed; they live in collections.abc.
collections.Mapping = collections.abc.Mapping
collections.MutableMapping = collections.abc.MutableMapping

from principalmapper.common import Node, Policy  # noqa: E402
from principalmapper.querying.local_policy_simulation import resource_policy_matching_statements  # noqa: E402
from principalmapper.querying.query_interface import local_check_authorization_full  # noqa: E402

failures = []


def check(condition, message):
    print(("  ok    " if condition else "  FAIL  ") + message)
    if not condition:
        failures.append(message)


def resources(path):
    with open(path) as file:
        state = json.load(file)

    def walk(module):
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    return {r["address"]: r["values"] for r in walk(state["values"]["root_module"]) if r["mode"] == "managed"}


def role(arn, *documents):
    name = arn.rsplit("/", 1)[1]
    policies = [Policy(arn, f"{name}-{index}", document) for index, document in enumerate(documents)]
    return Node(arn, "AROA" + name.upper().replace("-", "")[:17], policies, [], {"Version": "2012-10-17", "Statement": []},
                None, 0, False, False, None, False, {})


class World:
    """The rendered policies and the principals of the applied stack."""

    def __init__(self, app, network):
        self.account = app["module.scanner.aws_iam_role.this"]["arn"].split(":")[4]
        self.scanner = role(app["module.scanner.aws_iam_role.this"]["arn"],
                            json.loads(app["module.scanner.aws_iam_role_policy.this"]["policy"]))
        self.updater = role(app["module.updater.aws_iam_role.this"]["arn"],
                            json.loads(app["module.updater.aws_iam_role_policy.this"]["policy"]))
        self.worker = None
        if "aws_iam_role.worker_task[0]" in app:
            self.worker = role(app["aws_iam_role.worker_task[0]"]["arn"], json.loads(app["aws_iam_role_policy.worker_task[0]"]["policy"]))
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                                                             {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
        # Principals with every S3 right in their identity policy: only a bucket policy can stop them.
        self.uploader = role(f"arn:aws:iam::{self.account}:role/uploader", everything)
        self.operator = role(f"arn:aws:iam::{self.account}:role/operator-with-s3-star", everything)
        self.stranger = role("arn:aws:iam::210987654321:role/another-account", everything)
        self.bucket_policies = {values["bucket"]: json.loads(values["policy"]) for address, values in app.items()
                                if address.endswith("aws_s3_bucket_policy.this") or address.startswith("aws_s3_bucket_policy.scanned")}
        self.endpoint_id = network["aws_vpc_endpoint.s3"]["id"]
        self.endpoint_policy = json.loads(network["aws_vpc_endpoint.s3"]["policy"])

    def allowed(self, principal, action, resource, context=None, through_endpoint=False):
        context = {"aws:PrincipalArn": principal.arn, "aws:PrincipalAccount": principal.arn.split(":")[4],
                   "aws:SecureTransport": "true", **(context or {})}
        if through_endpoint:
            context["aws:SourceVpce"] = self.endpoint_id
        bucket = resource.split(":::", 1)[1].split("/", 1)[0] if resource.startswith("arn:aws:s3:::") else None
        policy = self.bucket_policies.get(bucket)
        decision = local_check_authorization_full(principal, action, resource, context, policy,
                                                  self.account if policy else None)
        if through_endpoint:
            statements = resource_policy_matching_statements(principal, self.endpoint_policy, action, resource, context)
            decision = decision and any(s["Effect"] == "Allow" for s in statements) and not any(s["Effect"] == "Deny" for s in statements)
        return decision


def expect(world, effect, who, principal, action, resource, context=None, through_endpoint=False, why=""):
    if principal is None:
        return
    decision = world.allowed(principal, action, resource, context, through_endpoint)
    path = " through the VPC endpoint" if through_endpoint else ""
    check(decision == (effect == "allow"),
          f"{who} {'may' if effect == 'allow' else 'may not'} {action} {resource}{path}{' (' + why + ')' if why else ''}")


def tags(**values):
    return {f"s3:ExistingObjectTag/{key.replace('_', '-')}": value for key, value in values.items()}


def main():
    arguments = sys.argv[1:]
    exempt_filtered = arguments[:1] == ["--exempt-filtered"]
    arguments = arguments[1:] if exempt_filtered else arguments
    if len(arguments) != 2:
        raise SystemExit(__doc__)
    app, network = resources(arguments[0]), resources(arguments[1])
    world = World(app, network)
    scanner_environment = app["module.scanner.aws_lambda_function.this"]["environment"][0]["variables"]
    keys = [scanner_environment[name] for name in sorted(scanner_environment) if name.startswith("TAG_KEY_")]
    status = scanner_environment["TAG_KEY_STATUS"]
    definitions = scanner_environment["DEFINITIONS_BUCKET"]
    prefix = scanner_environment["DEFINITIONS_PREFIX"]
    quarantine = scanner_environment.get("QUARANTINE_BUCKET")
    protected = [values["bucket"] for address, values in app.items() if address.startswith("aws_s3_bucket_policy.scanned")]
    if not protected:
        raise SystemExit("policy_effects: the state has no protected scanned bucket (deny_unscanned_downloads)")
    uploads = protected[0]
    obj = f"arn:aws:s3:::{uploads}/incoming/report.pdf"
    scanners = [("the scanner", world.scanner), ("the ECS worker", world.worker)]

    print(f"protected bucket {uploads}: downloads")
    for verdict in (None, "INFECTED", "UNSCANNABLE", "ERROR", "BLOCKED", "clean"):
        context = {} if verdict is None else {f"s3:ExistingObjectTag/{status}": verdict}
        for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"):
            expect(world, "deny", "an uploader", world.uploader, action, obj, context, why=f"{status}={verdict}")
    for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"):
        expect(world, "allow", "an uploader", world.uploader, action, obj, {f"s3:ExistingObjectTag/{status}": "CLEAN"}, why=f"{status}=CLEAN")
    # No object tag is in the context of these reads, so no CLEAN test can let them through.
    for action in ("s3:GetObjectVersionForReplication", "s3:GetObjectTorrent"):
        expect(world, "deny", "an uploader (or a replication role)", world.uploader, action, obj, why="its context carries no tags")
    for who, principal in scanners:
        expect(world, "allow", who, principal, "s3:GetObject", obj, through_endpoint=True, why="not yet scanned")
        expect(world, "allow", who, principal, "s3:GetObjectVersion", obj, tags(scan_status="INFECTED"), through_endpoint=True)
    expect(world, "deny", "the updater", world.updater, "s3:GetObject", obj, {f"s3:ExistingObjectTag/{status}": "CLEAN"}, why="no grant")

    # Keys the scanner skips (SCAN_FILTERS) never get a verdict.
    filters = json.loads(scanner_environment.get("SCAN_FILTERS", "{}")).get(uploads, {})
    excluded = [f"{p}report.pdf" for p in filters.get("exclude_prefixes", [])] + [f"incoming/report{s}" for s in filters.get("exclude_suffixes", [])]
    if exempt_filtered and not excluded:
        raise SystemExit(f"policy_effects: --exempt-filtered, but scan_filters excludes no key of {uploads}")
    for key in excluded:
        skipped = f"arn:aws:s3:::{uploads}/{key}"
        expect(world, "allow" if exempt_filtered else "deny", "an uploader", world.uploader, "s3:GetObject", skipped,
               why="scan_filters skips it: it will never be tagged" + (" (exempt_filtered_objects_from_protection)" if exempt_filtered else ""))
        expect(world, "deny", "an uploader", world.uploader, "s3:PutObjectTagging", skipped, {"s3:RequestObjectTagKeys": [status]},
               why="no scan tag may be forged on a skipped object either")
    if excluded:
        expect(world, "deny", "an uploader", world.uploader, "s3:GetObject", f"arn:aws:s3:::{uploads}/incoming/report.pdf.txt",
               why="a key no filter excludes stays protected")

    print(f"protected bucket {uploads}: scan tags")
    expect(world, "allow", "an uploader", world.uploader, "s3:PutObject", obj, why="no tags")
    expect(world, "allow", "an uploader", world.uploader, "s3:PutObject", obj, {"s3:RequestObjectTagKeys": ["owner"]}, why="its own tag")
    for key in keys:
        expect(world, "deny", "an uploader", world.uploader, "s3:PutObject", obj, {"s3:RequestObjectTagKeys": ["owner", key]}, why=f"upload tagged {key}")
        expect(world, "deny", "an uploader", world.uploader, "s3:PutObjectTagging", obj, {"s3:RequestObjectTagKeys": [key]}, why=f"writes {key}")
        expect(world, "deny", "an uploader", world.uploader, "s3:PutObjectVersionTagging", obj, {"s3:RequestObjectTagKeys": [key]}, why=f"writes {key}")
        existing = {f"s3:ExistingObjectTag/{key}": "x"}
        expect(world, "deny", "an uploader", world.uploader, "s3:PutObjectTagging", obj, {**existing, "s3:RequestObjectTagKeys": ["owner"]},
               why=f"the object carries {key}: replacing the tag set would remove it")
        expect(world, "deny", "an uploader", world.uploader, "s3:DeleteObjectTagging", obj, existing, why=f"the object carries {key}")
        expect(world, "deny", "an uploader", world.uploader, "s3:DeleteObjectVersionTagging", obj, existing, why=f"the object carries {key}")
    expect(world, "allow", "an uploader", world.uploader, "s3:PutObjectTagging", obj, {"s3:RequestObjectTagKeys": ["owner"]}, why="no scan tag involved")
    expect(world, "allow", "an uploader", world.uploader, "s3:DeleteObjectTagging", obj, why="no scan tag on the object")
    expect(world, "deny", "an uploader", world.uploader, "s3:PutObject", obj, {"s3:x-amz-copy-source": "attacker-bucket/eicar.com"},
           why="a copy would carry the source's tags")
    expect(world, "deny", "a replication role", world.uploader, "s3:ReplicateTags", obj, why="replicas carry tags no condition can see")
    for who, principal in scanners:
        expect(world, "allow", who, principal, "s3:PutObjectTagging", obj, {**tags(scan_status="ERROR"), "s3:RequestObjectTagKeys": keys},
               through_endpoint=True, why="writes the verdict")
        expect(world, "allow", who, principal, "s3:DeleteObjectVersion", obj, through_endpoint=True, why="deletes an infected version")

    print("scanned objects outside the scanner's reach")
    for who, principal in scanners:
        expect(world, "deny", who, principal, "s3:GetObject", "arn:aws:s3:::some-other-bucket/x", why="not a scanned bucket")
        expect(world, "deny", who, principal, "s3:PutObject", obj, through_endpoint=True, why="the scanner never uploads")
    for address, values in app.items():
        if address.startswith("aws_s3_bucket_notification.") and values["bucket"] not in protected:
            other = values["bucket"]
            for who, principal in scanners:
                expect(world, "allow", who, principal, "s3:GetObject", f"arn:aws:s3:::{other}/incoming/x", through_endpoint=True)
                expect(world, "deny", who, principal, "s3:GetObject", f"arn:aws:s3:::{other}/elsewhere/x", why="outside the notification prefix")
                expect(world, "allow", who, principal, "s3:ListBucketVersions", f"arn:aws:s3:::{other}", {"s3:prefix": "incoming/x"}, through_endpoint=True)
                expect(world, "deny", who, principal, "s3:ListBucket", f"arn:aws:s3:::{other}", {"s3:prefix": "elsewhere/"}, why="outside the notification prefix")

    keys_arns = sorted({r for values in [json.loads(app["module.scanner.aws_iam_role_policy.this"]["policy"])]
                        for s in values["Statement"] if "kms:Decrypt" in s.get("Action", []) for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])})
    if keys_arns:
        print("customer-managed keys of the scanned buckets")
        key = keys_arns[0]
        region = key.split(":")[3]
        via_s3 = {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": obj}
        for who, principal in scanners:
            expect(world, "allow", who, principal, "kms:Decrypt", key, via_s3, why="S3 decrypts a scanned object")
            expect(world, "deny", who, principal, "kms:Decrypt", key, {"kms:EncryptionContext:aws:s3:arn": obj}, why="called directly, not through S3")
            expect(world, "deny", who, principal, "kms:Decrypt", key, {**via_s3, "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::some-other-bucket/x"},
                   why="an object of another bucket")
            expect(world, "deny", who, principal, "kms:GenerateDataKey", key, via_s3, why="writes nothing under the key")
            expect(world, "deny", who, principal, "kms:Decrypt", key.rsplit("/", 1)[0] + "/another-key", via_s3, why="not a listed key")

    print("queues")
    queues = {address: values["arn"] for address, values in app.items() if address.startswith("aws_sqs_queue.")}
    scan_queue, worker_queue = queues.get("aws_sqs_queue.scan[0]"), queues.get("aws_sqs_queue.worker[0]")
    if scan_queue:
        rescan = "RESCAN_BUCKETS" in scanner_environment
        expect(world, "allow" if rescan else "deny", "the scanner", world.scanner, "sqs:SendMessage", scan_queue,
               why="the rescan queues its listings and objects there" if rescan else "no rescan")
        expect(world, "allow", "the ECS worker", world.worker, "sqs:SendMessage", scan_queue, why="a backfill run as a one-off worker task")
        expect(world, "deny", "the updater", world.updater, "sqs:SendMessage", scan_queue)
    if worker_queue:
        expect(world, "allow", "the scanner", world.scanner, "sqs:SendMessage", worker_queue, why="forwards objects over its MAX_OBJECT_SIZE")
        expect(world, "deny", "the ECS worker", world.worker, "sqs:SendMessage", worker_queue, why="it is the last stop")
        expect(world, "deny", "the updater", world.updater, "sqs:SendMessage", worker_queue)
        expect(world, "deny", "the scanner", world.scanner, "sqs:ReceiveMessage", worker_queue, why="the worker's queue is the worker's")

    print(f"definitions bucket {definitions}")
    manifest = f"arn:aws:s3:::{definitions}/{prefix}manifest.json"
    for who, principal in scanners:
        expect(world, "allow", who, principal, "s3:GetObject", manifest, through_endpoint=True)
        expect(world, "deny", who, principal, "s3:GetObject", manifest, why="not through the VPC endpoint")
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"):
            expect(world, "deny", who, principal, action, f"arn:aws:s3:::{definitions}/{prefix}daily.cvd", through_endpoint=True)
    expect(world, "allow", "the updater", world.updater, "s3:GetObject", manifest, why="restores the previous database from outside the VPC")
    expect(world, "allow", "the updater", world.updater, "s3:PutObject", manifest)
    expect(world, "allow", "the updater", world.updater, "s3:AbortMultipartUpload", f"arn:aws:s3:::{definitions}/{prefix}main.cvd",
           why="a failed multipart upload of a database file")
    expect(world, "deny", "the updater", world.updater, "s3:PutObject", f"arn:aws:s3:::{definitions}/elsewhere/x", why="outside its prefix")
    expect(world, "deny", "an operator with s3:*", world.operator, "s3:GetObject", manifest, through_endpoint=True,
           why="the manifest carries the key of the scanner's proofs")
    expect(world, "deny", "an operator with s3:*", world.operator, "s3:PutObject", manifest, through_endpoint=True)
    expect(world, "deny", "an uploader", world.uploader, "s3:GetObject", manifest)
    expect(world, "deny", "anyone", world.updater, "s3:GetObject", manifest, {"aws:SecureTransport": "false"}, why="plain HTTP")

    if quarantine:
        print(f"quarantine bucket {quarantine}")
        copy = f"arn:aws:s3:::{quarantine}/{uploads}/x"
        for who, principal in scanners:
            expect(world, "allow", who, principal, "s3:PutObject", copy, through_endpoint=True)
            # Over 5 GiB the copy is a multipart upload: CreateMultipartUpload, UploadPartCopy
            # (s3:PutObject with the source in x-amz-copy-source, which must also be readable)
            # and CompleteMultipartUpload are s3:PutObject; a failed one is aborted.
            expect(world, "allow", who, principal, "s3:PutObject", copy, {"s3:x-amz-copy-source": f"{uploads}/incoming/report.pdf"},
                   through_endpoint=True, why="UploadPartCopy of a large object")
            expect(world, "allow", who, principal, "s3:AbortMultipartUpload", copy, through_endpoint=True, why="a failed multipart copy")
        expect(world, "deny", "an operator with s3:*", world.operator, "s3:PutObject", f"arn:aws:s3:::{quarantine}/x", why="only the scanner plants objects")

    print("S3 gateway endpoint")
    listed = network["aws_vpc_endpoint.s3"]
    endpoint_buckets = sorted({r.split(":::")[1].split("/")[0] for s in json.loads(listed["policy"])["Statement"] if s.get("Sid") == "OnlyThisSystemsBuckets"
                               for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])})
    check(definitions in endpoint_buckets and uploads in endpoint_buckets, f"the endpoint allows this system's buckets {endpoint_buckets}")
    for action in ("s3:GetObject", "s3:PutObject"):
        expect(world, "deny", "an operator with s3:*", world.operator, action, "arn:aws:s3:::exfiltration-bucket/x", through_endpoint=True,
               why="not one of this system's buckets")
    expect(world, "deny", "another account's principal", world.stranger, "s3:PutObject", f"arn:aws:s3:::{uploads}/x", through_endpoint=True,
           why="only this account's principals")
    expect(world, "deny", "an operator with s3:*", world.operator, "s3:DeleteBucket", f"arn:aws:s3:::{uploads}", through_endpoint=True,
           why="only the object actions the system uses")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
