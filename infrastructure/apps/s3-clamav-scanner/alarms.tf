# Alarms: failures of either function, scan errors, stale definitions, failure events
# on the bus, and (with the SQS trigger) messages in the redrive queue.

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

resource "aws_cloudwatch_metric_alarm" "scan_errors" {
  alarm_name          = "${local.scanner_function_name}-scan-errors"
  alarm_description   = "Scans ended in ERROR (download, engine or definitions failure)."
  namespace           = "S3ClamAVScanner"
  metric_name         = "ScanErrors"
  dimensions          = { FunctionName = module.scanner.function_name }
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
# no data: the updater-errors alarm and the failures rule cover that case.
resource "aws_cloudwatch_metric_alarm" "definitions_stale" {
  alarm_name          = "${local.scanner_function_name}-definitions-stale"
  alarm_description   = "The scanner's ClamAV database is older than ${var.max_definitions_age_hours} hours."
  namespace           = "S3ClamAVScanner"
  metric_name         = "DefinitionsAgeHours"
  dimensions          = { FunctionName = module.scanner.function_name }
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
  alarm_name          = "${local.prefix}-failure-events"
  alarm_description   = "Failure events (scan failed, update failed, definitions stale) reached the bus."
  namespace           = "AWS/Events"
  metric_name         = "MatchedEvents"
  dimensions          = { EventBusName = aws_cloudwatch_event_bus.this.name, RuleName = aws_cloudwatch_event_rule.this["failures"].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "scan_redrive" {
  count = local.use_queue ? 1 : 0

  alarm_name          = "${local.prefix}-scan-redrive-not-empty"
  alarm_description   = "S3 notifications the scanner failed to process moved to the redrive queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.scan_redrive[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
