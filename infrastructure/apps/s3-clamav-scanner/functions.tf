# --- Image repositories ---------------------------------------------------------------

module "scanner_repository" {
  source = "../../modules/ecr-repository"

  name               = "${local.prefix}/scanner"
  keep_tagged_images = var.ecr_keep_tagged_images
  force_delete       = var.force_destroy
}

module "updater_repository" {
  source = "../../modules/ecr-repository"

  name               = "${local.prefix}/definition-updater"
  keep_tagged_images = var.ecr_keep_tagged_images
  force_delete       = var.force_destroy
}

# --- Scanner configuration (docs/design.md "Configuration") --------------------------

locals {
  # What the Lambda scanner and the ECS worker share.
  scanner_common_environment = merge(
    {
      DEFINITIONS_BUCKET         = var.definitions_bucket_name
      DEFINITIONS_PREFIX         = var.definitions_prefix
      EVENT_BUS_NAME             = aws_cloudwatch_event_bus.this.name
      INFECTED_ACTION            = var.infected_action
      BLOCKED_ACTION             = var.blocked_action
      PUBLISH_CLEAN_RESULTS      = tostring(var.publish_clean_results)
      DEFINITIONS_CHECK_INTERVAL = tostring(var.definitions_check_interval_seconds)
      MAX_DEFINITIONS_AGE        = tostring(var.max_definitions_age_hours)
      TAG_KEY_STATUS             = var.scan_tag_keys.status
      TAG_KEY_SIGNATURE          = var.scan_tag_keys.signature
      TAG_KEY_TIME               = var.scan_tag_keys.time
      TAG_KEY_DEFINITIONS        = var.scan_tag_keys.definitions
      TAG_KEY_PROOF              = var.scan_tag_keys.proof
      TAG_KEY_FILE_TYPE          = var.scan_tag_keys.file_type
    },
    local.quarantine_enabled ? { QUARANTINE_BUCKET = var.quarantine_bucket_name } : {},
    # Unset when empty: every type, every object.
    length(var.file_type_policy) > 0 ? { FILE_TYPE_POLICY = join(";", [for location, types in var.file_type_policy : "${location}=${join(",", types)}"]) } : {},
    length(var.scan_filters) > 0 ? { SCAN_FILTERS = jsonencode({ for bucket, filter in var.scan_filters : bucket => { for field, value in filter : field => value if value != null } }) } : {},
    # Where `scanner enqueue` (a backfill, also as an ECS task of the worker's definition)
    # sends by default, and the rescan queues its objects.
    local.scan_queue_enabled ? { SCAN_QUEUE_URL = aws_sqs_queue.scan[0].id } : {},
  )

  # SERVICE_NAME stays unset in Lambda: the metrics' Service dimension is then the
  # function's name (AWS_LAMBDA_FUNCTION_NAME), which the alarms use.
  # With the worker, objects over MAX_OBJECT_SIZE are forwarded to its queue instead of
  # being UNSCANNABLE (the worker has no LARGE_OBJECT_QUEUE_URL: it is the last stop).
  scanner_environment = merge(
    local.scanner_common_environment,
    {
      SCAN_CONCURRENCY = tostring(var.scanner_scan_concurrency)
      MAX_OBJECT_SIZE  = tostring(var.max_object_size_bytes)
      MAX_SCAN_SIZE    = tostring(coalesce(var.max_scan_size_bytes, var.max_object_size_bytes))
      MAX_SCAN_TIME    = tostring(var.max_scan_time_ms)
    },
    var.worker_enabled ? { LARGE_OBJECT_QUEUE_URL = aws_sqs_queue.worker[0].id } : {},
    # The Lambda scanner consumes the scan queue, where the rescan rule delivers
    # Definitions Updated: it lists these buckets (and prefixes) and queues their objects.
    var.rescan_on_definitions_update ? {
      RESCAN_BUCKETS = join(",", local.rescan_targets)
      RESCAN_WINDOW  = tostring(var.rescan_window_hours)
    } : {},
  )

  # The scanned buckets, under their notification prefix (the scanner may list no more).
  rescan_targets = [for name, bucket in var.scanned_buckets : bucket.filter_prefix == null ? name : "${name}/${bucket.filter_prefix}"]

  # Empty lists are left out rather than passed as empty strings.
  updater_environment = { for key, value in {
    DEFINITIONS_BUCKET        = var.definitions_bucket_name
    DEFINITIONS_PREFIX        = var.definitions_prefix
    EVENT_BUS_NAME            = aws_cloudwatch_event_bus.this.name
    CLAMAV_OFFICIAL_DATABASES = tostring(var.clamav_official_databases)
    CLAMAV_DATABASE_MIRRORS   = join(",", var.clamav_database_mirrors)
    CLAMAV_PRIVATE_MIRRORS    = join(",", var.clamav_private_mirrors)
    CLAMAV_CUSTOM_URLS        = join(",", var.clamav_custom_urls)
    MIN_UPDATE_INTERVAL       = tostring(var.min_update_interval_seconds)
  } : key => value if value != "" }

  # The roles that run the scanner: exempt from the scanned buckets' protection, readers
  # of the definitions.
  scanner_role_arns = concat([module.scanner.role_arn], var.worker_enabled ? [aws_iam_role.worker_task[0].arn] : [])

  # ListBucket(Versions) lets S3 answer 404 rather than 403 for an object deleted before
  # its scan. One statement per distinct notification prefix (none = the whole bucket).
  scanned_prefixes = { for prefix in distinct([for bucket in values(var.scanned_buckets) : bucket.filter_prefix == null ? "" : bucket.filter_prefix]) : prefix => [
    for name, bucket in var.scanned_buckets : local.scanned_bucket_arns[name] if(bucket.filter_prefix == null ? "" : bucket.filter_prefix) == prefix
  ] }
}

# --- Scanner --------------------------------------------------------------------------

# What every scanner (the Lambda function, the ECS worker) may do.
data "aws_iam_policy_document" "scanner_common" {
  # Read the object version named by the event, tag it with the verdict, delete it when
  # infected: only in the scanned buckets (and under the notification's prefix).
  statement {
    sid = "ScanObjectsInScannedBuckets"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectTagging",
      "s3:GetObjectVersionTagging",
      "s3:PutObjectTagging",
      "s3:PutObjectVersionTagging",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
    ]
    resources = values(local.scanned_object_arns)
  }

  dynamic "statement" {
    for_each = local.scanned_prefixes
    content {
      sid       = "ListScannedObjects${index(keys(local.scanned_prefixes), statement.key)}"
      actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
      resources = statement.value

      dynamic "condition" {
        for_each = statement.key == "" ? [] : [statement.key]
        content {
          test     = "StringLike"
          variable = "s3:prefix"
          values   = ["${condition.value}*"]
        }
      }
    }
  }

  # SSE-KMS objects: S3 decrypts them for the scanner (reads, and the source of the
  # quarantine copy) with the listed keys, only on the scanned buckets' behalf. No
  # kms:GenerateDataKey: the scanner writes no object data under these keys (tags are
  # not encrypted; the quarantine bucket uses SSE-S3).
  dynamic "statement" {
    for_each = length(var.scanned_bucket_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "DecryptScannedObjects"
      actions   = ["kms:Decrypt"]
      resources = var.scanned_bucket_kms_key_arns

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }

      # The object's ARN, or the bucket's when the object uses an S3 Bucket Key.
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = concat(values(local.scanned_bucket_arns), values(local.scanned_object_arns))
      }
    }
  }

  statement {
    sid       = "ReadDefinitions"
    actions   = ["s3:GetObject"]
    resources = ["${local.definitions_bucket_arn}/${var.definitions_prefix}*"]
  }

  statement {
    sid       = "ListDefinitions"
    actions   = ["s3:ListBucket"]
    resources = [local.definitions_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.definitions_prefix}*"]
    }
  }

  # The copy into quarantine: CopyObject, or for objects over MULTIPART_COPY_THRESHOLD (5 GiB,
  # the most CopyObject takes) a multipart upload of UploadPartCopy parts, which s3:PutObject
  # authorises from CreateMultipartUpload to CompleteMultipartUpload (the source is read with
  # the scanned-object grants above). A failed copy aborts its upload, so that no parts stay
  # behind (the bucket's lifecycle rule would remove them only after 7 days).
  dynamic "statement" {
    for_each = local.quarantine_enabled ? [1] : []
    content {
      sid       = "PutIntoQuarantine"
      actions   = ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"]
      resources = ["${local.quarantine_bucket_arn}/*"]
    }
  }

  statement {
    sid       = "PublishScanEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.this.arn]
  }

  lifecycle {
    precondition {
      condition     = length(local.buckets_missing_from_endpoint) == 0
      error_message = "The network's S3 endpoint policy does not allow these buckets, so the scanner could not reach them: ${join(", ", local.buckets_missing_from_endpoint)}. Add them to s3_endpoint_bucket_names in the network root and apply it first."
    }
  }
}

data "aws_iam_policy_document" "scanner" {
  source_policy_documents = [data.aws_iam_policy_document.scanner_common.json]

  # Objects over the Lambda scanner's MAX_OBJECT_SIZE go to the ECS worker's queue.
  dynamic "statement" {
    for_each = var.worker_enabled ? [1] : []
    content {
      sid       = "ForwardLargeObjects"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.worker[0].arn]
    }
  }

  dynamic "statement" {
    for_each = local.scan_queue_enabled ? [1] : []
    content {
      sid = "ConsumeScanQueue"
      actions = [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
      ]
      resources = [aws_sqs_queue.scan[0].arn]
    }
  }

  # The rescan after new definitions sends itself its listing requests and the objects to
  # rescan through the scan queue (it lists with the scanned prefixes and reads tags, both
  # granted above).
  dynamic "statement" {
    for_each = var.rescan_on_definitions_update ? [1] : []
    content {
      sid       = "QueueRescans"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.scan[0].arn]
    }
  }
}

module "scanner" {
  source = "../../modules/image-function"

  function_name                  = local.scanner_function_name
  description                    = "Scans new S3 objects with ClamAV and publishes the verdict"
  image_uri                      = var.scanner_image_uri
  architecture                   = var.lambda_architecture
  memory_size                    = var.scanner_memory_mb
  ephemeral_storage_size         = var.scanner_ephemeral_storage_mb
  timeout                        = var.scanner_timeout_seconds
  reserved_concurrent_executions = var.scanner_reserved_concurrency
  log_retention_days             = var.log_retention_days
  policy_json                    = data.aws_iam_policy_document.scanner.json
  maximum_retry_attempts         = var.lambda_maximum_retry_attempts
  maximum_event_age_seconds      = var.lambda_maximum_event_age_seconds
  on_failure_destination_arn     = aws_cloudwatch_event_bus.this.arn

  vpc_config = {
    subnet_ids         = local.network.private_subnet_ids
    security_group_ids = [local.network.scanner_security_group_id]
  }

  environment_variables = local.scanner_environment
}

# --- Definition updater ---------------------------------------------------------------

data "aws_iam_policy_document" "updater" {
  # Database files over 16 MiB go up as multipart uploads (s3:PutObject); one that fails is
  # aborted.
  statement {
    sid       = "ReadAndWriteDefinitions"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.definitions_bucket_arn}/${var.definitions_prefix}*"]
  }

  statement {
    sid       = "ListDefinitions"
    actions   = ["s3:ListBucket"]
    resources = [local.definitions_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.definitions_prefix}*"]
    }
  }

  statement {
    sid       = "PublishUpdateEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.this.arn]
  }
}

module "updater" {
  source = "../../modules/image-function"

  #checkov:skip=CKV_AWS_117:The updater must reach the ClamAV mirror on the internet; the VPC has no internet path by design. It only touches the definitions bucket and the bus.
  function_name = local.updater_function_name
  description   = "Updates the ClamAV database in the definitions bucket with freshclam"
  image_uri     = var.updater_image_uri
  architecture  = var.lambda_architecture
  memory_size   = var.updater_memory_mb
  # The mirror allows one update per hour: never run two at once.
  reserved_concurrent_executions = 1
  ephemeral_storage_size         = var.updater_ephemeral_storage_mb
  timeout                        = var.updater_timeout_seconds
  log_retention_days             = var.log_retention_days
  policy_json                    = data.aws_iam_policy_document.updater.json
  # A failed scheduled run is retried by the next one; retrying at once would only meet
  # the mirror's cool-down.
  maximum_retry_attempts     = 0
  maximum_event_age_seconds  = 3600
  on_failure_destination_arn = aws_cloudwatch_event_bus.this.arn
  vpc_config                 = null

  environment_variables = local.updater_environment
}
