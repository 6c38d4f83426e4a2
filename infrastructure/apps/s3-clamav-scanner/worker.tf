# The optional scanning worker: `scanner worker` as an ECS Fargate service in the
# private subnets, fed by its own queue, scaled on the queue's depth between zero and
# worker_max_tasks. The Lambda scanner sends that queue the objects larger than its own
# MAX_OBJECT_SIZE (LARGE_OBJECT_QUEUE_URL, functions.tf); the worker scans them with its
# own, larger limits (up to 100 GiB, in windows). It has the Lambda scanner's permissions
# on the buckets and the bus (data.aws_iam_policy_document.scanner_common) and reaches AWS
# only through the network's endpoints.

locals {
  worker_count = var.worker_enabled ? 1 : 0

  # Fargate has no AWS_LAMBDA_FUNCTION_NAME: SERVICE_NAME names the metrics' Service.
  worker_environment = merge(local.scanner_common_environment, {
    SERVICE_NAME     = local.worker_service_name
    SCAN_CONCURRENCY = tostring(var.worker_scan_concurrency)
    MAX_OBJECT_SIZE  = tostring(var.worker_max_object_size_bytes)
    MAX_SCAN_SIZE    = tostring(coalesce(var.worker_max_scan_size_bytes, var.worker_max_object_size_bytes))
    MAX_SCAN_TIME    = tostring(var.worker_max_scan_time_ms)
    AWS_REGION       = local.region
  })

  # What the task needs to start and run with no NAT: the image (ECR API and registry),
  # its logs, its queue; S3 goes through the gateway endpoint, EventBridge is always there.
  worker_endpoint_services         = ["events", "sqs", "ecr.api", "ecr.dkr", "logs"]
  worker_endpoint_services_missing = setsubtract(local.worker_endpoint_services, keys(try(local.network.interface_endpoint_ids, {})))

  worker_log_group_name = "/ecs/${local.worker_service_name}"
  worker_log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.worker_log_group_name}"
}

# --- Queue --------------------------------------------------------------------------------

resource "aws_sqs_queue" "worker_redrive" {
  count = local.worker_count

  name                      = "${local.worker_service_name}-redrive"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "worker" {
  count = local.worker_count

  name = local.worker_service_name
  # The worker keeps a message invisible while it scans it (ChangeMessageVisibility);
  # this is only the first lease.
  visibility_timeout_seconds = 300
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.worker_redrive[0].arn
    maxReceiveCount     = var.scan_queue_max_receive_count
  })
}

# No queue policy: only the Lambda scanner's role sends to it (an identity-policy grant,
# ForwardLargeObjects in functions.tf); nothing outside this account can.

# --- Roles --------------------------------------------------------------------------------

data "aws_iam_policy_document" "worker_assume_role" {
  statement {
    sid     = "EcsTasksAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# The task's own permissions: the scanner's, plus its queue.
resource "aws_iam_role" "worker_task" {
  count = local.worker_count

  name               = "${local.worker_service_name}-task"
  assume_role_policy = data.aws_iam_policy_document.worker_assume_role.json
}

data "aws_iam_policy_document" "worker_task" {
  count = local.worker_count

  source_policy_documents = [data.aws_iam_policy_document.scanner_common.json]

  statement {
    sid = "ConsumeWorkerQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [aws_sqs_queue.worker[0].arn]
  }

  # A backfill run as a one-off task of this definition (`enqueue` as the command, see
  # infrastructure/README.md) queues objects on the scan queue.
  dynamic "statement" {
    for_each = local.scan_queue_enabled ? [1] : []
    content {
      sid       = "EnqueueBackfill"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.scan[0].arn]
    }
  }
}

resource "aws_iam_role_policy" "worker_task" {
  count = local.worker_count

  name   = "${local.worker_service_name}-permissions"
  role   = aws_iam_role.worker_task[0].id
  policy = data.aws_iam_policy_document.worker_task[0].json
}

# What ECS needs to start the task: pull the scanner image, write its logs.
resource "aws_iam_role" "worker_execution" {
  count = local.worker_count

  name               = "${local.worker_service_name}-execution"
  assume_role_policy = data.aws_iam_policy_document.worker_assume_role.json
}

data "aws_iam_policy_document" "worker_execution" {
  #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken has no resource-level permission; AWS documents Resource "*" for it.
  #checkov:skip=CKV_AWS_111:ecr:GetAuthorizationToken has no resource-level permission; AWS documents Resource "*" for it.
  count = local.worker_count

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullScannerImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [module.scanner_repository.arn]
  }

  statement {
    sid       = "WriteWorkerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.worker_log_group_arn}:*"]
  }
}

resource "aws_iam_role_policy" "worker_execution" {
  count = local.worker_count

  name   = "${local.worker_service_name}-execution"
  role   = aws_iam_role.worker_execution[0].id
  policy = data.aws_iam_policy_document.worker_execution[0].json
}

# --- Service --------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "worker" {
  #checkov:skip=CKV_AWS_158:The CloudWatch Logs service key; logs hold no object contents or credentials (the scanner never logs them).
  #checkov:skip=CKV_AWS_338:Retention is an operator choice (log_retention_days, default 90 days).
  count = local.worker_count

  name              = local.worker_log_group_name
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_cluster" "worker" {
  count = local.worker_count

  name = local.worker_service_name

  # Per-task CPU, memory and disk: the engine's memory and the scratch disk are what a
  # worker runs out of.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "worker" {
  count = local.worker_count

  family                   = local.worker_service_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory_mb
  execution_role_arn       = aws_iam_role.worker_execution[0].arn
  task_role_arn            = aws_iam_role.worker_task[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    # The image is built for one architecture, the same as the Lambda functions'.
    cpu_architecture = var.lambda_architecture == "arm64" ? "ARM64" : "X86_64"
  }

  ephemeral_storage {
    size_in_gib = var.worker_ephemeral_storage_gib
  }

  # The scanner unpacks untrusted files: its root filesystem is read-only and it writes
  # only to /tmp, a volume on the task's ephemeral storage.
  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([{
    name                   = "scanner"
    image                  = var.scanner_image_uri
    essential              = true
    command                = ["worker", "--queue-url", aws_sqs_queue.worker[0].id]
    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }]
    # Fargate's longest: the worker finishes what it is scanning after SIGTERM; an
    # unfinished message becomes visible again and is scanned by another task.
    stopTimeout = 120
    environment = [for name in sort(keys(local.worker_environment)) : { name = name, value = local.worker_environment[name] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.worker[0].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "worker"
      }
    }
  }])

  lifecycle {
    precondition {
      condition     = length(local.worker_endpoint_services_missing) == 0
      error_message = "The ECS worker runs in the private subnets with no NAT and needs interface endpoints the network does not have: ${join(", ", sort(local.worker_endpoint_services_missing))}. Add them to interface_endpoint_services in the network root and apply it first."
    }
  }
}

resource "aws_ecs_service" "worker" {
  count = local.worker_count

  name            = local.worker_service_name
  cluster         = aws_ecs_cluster.worker[0].arn
  task_definition = aws_ecs_task_definition.worker[0].arn
  launch_type     = "FARGATE"
  # Idle until autoscaling sees messages.
  desired_count = 0

  network_configuration {
    subnets          = local.network.private_subnet_ids
    security_groups  = [local.network.scanner_security_group_id]
    assign_public_ip = false
  }

  # Autoscaling owns the task count.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_iam_role_policy.worker_execution, aws_iam_role_policy.worker_task]
}

# --- Autoscaling on queue depth -------------------------------------------------------------

resource "aws_appautoscaling_target" "worker" {
  count = local.worker_count

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.worker[0].name}/${aws_ecs_service.worker[0].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 0
  max_capacity       = var.worker_max_tasks
}

# Messages waiting: add tasks, more the longer the backlog (step bounds are relative to
# the alarm threshold of 0 visible messages).
resource "aws_appautoscaling_policy" "worker_scale_out" {
  count = local.worker_count

  name               = "${local.worker_service_name}-scale-out"
  service_namespace  = aws_appautoscaling_target.worker[0].service_namespace
  resource_id        = aws_appautoscaling_target.worker[0].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[0].scalable_dimension
  policy_type        = "StepScaling"

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = 10
      scaling_adjustment          = 1
    }

    step_adjustment {
      metric_interval_lower_bound = 10
      metric_interval_upper_bound = 100
      scaling_adjustment          = 3
    }

    step_adjustment {
      metric_interval_lower_bound = 100
      scaling_adjustment          = 10
    }
  }
}

# Nothing waiting and nothing in flight for a while: back to zero tasks.
resource "aws_appautoscaling_policy" "worker_scale_in" {
  count = local.worker_count

  name               = "${local.worker_service_name}-scale-to-zero"
  service_namespace  = aws_appautoscaling_target.worker[0].service_namespace
  resource_id        = aws_appautoscaling_target.worker[0].resource_id
  scalable_dimension = aws_appautoscaling_target.worker[0].scalable_dimension
  policy_type        = "StepScaling"

  step_scaling_policy_configuration {
    adjustment_type         = "ExactCapacity"
    cooldown                = 60
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = 0
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "worker_backlog" {
  count = local.worker_count

  alarm_name          = "${local.worker_service_name}-backlog"
  alarm_description   = "Objects wait in the worker's queue: scale the worker out."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.worker[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.worker_scale_out[0].arn]
}

resource "aws_cloudwatch_metric_alarm" "worker_idle" {
  count = local.worker_count

  alarm_name          = "${local.worker_service_name}-idle"
  alarm_description   = "The worker's queue has been empty for ${var.worker_idle_minutes_before_scale_in} minutes: scale the worker to zero."
  evaluation_periods  = var.worker_idle_minutes_before_scale_in
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = 0
  # No data means no queue activity at all, the idle case.
  treat_missing_data = "breaching"
  alarm_actions      = [aws_appautoscaling_policy.worker_scale_in[0].arn]

  metric_query {
    id          = "waiting"
    expression  = "visible + inflight"
    label       = "Messages waiting or being scanned"
    return_data = true
  }

  metric_query {
    id = "visible"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.worker[0].name }
      stat        = "Maximum"
      period      = 60
    }
  }

  metric_query {
    id = "inflight"
    metric {
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesNotVisible"
      dimensions  = { QueueName = aws_sqs_queue.worker[0].name }
      stat        = "Maximum"
      period      = 60
    }
  }
}
