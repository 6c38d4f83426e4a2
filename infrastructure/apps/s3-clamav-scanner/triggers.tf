# --- S3 notifications to the scanner ----------------------------------------------------
# Direct (default): S3 invokes the scanner asynchronously; Lambda retries and finally
# sends the event to the bus. sqs: S3 sends to a queue the scanner polls; messages that
# fail scan_queue_max_receive_count times move to a redrive queue. The scan queue (and the
# scanner's event source mapping on it) also exists with the direct trigger when the
# rescan is on: rescans and backfills (`scanner enqueue`) go through it.
# Every object takes this path, with or without the ECS worker: the Lambda scanner hands
# objects over its MAX_OBJECT_SIZE to the worker's queue itself (LARGE_OBJECT_QUEUE_URL,
# functions.tf), so no size has to be compared before the scanner sees the object.

resource "aws_lambda_permission" "s3" {
  for_each = local.use_queue ? {} : local.scanned_bucket_arns

  statement_id   = "s3-${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = module.scanner.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = each.value
  source_account = local.account_id
}

resource "aws_sqs_queue" "scan_redrive" {
  count = local.scan_queue_enabled ? 1 : 0

  name                      = "${local.prefix}-scan-redrive"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "scan" {
  count = local.scan_queue_enabled ? 1 : 0

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
  count = local.scan_queue_enabled ? 1 : 0

  # The scanned buckets' notifications (SQS trigger).
  dynamic "statement" {
    for_each = local.use_queue ? [1] : []
    content {
      sid       = "ScannedBucketNotifications"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.scan[0].arn]

      principals {
        type        = "Service"
        identifiers = ["s3.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = values(local.scanned_bucket_arns)
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  # Definitions Updated, from the rescan rule on the system's bus.
  dynamic "statement" {
    for_each = var.rescan_on_definitions_update ? [1] : []
    content {
      sid       = "RescanRule"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.scan[0].arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.rescan[0].arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "scan" {
  count = local.scan_queue_enabled ? 1 : 0

  queue_url = aws_sqs_queue.scan[0].id
  policy    = data.aws_iam_policy_document.scan_queue[0].json
}

resource "aws_lambda_event_source_mapping" "scan_queue" {
  count = local.scan_queue_enabled ? 1 : 0

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

  bucket = each.key

  dynamic "lambda_function" {
    for_each = local.use_queue ? [] : [var.scanned_buckets[each.key]]
    content {
      id                  = "s3-clamav-scanner"
      lambda_function_arn = module.scanner.function_arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = lambda_function.value.filter_prefix
      filter_suffix       = lambda_function.value.filter_suffix
    }
  }

  dynamic "queue" {
    for_each = local.use_queue ? [var.scanned_buckets[each.key]] : []
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

# --- Rescan after new definitions (rescan_on_definitions_update) -------------------------
# The updater's Definitions Updated event goes to the scan queue (the whole EventBridge
# event is the message body). The Lambda scanner takes it as a rescan request: it lists
# RESCAN_BUCKETS and queues, on the same queue, the objects it had found CLEAN with older
# definitions and that were modified within RESCAN_WINDOW hours.

resource "aws_cloudwatch_event_rule" "rescan" {
  count = var.rescan_on_definitions_update ? 1 : 0

  name           = "${local.prefix}-rescan"
  description    = "New definitions: rescan the recent objects of the scanned buckets"
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern = jsonencode({
    source      = [local.event_source]
    detail-type = ["Definitions Updated"]
  })
}

resource "aws_cloudwatch_event_target" "rescan" {
  count = var.rescan_on_definitions_update ? 1 : 0

  rule           = aws_cloudwatch_event_rule.rescan[0].name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = "scan-queue"
  arn            = aws_sqs_queue.scan[0].arn
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
