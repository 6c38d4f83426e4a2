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

  # Every scanned bucket is versioned unless a run says otherwise.
  mock_data "aws_cloudcontrolapi_resource" {
    defaults = {
      properties = "{\"BucketName\":\"mocked\",\"VersioningConfiguration\":{\"Status\":\"Enabled\"}}"
    }
  }

  mock_resource "aws_ecs_cluster" {
    defaults = {
      arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/mocked"
    }
  }

  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mocked:1"
    }
  }

  mock_resource "aws_appautoscaling_policy" {
    defaults = {
      arn = "arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:00000000-0000-0000-0000-000000000000:resource/ecs/service/mocked:policyName/mocked"
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
      interface_endpoint_ids    = { events = "vpce-0eeeeeeeeeeeeeeee" }
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
      BLOCKED_ACTION             = "tag"
      PUBLISH_CLEAN_RESULTS      = "true"
      DEFINITIONS_CHECK_INTERVAL = "300"
      MAX_DEFINITIONS_AGE        = "48"
      TAG_KEY_STATUS             = "scan-status"
      TAG_KEY_SIGNATURE          = "scan-signature"
      TAG_KEY_TIME               = "scan-time"
      TAG_KEY_DEFINITIONS        = "scan-definitions"
      TAG_KEY_PROOF              = "scan-proof"
      TAG_KEY_FILE_TYPE          = "scan-file-type"
      SCAN_CONCURRENCY           = "1"
      MAX_OBJECT_SIZE            = "2000000000"
      MAX_SCAN_SIZE              = "2000000000"
      MAX_SCAN_TIME              = "120000"
    }
    error_message = "Scanner environment does not match the executables' defaults (SERVICE_NAME stays unset in Lambda)."
  }

  assert {
    condition     = module.scanner.function_name == "s3-clamav-scanner-test-scanner" && length(aws_ecs_service.worker) == 0 && !contains(keys(output.scanner_environment), "LARGE_OBJECT_QUEUE_URL") && length([for s in data.aws_iam_policy_document.scanner.statement : s if s.sid == "ForwardLargeObjects"]) == 0
    error_message = "No worker and no forwarding of large objects by default."
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
    condition = toset([for s in data.aws_iam_policy_document.scanner_common.statement : s.sid]) == toset([
      "ScanObjectsInScannedBuckets", "ListScannedObjects0", "ListScannedObjects1", "ReadDefinitions", "ListDefinitions", "PublishScanEvents",
    ]) && length(data.aws_iam_policy_document.scanner.statement) == 0
    error_message = "Unexpected scanner statements (quarantine, KMS and SQS are off by default)."
  }

  assert {
    condition     = data.aws_iam_policy_document.scanner.source_policy_documents == tolist([data.aws_iam_policy_document.scanner_common.json])
    error_message = "The Lambda scanner's policy builds on the common scanner policy."
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.scanner_common.statement : s.resources if s.sid == "ScanObjectsInScannedBuckets"]) == toset([
      "arn:aws:s3:::uploads/*", "arn:aws:s3:::partner-drop/incoming/*",
    ])
    error_message = "The scanner may touch only the scanned buckets' objects, under the notification prefix."
  }

  # 404 instead of 403 for an object deleted before its scan, within the scanned prefixes.
  assert {
    condition = toset([for s in data.aws_iam_policy_document.scanner_common.statement : jsonencode({
      actions   = s.actions
      resources = s.resources
      prefixes  = flatten([for c in s.condition : c.values if c.variable == "s3:prefix" && c.test == "StringLike"])
      }) if startswith(s.sid, "ListScannedObjects")]) == toset([
      jsonencode({ actions = ["s3:ListBucket", "s3:ListBucketVersions"], resources = ["arn:aws:s3:::uploads"], prefixes = [] }),
      jsonencode({ actions = ["s3:ListBucket", "s3:ListBucketVersions"], resources = ["arn:aws:s3:::partner-drop"], prefixes = ["incoming/*"] }),
    ])
    error_message = "The scanner lists a whole bucket without a notification prefix and only the prefix of the others."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner_common.statement : s.resources if s.sid == "ReadDefinitions"]) == toset(["arn:aws:s3:::defs/clamav/*"]) && one([for s in data.aws_iam_policy_document.scanner_common.statement : s.actions if s.sid == "ReadDefinitions"]) == toset(["s3:GetObject"])
    error_message = "The scanner only reads the definitions, under the prefix."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.scanner_common.statement : !anytrue([for a in s.actions : can(regex("^s3:(Put|Delete)", a))]) if anytrue([for r in s.resources : startswith(r, "arn:aws:s3:::defs")])])
    error_message = "The scanner must not be able to write the definitions bucket."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner_common.statement : s.resources if s.sid == "PublishScanEvents"]) == toset(["arn:aws:events:eu-west-1:123456789012:event-bus/s3-clamav-scanner-test"])
    error_message = "The scanner publishes only to its bus."
  }
}

run "kms_keys_of_scanned_buckets" {
  command = apply

  variables {
    scanned_bucket_kms_key_arns = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.scanner_common.statement : jsonencode({
      actions   = s.actions
      resources = s.resources
    }) if s.sid == "DecryptScannedObjects"]) == jsonencode({ actions = ["kms:Decrypt"], resources = ["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"] })
    error_message = "The scanner may decrypt with exactly the listed keys (nothing else: it writes no object data under them)."
  }

  assert {
    condition     = flatten([for s in data.aws_iam_policy_document.scanner_common.statement : [for c in s.condition : c.values if c.variable == "kms:ViaService"] if s.sid == "DecryptScannedObjects"]) == ["s3.eu-west-1.amazonaws.com"]
    error_message = "The keys may be used only through S3."
  }

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.scanner_common.statement : [for c in s.condition : c.values if c.variable == "kms:EncryptionContext:aws:s3:arn"] if s.sid == "DecryptScannedObjects"])) == toset([
      "arn:aws:s3:::uploads", "arn:aws:s3:::partner-drop", "arn:aws:s3:::uploads/*", "arn:aws:s3:::partner-drop/incoming/*",
    ])
    error_message = "The keys decrypt only objects of the scanned buckets (object ARN, or bucket ARN with an S3 Bucket Key)."
  }
}

run "rejects_a_kms_alias" {
  command = plan

  variables {
    scanned_bucket_kms_key_arns = ["arn:aws:kms:eu-west-1:123456789012:alias/uploads"]
  }

  expect_failures = [var.scanned_bucket_kms_key_arns]
}

run "updater_policy_is_scoped" {
  command = apply

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.updater.statement : s.actions])) == toset(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket", "events:PutEvents"])
    error_message = "The updater needs Get/Put/List on the definitions (and to abort a failed multipart upload of a database file) and PutEvents, nothing else."
  }

  assert {
    condition     = alltrue([for r in flatten([for s in data.aws_iam_policy_document.updater.statement : s.resources]) : startswith(r, "arn:aws:s3:::defs") || startswith(r, "arn:aws:events:")])
    error_message = "The updater touches only the definitions bucket and the bus."
  }
}

run "definitions_bucket_policy" {
  command = apply

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.definitions_bucket.statement : [for c in s.condition : c.values if c.variable == "aws:PrincipalArn"] if s.sid == "DenyReadsExceptByTheScannerAndTheUpdater"])) == toset([module.scanner.role_arn, module.updater.role_arn])
    error_message = "Only the scanner and the updater (and admins) may read the definitions: manifest.json carries the proof key."
  }

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
    condition = toset([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : s.sid]) == toset([
      "DenyDownloadsOfObjectsNotScannedClean", "DenyReadsThatCannotTestTheScanStatus", "DenyWritingScanTags",
      "DenyServerSideCopiesIn", "DenyReplicasIn",
      "DenyTagChangesOnObjectsWithStatusTag", "DenyTagChangesOnObjectsWithSignatureTag", "DenyTagChangesOnObjectsWithTimeTag",
      "DenyTagChangesOnObjectsWithDefinitionsTag", "DenyTagChangesOnObjectsWithProofTag", "DenyTagChangesOnObjectsWithFileTypeTag",
    ])
    error_message = "Unexpected statements in the scanned bucket's policy."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : s.effect == "Deny" && s.resources == toset(["arn:aws:s3:::uploads/*"]) && one([for c in s.condition : c.values if c.variable == "aws:PrincipalArn" && c.test == "ArnNotEquals"]) == tolist([module.scanner.role_arn])])
    error_message = "Every statement denies, on the scanned objects only, to everyone but the scanner's role."
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : jsonencode({
      actions   = s.actions
      condition = [for c in s.condition : [c.test, c.variable, c.values] if c.variable != "aws:PrincipalArn"]
      }) if s.sid == "DenyDownloadsOfObjectsNotScannedClean"]) == jsonencode({
      actions   = ["s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectVersion", "s3:GetObjectVersionAttributes"]
      condition = [["StringNotEquals", "s3:ExistingObjectTag/scan-status", ["CLEAN"]]]
    })
    error_message = "Downloads (and attributes) of objects not tagged CLEAN are denied."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : s.actions if s.sid == "DenyReadsThatCannotTestTheScanStatus"]) == toset(["s3:GetObjectVersionForReplication", "s3:GetObjectTorrent", "s3:GetObjectVersionTorrent"])
    error_message = "Replication and torrent reads carry no tags: denied outright."
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : jsonencode({
      actions   = s.actions
      condition = [for c in s.condition : [c.test, c.variable, c.values] if c.variable != "aws:PrincipalArn"]
      }) if s.sid == "DenyWritingScanTags"]) == jsonencode({
      actions   = ["s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
      condition = [["ForAnyValue:StringEquals", "s3:RequestObjectTagKeys", sort(["scan-status", "scan-signature", "scan-time", "scan-definitions", "scan-proof", "scan-file-type"])]]
    })
    error_message = "Uploads and tag writes that name any of the six scan tag keys are denied."
  }

  assert {
    condition = toset([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : jsonencode({
      actions   = s.actions
      condition = [for c in s.condition : [c.test, c.variable, c.values] if c.variable != "aws:PrincipalArn"]
      }) if startswith(s.sid, "DenyTagChangesOnObjectsWith")]) == toset([for key in ["scan-status", "scan-signature", "scan-time", "scan-definitions", "scan-proof", "scan-file-type"] : jsonencode({
      actions   = ["s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
      condition = [["Null", "s3:ExistingObjectTag/${key}", ["false"]]]
    })])
    error_message = "Tag writes and deletes on an object carrying any scan tag are denied, one statement per key."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : [for c in s.condition : [c.test, c.variable, c.values] if c.variable != "aws:PrincipalArn"] if s.sid == "DenyServerSideCopiesIn"]) == [["Null", "s3:x-amz-copy-source", tolist(["false"])]]
    error_message = "Server-side copies (which carry the source's tags) into the prefix are denied."
  }
}

run "custom_scan_tag_keys" {
  command = apply

  variables {
    scan_tag_keys = { status = "av-status", proof = "av-proof" }
  }

  assert {
    condition     = output.scanner_environment.TAG_KEY_STATUS == "av-status" && output.scanner_environment.TAG_KEY_PROOF == "av-proof" && output.scanner_environment.TAG_KEY_TIME == "scan-time"
    error_message = "The tag keys reach the scanner."
  }

  assert {
    condition     = one(flatten([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : [for c in s.condition : c.variable if c.test == "StringNotEquals"] if s.sid == "DenyDownloadsOfObjectsNotScannedClean"])) == "s3:ExistingObjectTag/av-status"
    error_message = "The download protection reads the configured status key."
  }

  assert {
    condition     = contains(flatten([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : [for c in s.condition : c.values if c.variable == "s3:RequestObjectTagKeys"] if s.sid == "DenyWritingScanTags"]), "av-proof")
    error_message = "The configured keys are protected."
  }
}

# --- File-type policy, filters, and what the protection exempts -------------------------

run "file_type_policy_and_scan_filters" {
  command = plan

  variables {
    file_type_policy = { "uploads/avatars/" = ["PNG", "JPEG"], "partner-drop" = ["PDF"] }
    blocked_action   = "delete"
    scan_filters = {
      "uploads"      = { exclude_prefixes = ["tmp/"], exclude_suffixes = [".part"], min_size = 1 }
      "partner-drop" = { include_suffixes = [".pdf", ".PDF"] }
    }
  }

  assert {
    condition     = output.scanner_environment.FILE_TYPE_POLICY == "partner-drop=PDF;uploads/avatars/=PNG,JPEG" && output.scanner_environment.BLOCKED_ACTION == "delete"
    error_message = "The file-type policy is rendered as BUCKET[/PREFIX]=TYPE,TYPE;..."
  }

  assert {
    condition = jsondecode(output.scanner_environment.SCAN_FILTERS) == {
      uploads        = { exclude_prefixes = ["tmp/"], exclude_suffixes = [".part"], min_size = 1 }
      "partner-drop" = { include_suffixes = [".pdf", ".PDF"] }
    }
    error_message = "The filters are rendered as JSON by bucket, without the fields left unset."
  }

  # Without the exemption the deny covers the notification's scope whatever the filters.
  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : s.resources if s.sid == "DenyDownloadsOfObjectsNotScannedClean"]) == toset(["arn:aws:s3:::uploads/*"])
    error_message = "Objects the filters exclude stay protected unless exempt_filtered_objects_from_protection is on."
  }
}

run "the_worker_applies_the_same_policy_and_filters" {
  command = plan

  variables {
    worker_enabled   = true
    file_type_policy = { "uploads" = ["PDF"] }
    scan_filters     = { "uploads" = { min_size = 1 } }
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        private_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaaa"]
        scanner_security_group_id = "sg-0cccccccccccccccc"
        s3_endpoint_id            = "vpce-0ddddddddddddddddd"
        s3_endpoint_bucket_names  = ["defs", "uploads", "partner-drop"]
        interface_endpoint_ids    = { events = "vpce-1", sqs = "vpce-2", "ecr.api" = "vpce-3", "ecr.dkr" = "vpce-4", logs = "vpce-5" }
      }
    }
  }

  assert {
    condition     = output.worker_environment.FILE_TYPE_POLICY == "uploads=PDF" && output.worker_environment.SCAN_FILTERS == "{\"uploads\":{\"min_size\":1}}" && output.worker_environment.BLOCKED_ACTION == "tag"
    error_message = "The worker blocks and filters like the Lambda scanner."
  }
}

run "exempts_excluded_keys_of_a_whole_protected_bucket" {
  command = plan

  variables {
    exempt_filtered_objects_from_protection = true
    scan_filters = {
      "uploads" = { exclude_prefixes = ["tmp/", "drafts/"], exclude_suffixes = [".part"], min_size = 1 }
    }
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : jsonencode({ resources = s.resources, not_resources = s.not_resources }) if s.sid == "DenyDownloadsOfObjectsNotScannedClean"]) == jsonencode({
      resources     = null
      not_resources = ["arn:aws:s3:::uploads/*.part", "arn:aws:s3:::uploads/drafts/*", "arn:aws:s3:::uploads/tmp/*"]
    })
    error_message = "The download deny covers every key but the excluded ones (NotResource)."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : s.resources if s.sid == "DenyWritingScanTags"]) == toset(["arn:aws:s3:::uploads/*"])
    error_message = "Only the download deny changes: nobody may write scan tags on excluded objects either."
  }
}

run "exempts_keys_outside_the_includes" {
  command = plan

  variables {
    exempt_filtered_objects_from_protection = true
    scanned_buckets = {
      "uploads"      = { filter_prefix = "in/", deny_unscanned_downloads = true }
      "partner-drop" = { filter_prefix = "ab", filter_suffix = "bc", deny_unscanned_downloads = true }
    }
    scan_filters = {
      "uploads" = { include_prefixes = ["in/docs/", "elsewhere/", "i"], include_suffixes = [".pdf"] }
    }
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : s.resources if s.sid == "DenyDownloadsOfObjectsNotScannedClean"]) == toset(["arn:aws:s3:::uploads/in/docs/*.pdf", "arn:aws:s3:::uploads/in/*.pdf"])
    error_message = "The deny covers the includes within the notification prefix (the longer of the two prefixes), nothing outside."
  }

  # A key that starts with "ab" and ends with "bc" may be "abc".
  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanned_bucket["partner-drop"].statement : s.resources if s.sid == "DenyDownloadsOfObjectsNotScannedClean"]) == toset(["arn:aws:s3:::partner-drop/ab*bc", "arn:aws:s3:::partner-drop/abc"])
    error_message = "Keys where the notification's prefix and suffix overlap are denied too."
  }
}

run "rejects_an_exemption_iam_cannot_express" {
  command = plan

  variables {
    exempt_filtered_objects_from_protection = true
    scanned_buckets = {
      "uploads" = { filter_prefix = "in/", deny_unscanned_downloads = true }
    }
    scan_filters = { "uploads" = { exclude_prefixes = ["in/tmp/"] } }
  }

  expect_failures = [var.exempt_filtered_objects_from_protection]
}

run "rejects_an_exemption_with_wildcards" {
  command = plan

  variables {
    exempt_filtered_objects_from_protection = true
    scan_filters                            = { "uploads" = { exclude_suffixes = ["*.tmp"] } }
  }

  expect_failures = [var.exempt_filtered_objects_from_protection]
}

run "rejects_includes_that_scan_nothing_under_the_prefix" {
  command = plan

  variables {
    exempt_filtered_objects_from_protection = true
    scanned_buckets = {
      "uploads" = { filter_prefix = "in/", deny_unscanned_downloads = true }
    }
    scan_filters = { "uploads" = { include_prefixes = ["out/"] } }
  }

  expect_failures = [var.exempt_filtered_objects_from_protection]
}

run "rejects_a_file_type_policy_for_an_unscanned_bucket" {
  command = plan

  variables {
    file_type_policy = { "elsewhere/images/" = ["PNG"] }
  }

  expect_failures = [var.file_type_policy]
}

run "rejects_a_bucket_named_twice_in_the_file_type_policy" {
  command = plan

  variables {
    file_type_policy = { "uploads" = ["PNG"], "uploads/" = ["PDF"] }
  }

  expect_failures = [var.file_type_policy]
}

run "rejects_a_file_type_that_is_no_type_name" {
  command = plan

  variables {
    file_type_policy = { "uploads" = ["image/png"] }
  }

  expect_failures = [var.file_type_policy]
}

run "rejects_blocked_quarantine_without_bucket" {
  command = plan

  variables {
    blocked_action = "quarantine"
  }

  expect_failures = [var.blocked_action]
}

run "rejects_an_unknown_blocked_action" {
  command = plan

  variables {
    blocked_action = "ignore"
  }

  expect_failures = [var.blocked_action]
}

run "rejects_filters_for_an_unscanned_bucket" {
  command = plan

  variables {
    scan_filters = { "elsewhere" = { min_size = 1 } }
  }

  expect_failures = [var.scan_filters]
}

run "rejects_an_empty_filter_prefix" {
  command = plan

  variables {
    scan_filters = { "uploads" = { exclude_prefixes = [""] } }
  }

  expect_failures = [var.scan_filters]
}

run "rejects_a_negative_min_size" {
  command = plan

  variables {
    scan_filters = { "uploads" = { min_size = -1 } }
  }

  expect_failures = [var.scan_filters]
}

run "rejects_duplicate_scan_tag_keys" {
  command = plan

  variables {
    scan_tag_keys = { status = "scan", time = "scan" }
  }

  expect_failures = [var.scan_tag_keys]
}

run "rejects_an_invalid_scan_tag_key" {
  command = plan

  variables {
    scan_tag_keys = { status = "scan*status" }
  }

  expect_failures = [var.scan_tag_keys]
}

run "event_rules" {
  command = apply

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["infected"].event_pattern).detail.verdict == ["INFECTED"] && jsondecode(aws_cloudwatch_event_rule.this["unscannable"].event_pattern).detail.verdict == ["UNSCANNABLE"] && jsondecode(aws_cloudwatch_event_rule.this["blocked"].event_pattern).detail.verdict == ["BLOCKED"]
    error_message = "The infected, unscannable and blocked rules match detail.verdict."
  }

  assert {
    condition     = toset(jsondecode(aws_cloudwatch_event_rule.this["scan-failures"].event_pattern)["detail-type"]) == toset(["Object Scan Failed", "Definitions Stale"])
    error_message = "The scan-failures rule matches failed scans and stale definitions."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["update-failures"].event_pattern).detail.reason == [{ "anything-but" = ["COOLDOWN", "TOO_SOON"] }]
    error_message = "Skipped updates (COOLDOWN, TOO_SOON) must not match the update-failures rule."
  }

  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.events_queue : t.arn == aws_sqs_queue.events.arn])
    error_message = "Every rule keeps its events in the events queue."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.failure_events)) == toset(["scan-failures", "update-failures", "invocation-failures"]) && aws_cloudwatch_metric_alarm.failure_events["update-failures"].dimensions.RuleName == aws_cloudwatch_event_rule.this["update-failures"].name
    error_message = "Each failure rule has a MatchedEvents alarm; infected, unscannable and blocked objects do not alarm."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_event_target.events_queue)) == toset(["scan-failures", "update-failures", "infected", "unscannable", "blocked", "invocation-failures"]) && length(one(data.aws_iam_policy_document.events_queue.statement).condition) == 1
    error_message = "Six rules keep their events in the events queue, whose policy names them."
  }
}

run "alarms_watch_the_metrics_the_scanner_emits" {
  command = apply

  assert {
    condition     = aws_cloudwatch_metric_alarm.scan_errors["scanner"].dimensions == tomap({ Service = "s3-clamav-scanner-test-scanner" }) && aws_cloudwatch_metric_alarm.scan_errors["scanner"].namespace == "S3ClamAVScanner"
    error_message = "ScanErrors is emitted with the dimension set [Service] (Service = the function name in Lambda)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.definitions_stale["scanner"].threshold == 48 && aws_cloudwatch_metric_alarm.definitions_stale["scanner"].dimensions == tomap({ Service = "s3-clamav-scanner-test-scanner" })
    error_message = "The stale alarm fires above MAX_DEFINITIONS_AGE, on the [Service] dimension set."
  }

  assert {
    condition = toset(flatten([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [for m in w.properties.metrics : "${m[0]}/${m[1]}"]])) == toset([
      "S3ClamAVScanner/ObjectsScanned", "S3ClamAVScanner/ScanDuration", "S3ClamAVScanner/BytesScanned",
      "S3ClamAVScanner/DefinitionsAgeHours", "AWS/SQS/ApproximateNumberOfMessagesVisible",
    ])
    error_message = "The dashboard shows verdicts, latency, bytes, definitions age and queue depth."
  }

  assert {
    condition     = [for m in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].properties.metrics : m[5]] == ["CLEAN", "INFECTED", "UNSCANNABLE", "BLOCKED", "ERROR"]
    error_message = "Objects by verdict shows every verdict, BLOCKED included."
  }
}

run "no_dashboard" {
  command = plan

  variables {
    dashboard_enabled = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0
    error_message = "The dashboard can be switched off."
  }
}

run "versioning_warns_about_an_unversioned_bucket" {
  command = plan

  override_data {
    target = data.aws_cloudcontrolapi_resource.scanned_bucket["partner-drop"]
    values = { properties = "{\"BucketName\":\"partner-drop\"}" }
  }

  expect_failures = [check.scanned_buckets_versioned]
}

run "versioning_refuses_an_unversioned_bucket_when_asked" {
  command = plan

  variables {
    scanned_bucket_versioning_check = "error"
  }

  override_data {
    target = data.aws_cloudcontrolapi_resource.scanned_bucket["partner-drop"]
    values = { properties = "{\"BucketName\":\"partner-drop\",\"VersioningConfiguration\":{\"Status\":\"Suspended\"}}" }
  }

  expect_failures = [data.aws_cloudcontrolapi_resource.scanned_bucket]
}

run "versioning_check_off" {
  command = plan

  variables {
    scanned_bucket_versioning_check = "off"
  }

  assert {
    condition     = length(data.aws_cloudcontrolapi_resource.scanned_bucket) == 0
    error_message = "With the check off, Terraform looks nothing up (emulators without Cloud Control)."
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
    condition     = aws_lambda_event_source_mapping.scan_queue[0].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "Without ReportBatchItemFailures Lambda deletes the messages of failed records."
  }

  assert {
    condition     = one(aws_lambda_event_source_mapping.scan_queue[0].scaling_config).maximum_concurrency == 20
    error_message = "The mapping's maximum concurrency matches the reserved concurrency."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.scan[0].redrive_policy).maxReceiveCount == 5
    error_message = "A message is received 5 times before it is given up."
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
    condition     = toset(keys(aws_cloudwatch_metric_alarm.redrive)) == toset(["scan"])
    error_message = "The redrive queue is watched."
  }

  assert {
    condition     = output.scanner_environment.SCAN_QUEUE_URL == aws_sqs_queue.scan[0].id && !contains(keys(output.scanner_environment), "RESCAN_BUCKETS") && length(aws_cloudwatch_event_rule.rescan) == 0 && !contains([for s in data.aws_iam_policy_document.scanner.statement : s.sid], "QueueRescans")
    error_message = "SCAN_QUEUE_URL names the scan queue (the default of `scanner enqueue`); no rescan unless asked for."
  }
}

run "rescan_with_the_direct_trigger" {
  command = apply

  variables {
    rescan_on_definitions_update = true
  }

  override_resource {
    target = aws_cloudwatch_event_rule.rescan
    values = { arn = "arn:aws:events:eu-west-1:123456789012:rule/s3-clamav-scanner-test/s3-clamav-scanner-test-rescan" }
  }

  assert {
    condition     = length(aws_sqs_queue.scan) == 1 && length(aws_lambda_event_source_mapping.scan_queue) == 1 && toset(keys(aws_lambda_permission.s3)) == toset(["uploads", "partner-drop"]) && length(aws_s3_bucket_notification.scanned["uploads"].lambda_function) == 1 && length(aws_s3_bucket_notification.scanned["uploads"].queue) == 0
    error_message = "The rescan creates the scan queue and its consumer; S3 still invokes the function directly."
  }

  assert {
    condition     = output.scanner_environment.RESCAN_BUCKETS == "partner-drop/incoming/,uploads" && output.scanner_environment.RESCAN_WINDOW == "168" && output.scanner_environment.SCAN_QUEUE_URL == aws_sqs_queue.scan[0].id
    error_message = "The scanner rescans the scanned buckets under their notification prefixes, through the scan queue."
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.rescan[0].event_pattern) == {
      source        = ["s3-clamav-scanner"]
      "detail-type" = ["Definitions Updated"]
    } && aws_cloudwatch_event_rule.rescan[0].event_bus_name == "s3-clamav-scanner-test" && aws_cloudwatch_event_target.rescan[0].arn == aws_sqs_queue.scan[0].arn && aws_cloudwatch_event_target.rescan[0].event_bus_name == "s3-clamav-scanner-test"
    error_message = "A rule on the system's bus sends Definitions Updated to the scan queue."
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.scan_queue[0].statement : jsonencode({
      sid        = s.sid
      principals = s.principals
      sources    = flatten([for c in s.condition : c.values if c.variable == "aws:SourceArn"])
      })] == [jsonencode({
      sid        = "RescanRule"
      principals = [{ type = "Service", identifiers = ["events.amazonaws.com"] }]
      sources    = ["arn:aws:events:eu-west-1:123456789012:rule/s3-clamav-scanner-test/s3-clamav-scanner-test-rescan"]
    })]
    error_message = "With the direct trigger the scan queue accepts only the rescan rule (no S3 notifications)."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner.statement : jsonencode({ actions = s.actions, resources = s.resources }) if s.sid == "QueueRescans"]) == jsonencode({ actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.scan[0].arn] }) && contains([for s in data.aws_iam_policy_document.scanner.statement : s.sid], "ConsumeScanQueue")
    error_message = "The scanner sends its rescan messages to the scan queue and consumes it."
  }

  assert {
    condition     = output.rescan_rule_name == "s3-clamav-scanner-test-rescan" && output.scan_queue_url == aws_sqs_queue.scan[0].id && toset(keys(aws_cloudwatch_metric_alarm.redrive)) == toset(["scan"])
    error_message = "The rescan rule and the scan queue are outputs; the scan queue's redrive queue is watched."
  }
}

run "rescan_with_the_sqs_trigger_and_the_worker" {
  command = apply

  variables {
    rescan_on_definitions_update = true
    rescan_window_hours          = 24
    scan_trigger                 = "sqs"
    worker_enabled               = true
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        private_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaaa"]
        scanner_security_group_id = "sg-0cccccccccccccccc"
        s3_endpoint_id            = "vpce-0ddddddddddddddddd"
        s3_endpoint_bucket_names  = ["defs", "uploads", "partner-drop"]
        interface_endpoint_ids    = { events = "vpce-1", sqs = "vpce-2", "ecr.api" = "vpce-3", "ecr.dkr" = "vpce-4", logs = "vpce-5" }
      }
    }
  }

  assert {
    condition     = toset([for s in data.aws_iam_policy_document.scan_queue[0].statement : s.sid]) == toset(["ScannedBucketNotifications", "RescanRule"])
    error_message = "The scan queue accepts the buckets' notifications and the rescan rule."
  }

  assert {
    condition     = output.scanner_environment.RESCAN_WINDOW == "24" && output.worker_environment.SCAN_QUEUE_URL == aws_sqs_queue.scan[0].id && !contains(keys(output.worker_environment), "RESCAN_BUCKETS")
    error_message = "The worker knows the scan queue (for `scanner enqueue` as a one-off task) but does not rescan: the Lambda scanner consumes the rule's events."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.worker_task[0].statement : jsonencode({ actions = s.actions, resources = s.resources }) if s.sid == "EnqueueBackfill"]) == jsonencode({ actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.scan[0].arn] })
    error_message = "A backfill run as a worker task may send to the scan queue."
  }

  assert {
    condition     = jsondecode(output.worker_run_task_network_configuration) == { awsvpcConfiguration = { subnets = ["subnet-0aaaaaaaaaaaaaaaa"], securityGroups = ["sg-0cccccccccccccccc"], assignPublicIp = "DISABLED" } }
    error_message = "The network configuration a one-off worker task needs is an output."
  }
}

run "rejects_rescan_with_a_comma_in_a_prefix" {
  command = plan

  variables {
    rescan_on_definitions_update = true
    scanned_buckets              = { "uploads" = { filter_prefix = "a,b/" } }
  }

  expect_failures = [var.rescan_on_definitions_update]
}

run "rejects_rescan_with_a_reserved_concurrency_of_one" {
  command = plan

  variables {
    rescan_on_definitions_update = true
    scanner_reserved_concurrency = 1
  }

  expect_failures = [var.scanner_reserved_concurrency]
}

run "rejects_a_rescan_window_of_zero" {
  command = plan

  variables {
    rescan_window_hours = 0
  }

  expect_failures = [var.rescan_window_hours]
}

run "rejects_sqs_with_a_reserved_concurrency_of_one" {
  command = plan

  variables {
    scan_trigger                 = "sqs"
    scanner_reserved_concurrency = 1
  }

  expect_failures = [var.scanner_reserved_concurrency]
}

run "rejects_fewer_than_five_receives" {
  command = plan

  variables {
    scan_queue_max_receive_count = 3
  }

  expect_failures = [var.scan_queue_max_receive_count]
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
    condition     = one([for s in data.aws_iam_policy_document.scanner_common.statement : s.resources if s.sid == "PutIntoQuarantine"]) == toset(["arn:aws:s3:::quarantine/*"])
    error_message = "The scanner may put into the quarantine bucket."
  }

  # Objects over 5 GiB are copied with a multipart upload: s3:PutObject covers
  # CreateMultipartUpload, UploadPartCopy and CompleteMultipartUpload; a failed copy is
  # aborted. Nothing lists parts. The worker's policy is built from the same document.
  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner_common.statement : s.actions if s.sid == "PutIntoQuarantine"]) == toset(["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"])
    error_message = "The scanners may put into quarantine, tag there and abort a failed multipart copy (no s3:ListMultipartUploadParts)."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.quarantine_bucket[0].statement : !anytrue([for a in s.actions : contains(["s3:AbortMultipartUpload", "s3:*"], a)]) if s.effect == "Deny"])
    error_message = "The quarantine bucket's policy must not deny aborting a multipart upload."
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

# --- ECS worker ------------------------------------------------------------------------

run "worker_gets_what_the_lambda_scanner_forwards" {
  command = apply

  variables {
    worker_enabled = true
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        private_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
        scanner_security_group_id = "sg-0cccccccccccccccc"
        s3_endpoint_id            = "vpce-0ddddddddddddddddd"
        s3_endpoint_bucket_names  = ["defs", "quarantine", "uploads", "partner-drop"]
        interface_endpoint_ids    = { events = "vpce-1", sqs = "vpce-2", "ecr.api" = "vpce-3", "ecr.dkr" = "vpce-4", logs = "vpce-5" }
      }
    }
  }

  override_resource {
    target = aws_iam_role.worker_task
    values = { arn = "arn:aws:iam::123456789012:role/s3-clamav-scanner-test-worker-task" }
  }

  override_resource {
    target = aws_sqs_queue.worker
    values = { arn = "arn:aws:sqs:eu-west-1:123456789012:s3-clamav-scanner-test-worker", id = "https://sqs.eu-west-1.amazonaws.com/123456789012/s3-clamav-scanner-test-worker" }
  }

  # Every object takes the normal path: no EventBridge notification, no size rules (which
  # could not compare sizes over 5e9).
  assert {
    condition     = alltrue([for n in aws_s3_bucket_notification.scanned : !coalesce(n.eventbridge, false) && length(n.lambda_function) == 1]) && toset(keys(aws_lambda_permission.s3)) == toset(["uploads", "partner-drop"])
    error_message = "With the worker, S3 still invokes the Lambda scanner for every object."
  }

  assert {
    condition     = output.scanner_environment.LARGE_OBJECT_QUEUE_URL == "https://sqs.eu-west-1.amazonaws.com/123456789012/s3-clamav-scanner-test-worker" && output.scanner_environment.MAX_OBJECT_SIZE == "2000000000"
    error_message = "The Lambda scanner forwards objects over its own MAX_OBJECT_SIZE to the worker's queue."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scanner.statement : jsonencode({ actions = s.actions, resources = s.resources }) if s.sid == "ForwardLargeObjects"]) == jsonencode({ actions = ["sqs:SendMessage"], resources = ["arn:aws:sqs:eu-west-1:123456789012:s3-clamav-scanner-test-worker"] })
    error_message = "The Lambda scanner may send to the worker's queue (only)."
  }

  assert {
    condition     = !contains([for s in data.aws_iam_policy_document.worker_task[0].statement : s.sid], "ForwardLargeObjects") && !contains(keys(output.worker_environment), "LARGE_OBJECT_QUEUE_URL")
    error_message = "The worker forwards nothing: it is the last stop."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].command == ["worker", "--queue-url", aws_sqs_queue.worker[0].id] && aws_ecs_task_definition.worker[0].requires_compatibilities == toset(["FARGATE"]) && one(aws_ecs_task_definition.worker[0].ephemeral_storage).size_in_gib == 184 && one(aws_ecs_task_definition.worker[0].runtime_platform).cpu_architecture == "X86_64"
    error_message = "The task runs the scanner image's worker command on Fargate, with 184 GiB of disk, for the images' architecture."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].readonlyRootFilesystem && jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].mountPoints[0].containerPath == "/tmp"
    error_message = "The worker's root filesystem is read-only; it writes to /tmp on the task's ephemeral storage."
  }

  # 100 GiB objects, 40 GiB per unpacker: 1 * (100 + 2 * 40) GiB + 2 GiB + 256 MiB + 1 GiB fits 184 GiB.
  assert {
    condition = { for e in jsondecode(aws_ecs_task_definition.worker[0].container_definitions)[0].environment : e.name => e.value if contains(["SERVICE_NAME", "SCAN_CONCURRENCY", "MAX_OBJECT_SIZE", "MAX_SCAN_SIZE", "MAX_SCAN_TIME", "AWS_REGION", "TAG_KEY_PROOF"], e.name) } == {
      SERVICE_NAME     = "s3-clamav-scanner-test-worker"
      SCAN_CONCURRENCY = "1"
      MAX_OBJECT_SIZE  = "107374182400"
      MAX_SCAN_SIZE    = "42949672960"
      MAX_SCAN_TIME    = "3600000"
      AWS_REGION       = "eu-west-1"
      TAG_KEY_PROOF    = "scan-proof"
    }
    error_message = "The worker's environment names its metrics' Service and its own sizes (100 GiB objects)."
  }

  assert {
    condition     = one(aws_ecs_service.worker[0].network_configuration).subnets == toset(["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]) && one(aws_ecs_service.worker[0].network_configuration).security_groups == toset(["sg-0cccccccccccccccc"]) && !one(aws_ecs_service.worker[0].network_configuration).assign_public_ip
    error_message = "The worker runs in the private subnets with the scanner's security group."
  }

  assert {
    condition     = data.aws_iam_policy_document.worker_task[0].source_policy_documents == tolist([data.aws_iam_policy_document.scanner_common.json]) && one([for s in data.aws_iam_policy_document.worker_task[0].statement : s.resources if s.sid == "ConsumeWorkerQueue"]) == toset([aws_sqs_queue.worker[0].arn])
    error_message = "The worker has the scanner's permissions plus its own queue."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.scanned_bucket["uploads"].statement : toset(one([for c in s.condition : c.values if c.variable == "aws:PrincipalArn"])) == toset([module.scanner.role_arn, "arn:aws:iam::123456789012:role/s3-clamav-scanner-test-worker-task"])])
    error_message = "The worker's role is exempt from the scanned buckets' protection like the Lambda scanner's."
  }

  assert {
    condition     = aws_appautoscaling_target.worker[0].min_capacity == 0 && aws_appautoscaling_target.worker[0].max_capacity == 10 && one(one(aws_appautoscaling_policy.worker_scale_in[0].step_scaling_policy_configuration).step_adjustment).scaling_adjustment == 0 && aws_cloudwatch_metric_alarm.worker_idle[0].alarm_actions == toset([aws_appautoscaling_policy.worker_scale_in[0].arn])
    error_message = "The worker scales on its queue, down to zero tasks."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.scan_errors["worker"].dimensions == tomap({ Service = "s3-clamav-scanner-test-worker" }) && toset(keys(aws_cloudwatch_metric_alarm.redrive)) == toset(["worker"])
    error_message = "The worker's scan errors and redrive queue have alarms."
  }
}

run "worker_with_the_sqs_trigger" {
  command = apply

  variables {
    worker_enabled = true
    scan_trigger   = "sqs"
    scanned_buckets = {
      "uploads" = { filter_prefix = "in/", filter_suffix = ".pdf" }
    }
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        private_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaaa"]
        scanner_security_group_id = "sg-0cccccccccccccccc"
        s3_endpoint_id            = "vpce-0ddddddddddddddddd"
        s3_endpoint_bucket_names  = ["defs", "uploads"]
        interface_endpoint_ids    = { events = "vpce-1", sqs = "vpce-2", "ecr.api" = "vpce-3", "ecr.dkr" = "vpce-4", logs = "vpce-5" }
      }
    }
  }

  assert {
    condition     = one(aws_s3_bucket_notification.scanned["uploads"].queue).queue_arn == aws_sqs_queue.scan[0].arn && one(aws_s3_bucket_notification.scanned["uploads"].queue).filter_prefix == "in/" && one(aws_s3_bucket_notification.scanned["uploads"].queue).filter_suffix == ".pdf" && !coalesce(aws_s3_bucket_notification.scanned["uploads"].eventbridge, false)
    error_message = "With the SQS trigger every object goes to the scan queue, the worker's included."
  }

  assert {
    condition     = one(data.aws_iam_policy_document.scan_queue[0].statement).principals == toset([{ type = "Service", identifiers = toset(["s3.amazonaws.com"]) }]) && contains(keys(output.scanner_environment), "LARGE_OBJECT_QUEUE_URL")
    error_message = "The scan queue takes the buckets' notifications; the scanner forwards large objects."
  }
}

run "rejects_a_worker_without_its_endpoints" {
  command = plan

  variables {
    worker_enabled = true
  }

  expect_failures = [aws_ecs_task_definition.worker]
}

run "rejects_a_worker_disk_smaller_than_the_worst_case" {
  command = plan

  # 1 * (100 GiB + 2 * 40 GiB) + 2 * 1024 MiB + 256 MiB + 1 GiB = 183.25 GiB.
  variables {
    worker_enabled               = true
    worker_ephemeral_storage_gib = 183
  }

  expect_failures = [var.worker_ephemeral_storage_gib]
}

run "rejects_two_large_objects_at_once_on_fargates_disk" {
  command = plan

  # 2 * (100 GiB + 2 * 40 GiB) = 360 GiB: more than Fargate's 200.
  variables {
    worker_enabled               = true
    worker_scan_concurrency      = 2
    worker_ephemeral_storage_gib = 200
  }

  expect_failures = [var.worker_ephemeral_storage_gib]
}

run "rejects_a_memory_size_fargate_does_not_offer" {
  command = plan

  variables {
    worker_cpu       = 1024
    worker_memory_mb = 16384
  }

  expect_failures = [var.worker_memory_mb]
}

run "rejects_a_worker_limit_above_100_gib" {
  command = plan

  variables {
    worker_max_object_size_bytes = 107374182401
  }

  expect_failures = [var.worker_max_object_size_bytes]
}

run "rejects_a_worker_limit_not_above_the_lambda_scanners" {
  command = plan

  variables {
    worker_enabled               = true
    worker_max_object_size_bytes = 2000000000
    worker_max_scan_size_bytes   = null
  }

  expect_failures = [var.worker_max_object_size_bytes]
}

# --- Validation ------------------------------------------------------------------------

run "bucket_missing_from_the_endpoint_policy" {
  command = plan

  variables {
    scanned_buckets = { "not-in-endpoint" = {} }
  }

  expect_failures = [data.aws_iam_policy_document.scanner_common]
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

run "rejects_a_disk_smaller_than_the_worst_case" {
  command = plan

  # 1 * (2000000000 + 2 * 2000000000) + 2 * 1024 MiB + 256 MiB = 8026 MiB
  variables {
    scanner_ephemeral_storage_mb = 8025
  }

  expect_failures = [var.scanner_ephemeral_storage_mb]
}

run "accepts_a_disk_of_exactly_the_worst_case" {
  command = plan

  # 2 * (1 GiB + 2 * 1 GiB) + 2 * 512 MiB + 256 MiB = 7424 MiB
  variables {
    scanner_ephemeral_storage_mb = 7424
    scanner_scan_concurrency     = 2
    scanner_memory_mb            = 3072
    max_object_size_bytes        = 1073741824
    definitions_disk_mb          = 512
  }

  assert {
    condition     = output.scanner_environment.SCAN_CONCURRENCY == "2" && output.scanner_environment.MAX_SCAN_SIZE == "1073741824"
    error_message = "The sizes reach the scanner."
  }
}

run "rejects_a_disk_too_small_for_the_scan_size" {
  command = plan

  variables {
    scanner_ephemeral_storage_mb = 7424
    scanner_scan_concurrency     = 2
    scanner_memory_mb            = 3072
    max_object_size_bytes        = 1073741824
    max_scan_size_bytes          = 1073741825
    definitions_disk_mb          = 512
  }

  expect_failures = [var.scanner_ephemeral_storage_mb]
}

run "rejects_objects_libclamav_cannot_scan_whole" {
  command = plan

  variables {
    max_object_size_bytes = 2147483646
  }

  expect_failures = [var.max_object_size_bytes]
}

run "accepts_a_scan_time_leaving_30_seconds" {
  command = plan

  variables {
    scanner_timeout_seconds = 300
    max_scan_time_ms        = 270000
  }

  assert {
    condition     = output.scanner_environment.MAX_SCAN_TIME == "270000"
    error_message = "MAX_SCAN_TIME reaches the scanner."
  }
}

run "rejects_a_scan_time_too_close_to_the_timeout" {
  command = plan

  variables {
    scanner_timeout_seconds = 300
    max_scan_time_ms        = 270001
  }

  expect_failures = [var.max_scan_time_ms]
}

run "rejects_too_little_memory" {
  command = plan

  variables {
    scanner_memory_mb = 1024
  }

  expect_failures = [var.scanner_memory_mb]
}

# --- Memory against the declared database (main.tf: engine_peak_mib and what follows) --

run "memory_defaults_hold_the_official_database" {
  command = plan

  variables {
    worker_enabled = true
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        private_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaaa"]
        scanner_security_group_id = "sg-0cccccccccccccccc"
        s3_endpoint_id            = "vpce-0ddddddddddddddddd"
        s3_endpoint_bucket_names  = ["defs", "uploads", "partner-drop"]
        interface_endpoint_ids    = { events = "vpce-1", sqs = "vpce-2", "ecr.api" = "vpce-3", "ecr.dkr" = "vpce-4", logs = "vpce-5" }
      }
    }
  }

  # 8.7 million signatures: the measured 1617 MiB, 1.2 * 1617 + 300 = 2240.4 MiB, and
  # 1.2 * 2241 = 2689.2 MiB with 20 % to spare.
  assert {
    condition     = var.definitions_signatures == 8700000 && local.engine_peak_mib == 1617 && local.scanner_memory_need_mib == 2241 && local.scanner_memory_min_mb == 2690 && local.worker_memory_min_mb == 2690
    error_message = "The official database needs 2241 MiB, 2690 MB with 20 % to spare."
  }

  assert {
    condition     = var.scanner_memory_mb == 3008 && aws_ecs_task_definition.worker[0].memory == "8192"
    error_message = "The defaults (3008 MB for the function, 8192 for the worker's task) are what is checked."
  }
}

run "memory_need_scales_with_the_declared_database" {
  command = plan

  # The other measurement: 315 MiB at 1 million signatures; 1.2 * 315 + 300 = 678 MiB.
  variables {
    definitions_signatures = 1000000
  }

  assert {
    condition     = local.engine_peak_mib == 315 && local.scanner_memory_need_mib == 678 && local.scanner_memory_min_mb == 814
    error_message = "1 million signatures need 678 MiB, 814 MB with 20 % to spare."
  }
}

# 3008 MB holds up to 10008960 signatures: 2506 MiB needed, 1.2 * 2506 = 3007.2.
run "accepts_the_largest_database_the_default_memory_holds" {
  command = plan

  variables {
    definitions_signatures = 10008960
  }

  assert {
    condition     = local.scanner_memory_need_mib == 2506 && local.scanner_memory_min_mb == 3008
    error_message = "10008960 signatures need 2506 MiB, 3008 MB with 20 % to spare."
  }
}

run "rejects_a_database_larger_than_the_memory_holds" {
  command = plan

  variables {
    definitions_signatures = 10008961
  }

  expect_failures = [var.scanner_memory_mb]
}

run "rejects_two_objects_at_once_in_the_default_memory" {
  command = plan

  # 1.2 * 1617 + 2 * 300 = 2540.4 MiB, 3050 MB with 20 % to spare; the disk of
  # accepts_a_disk_of_exactly_the_worst_case, which passes with 3072 MB.
  variables {
    scanner_scan_concurrency     = 2
    scanner_ephemeral_storage_mb = 7424
    max_object_size_bytes        = 1073741824
    definitions_disk_mb          = 512
  }

  expect_failures = [var.scanner_memory_mb]
}

run "rejects_a_worker_too_small_for_the_declared_database" {
  command = plan

  # 8192 MB holds up to 31299283 signatures; the function gets all the memory Lambda has.
  variables {
    worker_enabled         = true
    scanner_memory_mb      = 10240
    definitions_signatures = 31299284
  }

  override_data {
    target = data.terraform_remote_state.network
    values = {
      outputs = {
        private_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaaa"]
        scanner_security_group_id = "sg-0cccccccccccccccc"
        s3_endpoint_id            = "vpce-0ddddddddddddddddd"
        s3_endpoint_bucket_names  = ["defs", "uploads", "partner-drop"]
        interface_endpoint_ids    = { events = "vpce-1", sqs = "vpce-2", "ecr.api" = "vpce-3", "ecr.dkr" = "vpce-4", logs = "vpce-5" }
      }
    }
  }

  expect_failures = [var.worker_memory_mb]
}

run "worker_memory_is_not_checked_without_the_worker" {
  command = plan

  variables {
    scanner_memory_mb      = 10240
    definitions_signatures = 31299284
  }

  assert {
    condition     = local.worker_memory_min_mb > var.worker_memory_mb && length(aws_ecs_task_definition.worker) == 0
    error_message = "Without the worker its memory size is unused and not checked."
  }
}

run "rejects_a_declared_size_that_is_no_whole_number" {
  command = plan

  variables {
    definitions_signatures = 8.7
  }

  expect_failures = [var.definitions_signatures]
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

run "rejects_file_custom_urls" {
  command = plan

  variables {
    clamav_custom_urls = ["file:///opt/signatures/custom.ndb"]
  }

  expect_failures = [var.clamav_custom_urls]
}

run "rejects_custom_urls_without_a_database_file_name" {
  command = plan

  variables {
    clamav_custom_urls = ["https://sigs.example.com/download"]
  }

  expect_failures = [var.clamav_custom_urls]
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
