# Alarms: failures of either function, scan errors, stale definitions, failure events
# on the bus, and messages in the redrive queues; the dashboard. Every metric and event
# they watch is checked against what the real executables print and publish
# (infrastructure/tests/verify_signals.py).

locals {
  function_error_alarms = {
    scanner = { function_name = module.scanner.function_name, period = 300 }
    updater = { function_name = module.updater.function_name, period = 3600 }
  }
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.function_error_alarms

  alarm_name          = "${each.value.function_name}-errors"
  alarm_description   = "The ${each.key} function reported errors."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = each.value.period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# The scanner's own metrics carry the dimension sets [Service] and [Service, Verdict]
# (EMF); an alarm must name one of them exactly. Service is the Lambda function's name, or
# SERVICE_NAME for the worker.
locals {
  scanner_services = merge(
    { scanner = module.scanner.function_name },
    var.worker_enabled ? { worker = local.worker_service_name } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "scan_errors" {
  for_each = local.scanner_services

  alarm_name          = "${each.value}-scan-errors"
  alarm_description   = "Scans by ${each.value} ended in ERROR (download, engine or definitions failure)."
  namespace           = local.metrics_namespace
  metric_name         = "ScanErrors"
  dimensions          = { Service = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# The scanner reports the age of its database on every scan. With no uploads there is
# no data: the updater-errors alarm and the update-failures rule cover that case.
resource "aws_cloudwatch_metric_alarm" "definitions_stale" {
  for_each = local.scanner_services

  alarm_name          = "${each.value}-definitions-stale"
  alarm_description   = "The ClamAV database of ${each.value} is older than ${var.max_definitions_age_hours} hours."
  namespace           = local.metrics_namespace
  metric_name         = "DefinitionsAgeHours"
  dimensions          = { Service = each.value }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_definitions_age_hours
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "failure_events" {
  for_each = toset(local.alarmed_event_rules)

  alarm_name          = "${local.prefix}-${each.key}"
  alarm_description   = "Events matched the rule ${aws_cloudwatch_event_rule.this[each.key].name}: ${local.event_rules[each.key].description}."
  namespace           = "AWS/Events"
  metric_name         = "MatchedEvents"
  dimensions          = { EventBusName = aws_cloudwatch_event_bus.this.name, RuleName = aws_cloudwatch_event_rule.this[each.key].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# Messages the scanners gave up on: the scan queue's (SQS trigger) and the worker's.
locals {
  redrive_queues = merge(
    local.scan_queue_enabled ? { scan = aws_sqs_queue.scan_redrive[0].name } : {},
    var.worker_enabled ? { worker = aws_sqs_queue.worker_redrive[0].name } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "redrive" {
  for_each = local.redrive_queues

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Objects the ${each.key == "scan" ? "Lambda scanner" : "ECS worker"} failed to process moved to the redrive queue ${each.value}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# --- Dashboard ----------------------------------------------------------------------------

locals {
  # Every verdict the scanner prints (the EMF Verdict dimension).
  verdicts = ["CLEAN", "INFECTED", "UNSCANNABLE", "BLOCKED", "ERROR"]
  queues_to_watch = merge(
    { events = aws_sqs_queue.events.name },
    local.scan_queue_enabled ? { scan = aws_sqs_queue.scan[0].name } : {},
    var.worker_enabled ? { worker = aws_sqs_queue.worker[0].name } : {},
  )

  dashboard_widgets = concat(
    [
      {
        title   = "Objects by verdict"
        stat    = "Sum"
        metrics = [for pair in setproduct(values(local.scanner_services), local.verdicts) : [local.metrics_namespace, "ObjectsScanned", "Service", pair[0], "Verdict", pair[1], { label = "${pair[0]} ${pair[1]}" }]]
      },
      {
        title = "Scan duration (ms)"
        stat  = "p50"
        # concat, not flatten: flatten would also flatten each metric's own array.
        metrics = concat([for service in values(local.scanner_services) : [
          [local.metrics_namespace, "ScanDuration", "Service", service, { stat = "p50", label = "${service} p50" }],
          [local.metrics_namespace, "ScanDuration", "Service", service, { stat = "p99", label = "${service} p99" }],
        ]]...)
      },
      {
        title   = "Bytes scanned"
        stat    = "Sum"
        metrics = [for service in values(local.scanner_services) : [local.metrics_namespace, "BytesScanned", "Service", service, { label = service }]]
      },
      {
        title   = "Definitions age (hours; alarm above ${var.max_definitions_age_hours})"
        stat    = "Maximum"
        metrics = [for service in values(local.scanner_services) : [local.metrics_namespace, "DefinitionsAgeHours", "Service", service, { label = service }]]
      },
      {
        title   = "Queue depth (messages visible)"
        stat    = "Maximum"
        metrics = [for key, queue in local.queues_to_watch : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { label = key }]]
      },
    ],
    length(local.redrive_queues) == 0 ? [] : [{
      title   = "Redrive depth (messages given up)"
      stat    = "Maximum"
      metrics = [for key, queue in local.redrive_queues : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { label = key }]]
    }],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.dashboard_enabled ? 1 : 0

  dashboard_name = local.prefix
  dashboard_body = jsonencode({
    widgets = [for index, widget in local.dashboard_widgets : {
      type   = "metric"
      x      = (index % 2) * 12
      y      = floor(index / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = widget.title
        region  = local.region
        stat    = widget.stat
        period  = 300
        view    = "timeSeries"
        metrics = widget.metrics
      }
    }]
  })
}
