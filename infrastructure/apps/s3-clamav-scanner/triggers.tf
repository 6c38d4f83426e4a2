# --- S3 notifications to the scanner ----------------------------------------------------
# Direct (default): S3 invokes the scanner asynchronously; Lambda retries and finally
# sends the event to the bus. sqs: S3 sends to a queue the scanner polls; messages that
# fail scan_queue_max_receive_count times move to a redrive queue.
# With the ECS worker (worker_enabled), S3 notifies EventBridge instead, and two rules on
# the default bus route each object by size: up to the threshold to the scanner (directly
# or through the scan queue, as above), above it to the worker's queue (worker.tf).

locals {
  worker_route_threshold = coalesce(var.worker_route_threshold_bytes, var.max_object_size_bytes)

  # The key filter of one bucket as an EventBridge matcher (JSON, as the branches differ
  # in type): prefix and suffix together need a wildcard, in which * and \ are escaped.
  route_key_matchers = { for name, bucket in var.scanned_buckets : name => (
    bucket.filter_prefix != null && bucket.filter_suffix != null ? jsonencode([{ wildcard = "${replace(replace(bucket.filter_prefix, "\\", "\\\\"), "*", "\\*")}*${replace(replace(bucket.filter_suffix, "\\", "\\\\"), "*", "\\*")}" }]) :
    bucket.filter_prefix != null ? jsonencode([{ prefix = bucket.filter_prefix }]) :
    bucket.filter_suffix != null ? jsonencode([{ suffix = bucket.filter_suffix }]) : null
  ) }

  # EventBridge compares numbers only up to 5e9, so the threshold must stay below it
  # (max_object_size_bytes does).
  size_routes = {
    scanner = [{ numeric = ["<=", local.worker_route_threshold] }]
    worker  = [{ numeric = [">", local.worker_route_threshold] }]
  }

  size_route_patterns = { for route, size in local.size_routes : route => {
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    # EventBridge reads "$or" as an operator only with two or more branches.
    detail = jsondecode(length(local.route_branches[route]) == 1 ? jsonencode(one(local.route_branches[route])) : jsonencode({ "$or" = local.route_branches[route] }))
  } }

  route_branches = { for route, size in local.size_routes : route => [for name, bucket in var.scanned_buckets : {
    bucket = { name = [name] }
    object = jsondecode(jsonencode(merge({ size = size }, local.route_key_matchers[name] == null ? {} : { key = jsondecode(local.route_key_matchers[name]) })))
  }] }
}

resource "aws_lambda_permission" "s3" {
  for_each = local.use_queue || local.route_by_size ? {} : local.scanned_bucket_arns

  statement_id   = "s3-${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = module.scanner.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = each.value
  source_account = local.account_id
}

resource "aws_sqs_queue" "scan_redrive" {
  count = local.use_queue ? 1 : 0

  name                      = "${local.prefix}-scan-redrive"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "scan" {
  count = local.use_queue ? 1 : 0

  name = "${local.prefix}-scan"
  # AWS recommends six times the function timeout for an SQS event source.
  visibility_timeout_seconds = 6 * var.scanner_timeout_seconds
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.scan_redrive[0].arn
    maxReceiveCount     = var.scan_queue_max_receive_count
  })
}

data "aws_iam_policy_document" "scan_queue" {
  count = local.use_queue ? 1 : 0

  # The scanned buckets' notifications, or the size route's rule.
  statement {
    sid       = local.route_by_size ? "SmallObjectsRoute" : "ScannedBucketNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.scan[0].arn]

    principals {
      type        = "Service"
      identifiers = [local.route_by_size ? "events.amazonaws.com" : "s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.route_by_size ? [aws_cloudwatch_event_rule.size_route["scanner"].arn] : values(local.scanned_bucket_arns)
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "scan" {
  count = local.use_queue ? 1 : 0

  queue_url = aws_sqs_queue.scan[0].id
  policy    = data.aws_iam_policy_document.scan_queue[0].json
}

resource "aws_lambda_event_source_mapping" "scan_queue" {
  count = local.use_queue ? 1 : 0

  event_source_arn = aws_sqs_queue.scan[0].arn
  function_name    = module.scanner.function_arn
  batch_size       = var.scan_queue_batch_size
  enabled          = true
  # Without it Lambda ignores the scanner's partial batch response and deletes the
  # messages of failed records: they would never be retried or reach the redrive queue.
  function_response_types = ["ReportBatchItemFailures"]

  # Lambda polls no more messages than the function may run at once; otherwise throttled
  # invocations return messages to the queue and count receives towards the redrive queue.
  scaling_config {
    maximum_concurrency = var.scanner_reserved_concurrency
  }
}

resource "aws_s3_bucket_notification" "scanned" {
  for_each = local.scanned_bucket_arns

  bucket      = each.key
  eventbridge = local.route_by_size

  dynamic "lambda_function" {
    for_each = local.use_queue || local.route_by_size ? [] : [var.scanned_buckets[each.key]]
    content {
      id                  = "s3-clamav-scanner"
      lambda_function_arn = module.scanner.function_arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = lambda_function.value.filter_prefix
      filter_suffix       = lambda_function.value.filter_suffix
    }
  }

  dynamic "queue" {
    for_each = local.use_queue && !local.route_by_size ? [var.scanned_buckets[each.key]] : []
    content {
      id            = "s3-clamav-scanner"
      queue_arn     = aws_sqs_queue.scan[0].arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = queue.value.filter_prefix
      filter_suffix = queue.value.filter_suffix
    }
  }

  depends_on = [aws_lambda_permission.s3, aws_sqs_queue_policy.scan]
}

# --- Routing by size (worker_enabled) ---------------------------------------------------

# S3's Object Created events arrive on the default bus only.
resource "aws_cloudwatch_event_rule" "size_route" {
  for_each = local.route_by_size ? local.size_route_patterns : {}

  name          = "${local.prefix}-route-${each.key}"
  description   = each.key == "scanner" ? "New objects up to ${local.worker_route_threshold} bytes, to the Lambda scanner" : "New objects over ${local.worker_route_threshold} bytes, to the ECS worker"
  event_pattern = jsonencode(each.value)
}

resource "aws_cloudwatch_event_target" "route_to_scanner" {
  count = local.route_by_size ? 1 : 0

  rule      = aws_cloudwatch_event_rule.size_route["scanner"].name
  target_id = local.use_queue ? "scan-queue" : "scanner"
  arn       = local.use_queue ? aws_sqs_queue.scan[0].arn : module.scanner.function_arn
}

resource "aws_lambda_permission" "route_to_scanner" {
  count = local.route_by_size && !local.use_queue ? 1 : 0

  statement_id   = "events-size-route"
  action         = "lambda:InvokeFunction"
  function_name  = module.scanner.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.size_route["scanner"].arn
  source_account = local.account_id
}

# --- Updater: daily schedule and one run at deploy time ---------------------------------

# Schedules exist only on the default bus.
resource "aws_cloudwatch_event_rule" "updater_schedule" {
  name                = "${local.prefix}-update-definitions"
  description         = "Runs the ClamAV definition updater"
  schedule_expression = var.updater_schedule_expression
}

resource "aws_cloudwatch_event_target" "updater_schedule" {
  rule      = aws_cloudwatch_event_rule.updater_schedule.name
  target_id = "definition-updater"
  arn       = module.updater.function_arn
}

resource "aws_lambda_permission" "updater_schedule" {
  statement_id   = "events-schedule"
  action         = "lambda:InvokeFunction"
  function_name  = module.updater.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.updater_schedule.arn
  source_account = local.account_id
}

# Runs the updater synchronously when it is created or its image changes, so that the
# scanner finds definitions on its first invocation. A failed update fails the apply.
resource "aws_lambda_invocation" "updater_on_deploy" {
  count = var.invoke_updater_on_deploy ? 1 : 0

  function_name = module.updater.function_name
  input = jsonencode({
    source        = "${local.event_source}.deploy"
    "detail-type" = "Deploy-time Definitions Update"
    detail        = {}
  })

  triggers = {
    image_uri = var.updater_image_uri
  }

  depends_on = [module.definitions_bucket, aws_cloudwatch_event_bus.this]
}
