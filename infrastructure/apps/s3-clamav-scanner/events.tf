# The custom bus both functions publish to (and the on-failure destination of their
# asynchronous invocations), with rules that keep failures and infected, unscannable and
# blocked objects in a queue for an operator or a downstream consumer.

resource "aws_cloudwatch_event_bus" "this" {
  name = local.prefix
}

locals {
  # Every rule keeps its events in the events queue; those in alarmed_event_rules also
  # raise an alarm (alarms.tf).
  event_rules = {
    scan-failures = {
      description = "Scans that ended in ERROR or were malformed, and stale definitions"
      pattern = {
        source      = [local.event_source]
        detail-type = ["Object Scan Failed", "Definitions Stale"]
      }
    }
    # COOLDOWN (the mirror's cool-down) and TOO_SOON (within MIN_UPDATE_INTERVAL) are runs
    # that were not attempted: harmless, and frequent while a cool-down lasts.
    update-failures = {
      description = "Definition updates that failed (not the skipped COOLDOWN and TOO_SOON runs)"
      pattern = {
        source      = [local.event_source]
        detail-type = ["Definitions Update Failed"]
        detail      = { reason = [{ anything-but = ["COOLDOWN", "TOO_SOON"] }] }
      }
    }
    infected = {
      description = "Infected objects"
      pattern = {
        source      = [local.event_source]
        detail-type = ["Object Scan Result"]
        detail      = { verdict = ["INFECTED"] }
      }
    }
    # Objects that could not be scanned completely (too large, encrypted archives, limits):
    # how an evasion attempt shows.
    unscannable = {
      description = "Objects that could not be scanned completely"
      pattern = {
        source      = [local.event_source]
        detail-type = ["Object Scan Result"]
        detail      = { verdict = ["UNSCANNABLE"] }
      }
    }
    # Clean objects whose detected file type file_type_policy does not allow: a policy
    # outcome, not a fault (no alarm), kept apart from UNSCANNABLE so that a consumer can,
    # for example, tell the uploader which types are accepted.
    blocked = {
      description = "Objects of a file type the file-type policy does not allow"
      pattern = {
        source      = [local.event_source]
        detail-type = ["Object Scan Result"]
        detail      = { verdict = ["BLOCKED"] }
      }
    }
    # What Lambda sends to the on-failure destination when an asynchronous invocation
    # failed all its retries (or expired): the backstop when a function could not even
    # publish its own failure event.
    invocation-failures = {
      description = "Asynchronous invocations of the functions that failed all retries"
      pattern = {
        source      = ["lambda"]
        detail-type = ["Lambda Function Invocation Result - Failure"]
      }
    }
  }

  alarmed_event_rules = ["scan-failures", "update-failures", "invocation-failures"]
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.event_rules

  name           = "${local.prefix}-${each.key}"
  description    = each.value.description
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = jsonencode(each.value.pattern)
}

resource "aws_sqs_queue" "events" {
  name                      = "${local.prefix}-events"
  message_retention_seconds = 1209600 # 14 days, the maximum
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "events_queue" {
  statement {
    sid       = "EventBridgeRulesOfThisSystem"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in aws_cloudwatch_event_rule.this : rule.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.events_queue.json
}

resource "aws_cloudwatch_event_target" "events_queue" {
  for_each = local.event_rules

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = "keep-in-queue"
  arn            = aws_sqs_queue.events.arn
}
