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

# --- Function configuration (DESIGN.md "Configuration") ------------------------------

locals {
  scanner_environment = merge(
    {
      DEFINITIONS_BUCKET         = var.definitions_bucket_name
      DEFINITIONS_PREFIX         = var.definitions_prefix
      EVENT_BUS_NAME             = aws_cloudwatch_event_bus.this.name
      INFECTED_ACTION            = var.infected_action
      MAX_OBJECT_SIZE            = tostring(var.max_object_size_bytes)
      PUBLISH_CLEAN_RESULTS      = tostring(var.publish_clean_results)
      DEFINITIONS_CHECK_INTERVAL = tostring(var.definitions_check_interval_seconds)
      MAX_DEFINITIONS_AGE        = tostring(var.max_definitions_age_hours)
    },
    local.quarantine_enabled ? { QUARANTINE_BUCKET = var.quarantine_bucket_name } : {},
  )

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
}

# --- Scanner --------------------------------------------------------------------------

data "aws_iam_policy_document" "scanner" {
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

  dynamic "statement" {
    for_each = local.quarantine_enabled ? [1] : []
    content {
      sid       = "PutIntoQuarantine"
      actions   = ["s3:PutObject", "s3:PutObjectTagging"]
      resources = ["${local.quarantine_bucket_arn}/*"]
    }
  }

  statement {
    sid       = "PublishScanEvents"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.this.arn]
  }

  dynamic "statement" {
    for_each = local.use_queue ? [1] : []
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

  lifecycle {
    precondition {
      condition     = length(local.buckets_missing_from_endpoint) == 0
      error_message = "The network's S3 endpoint policy does not allow these buckets, so the scanner could not reach them: ${join(", ", local.buckets_missing_from_endpoint)}. Add them to s3_endpoint_bucket_names in the network root and apply it first."
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
  statement {
    sid       = "ReadAndWriteDefinitions"
    actions   = ["s3:GetObject", "s3:PutObject"]
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
