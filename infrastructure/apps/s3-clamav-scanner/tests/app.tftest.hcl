# Logic of the app root that needs no AWS: variable validation, the IAM and bucket policy
# contents, and the optional features switched on and off. The network's state is
# replaced by fixed outputs. Run: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/test"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mocked"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:function:mocked"
    }
  }

  mock_resource "aws_cloudwatch_event_bus" {
    defaults = {
      arn = "arn:aws:events:eu-west-1:123456789012:event-bus/s3-clamav-scanner-test"
    }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:eu-west-1:123456789012:rule/mocked"
    }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mocked"
      id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/mocked"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::mocked"
    }
  }

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/mocked"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mocked"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mocked"
    }
  }
}

override_data {
  target = data.terraform_remote_state.network
  values = {
    outputs = {
      private_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
      scanner_security_group_id = "sg-0cccccccccccccccc"
      s3_endpoint_id            = "vpce-0ddddddddddddddddd"
      s3_endpoint_bucket_names  = ["defs", "quarantine", "uploads", "partner-drop"]
    }
  }
}

variables {
  environment             = "test"
  definitions_bucket_name = "defs"
  access_log_bucket_name  = "access-logs"
  scanned_buckets = {
    "uploads"      = { deny_unscanned_downloads = true }
    "partner-drop" = { filter_prefix = "incoming/" }
  }
  scanner_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/scanner:abc123"
  updater_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/definition-updater:abc123"
}

# --- Defaults: direct invocation, delete, no quarantine --------------------------------

run "defaults_direct_trigger" {
  command = apply

  assert {
    condition     = length(aws_sqs_queue.scan) == 0 && length(aws_lambda_event_source_mapping.scan_queue) == 0
    error_message = "No scan queue by default."
  }

  assert {
    condition     = toset(keys(aws_lambda_permission.s3)) == toset(["uploads", "partner-drop"]) && aws_lambda_permission.s3["uploads"].source_arn == "arn:aws:s3:::uploads" && aws_lambda_permission.s3["uploads"].source_account == "123456789012"
    error_message = "Each scanned bucket (and only it, from this account) may invoke the scanner."
  }

  assert {
    condition     = length(aws_s3_bucket_notification.scanned["partner-drop"].lambda_function) == 1 && one(aws_s3_bucket_notification.scanned["partner-drop"].lambda_function).filter_prefix == "incoming/" && length(aws_s3_bucket_notification.scanned["partner-drop"].queue) == 0
    error_message = "The notification invokes the scanner directly, with the bucket's prefix filter."
  }

  assert {
    condition     = length(module.quarantine_bucket) == 0 && !contains(keys(output.scanner_environment), "QUARANTINE_BUCKET")
    error_message = "No quarantine bucket unless asked for."
  }

  assert {
    condition = output.scanner_environment == {
      DEFINITIONS_BUCKET         = "defs"
      DEFINITIONS_PREFIX         = "clamav/"
      EVENT_BUS_NAME             = "s3-clamav-scanner-test"
      INFECTED_ACTION            = "delete"
      MAX_OBJECT_SIZE            = "2147483648"
      PUBLISH_CLEAN_RESULTS      = "true"
      DEFINITIONS_CHECK_INTERVAL = "300"
      MAX_DEFINITIONS_AGE        = "48"
    }
    error_message = "Scanner environment does not match DESIGN.md's defaults."
  }

  assert {
    condition = output.updater_environment == {
      DEFINITIONS_BUCKET        = "defs"
      DEFINITIONS_PREFIX        = "clamav/"
      EVENT_BUS_NAME            = "s3-clamav-scanner-test"
      CLAMAV_OFFICIAL_DATABASES = "true"
      MIN_UPDATE_INTERVAL       = "3600"
    }
    error_message = "Updater environment: empty mirror lists must be left out."
  }

  assert {
    condition     = length(aws_lambda_invocation.updater_on_deploy) == 1 && aws_lambda_invocation.updater_on_deploy[0].triggers.image_uri == var.updater_image_uri
    error_message = "The updater runs at deploy time, again whenever its image changes."
  }

  assert {
    condition     = aws_cloudwatch_event_target.updater_schedule.arn == module.updater.function_arn && aws_cloudwatch_event_rule.updater_schedule.schedule_expression == "cron(17 3 * * ? *)"
    error_message = "The daily schedule targets the updater."
  }
}

run "scanner_policy_is_scoped" {
  command = apply

  assert {
    condition = toset([for s in data.aws_iam_policy_document.scanner.statement : s.sid]) == toset([
      "ScanObjectsInScannedBuckets", "ReadDefinitions", "ListDefinitions", "PublishScanEvents",
    ])
    error_message = "Unexpected scanner statements (quarantine and SQS are off by default)."
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.scanner.statement : s.resources if s.sid == "ScanObjectsInScannedBuckets"]) == toset([
      "arn:aws:s3:::uploads/*", "arn:aws:s3:::partner-drop/incoming/*",
    ])
    error_message = "The scanner may touch only the scanned buckets' objects, under the notification prefix."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner.statement : s.resources if s.sid == "ReadDefinitions"]) == toset(["arn:aws:s3:::defs/clamav/*"]) && one([for s in data.aws_iam_policy_document.scanner.statement : s.actions if s.sid == "ReadDefinitions"]) == toset(["s3:GetObject"])
    error_message = "The scanner only reads the definitions, under the prefix."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.scanner.statement : !anytrue([for a in s.actions : can(regex("^s3:(Put|Delete)", a))]) if anytrue([for r in s.resources : startswith(r, "arn:aws:s3:::defs")])])
    error_message = "The scanner must not be able to write the definitions bucket."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner.statement : s.resources if s.sid == "PublishScanEvents"]) == toset(["arn:aws:events:eu-west-1:123456789012:event-bus/s3-clamav-scanner-test"])
    error_message = "The scanner publishes only to its bus."
  }
}

run "updater_policy_is_scoped" {
  command = apply

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.updater.statement : s.actions])) == toset(["s3:GetObject", "s3:PutObject", "s3:ListBucket", "events:PutEvents"])
    error_message = "The updater needs Get/Put/List on the definitions and PutEvents, nothing else."
  }

  assert {
    condition     = alltrue([for r in flatten([for s in data.aws_iam_policy_document.updater.statement : s.resources]) : startswith(r, "arn:aws:s3:::defs") || startswith(r, "arn:aws:events:")])
    error_message = "The updater touches only the definitions bucket and the bus."
  }
}

run "definitions_bucket_policy" {
  command = apply

  assert {
    condition     = one(flatten([for s in data.aws_iam_policy_document.definitions_bucket.statement : [for c in s.condition : c.values if c.variable == "aws:SourceVpce"]])) == "vpce-0ddddddddddddddddd"
    error_message = "Reads must be denied outside the network's S3 endpoint."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.definitions_bucket.statement : s.effect == "Deny"])
    error_message = "The definitions bucket policy only denies (grants come from IAM)."
  }

  assert {
    condition     = flatten([for s in data.aws_iam_policy_document.definitions_bucket.statement : [for c in s.condition : c.values if c.variable == "aws:PrincipalArn"] if s.sid == "DenyWritesExceptByTheUpdater"]) == [module.updater.role_arn]
    error_message = "Only the updater's role may write the definitions."
  }
}

run "download_protection_only_where_asked" {
  command = apply

  assert {
    condition     = toset(keys(aws_s3_bucket_policy.scanned)) == toset(["uploads"])
    error_message = "Only buckets with deny_unscanned_downloads get the policy."
  }

  assert {
    condition     = toset(flatten([for c in one(data.aws_iam_policy_document.scanned_bucket["uploads"].statement).condition : c.variable])) == toset(["s3:ExistingObjectTag/scan-status", "aws:PrincipalArn"])
    error_message = "The download deny must test the scan-status tag and exempt the scanner."
  }

  assert {
    condition     = one([for c in one(data.aws_iam_policy_document.scanned_bucket["uploads"].statement).condition : c.values if c.variable == "aws:PrincipalArn"]) == tolist([module.scanner.role_arn])
    error_message = "The scanner's role must be exempt from the download deny."
  }
}

run "event_rules" {
  command = apply

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["infected"].event_pattern).detail.verdict == ["INFECTED"]
    error_message = "The infected rule matches detail.verdict INFECTED."
  }

  assert {
    condition     = toset(jsondecode(aws_cloudwatch_event_rule.this["failures"].event_pattern)["detail-type"]) == toset(["Object Scan Failed", "Definitions Update Failed", "Definitions Stale"])
    error_message = "The failures rule matches the three failure detail-types."
  }

  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.events_queue : t.arn == aws_sqs_queue.events.arn])
    error_message = "Every rule keeps its events in the events queue."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.definitions_stale.threshold == 48 && aws_cloudwatch_metric_alarm.definitions_stale.namespace == "S3ClamAVScanner"
    error_message = "The stale alarm fires above MAX_DEFINITIONS_AGE."
  }
}

# --- Options switched on ---------------------------------------------------------------

run "sqs_trigger" {
  command = apply

  variables {
    scan_trigger = "sqs"
  }

  assert {
    condition     = length(aws_sqs_queue.scan) == 1 && length(aws_lambda_event_source_mapping.scan_queue) == 1 && length(aws_lambda_permission.s3) == 0
    error_message = "sqs puts a queue between S3 and the scanner instead of direct invocation."
  }

  assert {
    condition     = aws_sqs_queue.scan[0].visibility_timeout_seconds == 1800
    error_message = "Visibility timeout is six times the scanner timeout."
  }

  assert {
    condition     = length(aws_s3_bucket_notification.scanned["uploads"].queue) == 1 && length(aws_s3_bucket_notification.scanned["uploads"].lambda_function) == 0
    error_message = "Notifications go to the queue."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.scanner.statement : s.sid], "ConsumeScanQueue") && one([for s in data.aws_iam_policy_document.scanner.statement : s.resources if s.sid == "ConsumeScanQueue"]) == toset([aws_sqs_queue.scan[0].arn])
    error_message = "The scanner may consume only its queue."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.scan_redrive) == 1
    error_message = "The redrive queue is watched."
  }
}

run "quarantine" {
  command = apply

  variables {
    infected_action        = "quarantine"
    quarantine_bucket_name = "quarantine"
  }

  assert {
    condition     = length(module.quarantine_bucket) == 1 && output.scanner_environment.QUARANTINE_BUCKET == "quarantine" && output.scanner_environment.INFECTED_ACTION == "quarantine"
    error_message = "Quarantine creates the bucket and tells the scanner."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner.statement : s.resources if s.sid == "PutIntoQuarantine"]) == toset(["arn:aws:s3:::quarantine/*"])
    error_message = "The scanner may put into the quarantine bucket."
  }
}

run "no_deploy_time_invocation" {
  command = plan

  variables {
    invoke_updater_on_deploy = false
  }

  assert {
    condition     = length(aws_lambda_invocation.updater_on_deploy) == 0
    error_message = "The deploy-time invocation can be switched off."
  }
}

run "private_mirrors_are_passed_comma_separated" {
  command = plan

  variables {
    clamav_official_databases = false
    clamav_private_mirrors    = ["https://mirror-a.example.com", "https://mirror-b.example.com"]
    clamav_custom_urls        = ["https://sigs.example.com/custom.ndb"]
  }

  assert {
    condition     = output.updater_environment.CLAMAV_PRIVATE_MIRRORS == "https://mirror-a.example.com,https://mirror-b.example.com" && output.updater_environment.CLAMAV_OFFICIAL_DATABASES == "false"
    error_message = "Mirror lists become comma-separated variables."
  }
}

# --- Validation ------------------------------------------------------------------------

run "bucket_missing_from_the_endpoint_policy" {
  command = plan

  variables {
    scanned_buckets = { "not-in-endpoint" = {} }
  }

  expect_failures = [data.aws_iam_policy_document.scanner]
}

run "rejects_quarantine_without_bucket" {
  command = plan

  variables {
    infected_action = "quarantine"
  }

  expect_failures = [var.infected_action]
}

run "rejects_unknown_action" {
  command = plan

  variables {
    infected_action = "ignore"
  }

  expect_failures = [var.infected_action]
}

run "rejects_objects_larger_than_tmp" {
  command = plan

  variables {
    scanner_ephemeral_storage_mb = 2048
    max_object_size_bytes        = 2147483648
  }

  expect_failures = [var.max_object_size_bytes]
}

run "rejects_too_little_memory" {
  command = plan

  variables {
    scanner_memory_mb = 1024
  }

  expect_failures = [var.scanner_memory_mb]
}

run "rejects_no_scanned_bucket" {
  command = plan

  variables {
    scanned_buckets = {}
  }

  expect_failures = [var.scanned_buckets]
}

run "rejects_invalid_bucket_name" {
  command = plan

  variables {
    scanned_buckets = { "Uploads_Bucket" = {} }
  }

  expect_failures = [var.scanned_buckets]
}

run "rejects_update_interval_under_an_hour" {
  command = plan

  variables {
    min_update_interval_seconds = 600
  }

  expect_failures = [var.min_update_interval_seconds]
}

run "rejects_no_databases_at_all" {
  command = plan

  variables {
    clamav_official_databases = false
  }

  expect_failures = [var.clamav_custom_urls]
}

run "rejects_image_without_tag" {
  command = plan

  variables {
    scanner_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/scanner"
  }

  expect_failures = [var.scanner_image_uri]
}

run "rejects_prefix_without_slash" {
  command = plan

  variables {
    definitions_prefix = "clamav"
  }

  expect_failures = [var.definitions_prefix]
}

run "rejects_unknown_trigger" {
  command = plan

  variables {
    scan_trigger = "sns"
  }

  expect_failures = [var.scan_trigger]
}

run "rejects_unknown_network_backend" {
  command = plan

  variables {
    network_state = { backend = "consul", config = {} }
  }

  expect_failures = [var.network_state]
}
