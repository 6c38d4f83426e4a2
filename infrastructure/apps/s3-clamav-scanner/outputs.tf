output "scanner_function_name" {
  description = "Scanner function name."
  value       = module.scanner.function_name
}

output "scanner_function_arn" {
  description = "Scanner function ARN."
  value       = module.scanner.function_arn
}

output "scanner_role_arn" {
  description = "Scanner execution role ARN."
  value       = module.scanner.role_arn
}

output "updater_function_name" {
  description = "Definition updater function name."
  value       = module.updater.function_name
}

output "updater_function_arn" {
  description = "Definition updater function ARN."
  value       = module.updater.function_arn
}

output "updater_role_arn" {
  description = "Definition updater execution role ARN."
  value       = module.updater.role_arn
}

output "scanner_repository_url" {
  description = "ECR repository of the scanner image."
  value       = module.scanner_repository.repository_url
}

output "updater_repository_url" {
  description = "ECR repository of the definition updater image."
  value       = module.updater_repository.repository_url
}

output "definitions_bucket_name" {
  description = "Definitions bucket."
  value       = module.definitions_bucket.name
}

output "quarantine_bucket_name" {
  description = "Quarantine bucket, or null."
  value       = local.quarantine_enabled ? module.quarantine_bucket[0].name : null
}

output "access_log_bucket_name" {
  description = "Access-log bucket."
  value       = module.access_log_bucket.name
}

output "event_bus_name" {
  description = "The system's EventBridge bus."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_rule_names" {
  description = "Rules on the bus, by purpose."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.name }
}

output "events_queue_url" {
  description = "Queue that keeps failure and infected events."
  value       = aws_sqs_queue.events.id
}

output "scan_queue_url" {
  description = "The scan queue the Lambda scanner consumes (scan_trigger sqs, or rescan_on_definitions_update), or null: S3's notifications (sqs), rescans and `scanner enqueue` backfills."
  value       = local.scan_queue_enabled ? aws_sqs_queue.scan[0].id : null
}

output "updater_schedule_rule_name" {
  description = "Schedule rule of the updater (default bus)."
  value       = aws_cloudwatch_event_rule.updater_schedule.name
}

output "scanner_environment" {
  description = "Environment variables of the scanner (no secrets)."
  value       = local.scanner_environment
}

output "updater_environment" {
  description = "Environment variables of the definition updater (no secrets)."
  value       = local.updater_environment
}

output "worker_environment" {
  description = "Environment variables of the ECS worker (no secrets), or null."
  value       = var.worker_enabled ? local.worker_environment : null
}

output "worker_queue_url" {
  description = "Queue of the ECS worker (the objects the Lambda scanner forwards as too large for it), or null."
  value       = var.worker_enabled ? aws_sqs_queue.worker[0].id : null
}

output "worker_task_definition_arn" {
  description = "Task definition of the worker, or null; a backfill runs it once with the command overridden to `enqueue ...` (infrastructure/README.md)."
  value       = var.worker_enabled ? aws_ecs_task_definition.worker[0].arn : null
}

output "worker_run_task_network_configuration" {
  description = "The worker's network configuration as `aws ecs run-task --network-configuration` takes it (JSON), or null."
  value = var.worker_enabled ? jsonencode({ awsvpcConfiguration = {
    subnets        = local.network.private_subnet_ids
    securityGroups = [local.network.scanner_security_group_id]
    assignPublicIp = "DISABLED"
  } }) : null
}

output "rescan_rule_name" {
  description = "The bus rule that sends Definitions Updated to the scan queue (rescan_on_definitions_update), or null."
  value       = var.rescan_on_definitions_update ? aws_cloudwatch_event_rule.rescan[0].name : null
}

output "worker_cluster_name" {
  description = "ECS cluster of the worker, or null."
  value       = var.worker_enabled ? aws_ecs_cluster.worker[0].name : null
}

output "worker_service_name" {
  description = "ECS service of the worker, or null."
  value       = var.worker_enabled ? aws_ecs_service.worker[0].name : null
}

output "dashboard_name" {
  description = "CloudWatch dashboard, or null."
  value       = var.dashboard_enabled ? aws_cloudwatch_dashboard.this[0].dashboard_name : null
}
