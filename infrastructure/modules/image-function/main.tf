# One container-image Lambda function with its execution role, log group and
# asynchronous invocation settings. The caller passes the function's own permissions as
# a policy document; this module adds only what every function needs.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  log_group_name = "/aws/lambda/${var.function_name}"
  log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"
  in_vpc         = var.vpc_config != null
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Log groups use the CloudWatch Logs service key; logs hold no object contents or credentials (the executables never log them). See README "Decisions".
  #checkov:skip=CKV_AWS_338:Retention is an operator choice (log_retention_days, default 90 days); a year of Lambda logs is rarely worth its cost here.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.function_name
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
}

data "aws_iam_policy_document" "baseline" {
  #checkov:skip=CKV_AWS_111:X-Ray and the VPC network-interface actions do not support resource-level permissions; AWS documents Resource "*" for them.
  #checkov:skip=CKV_AWS_356:X-Ray and the VPC network-interface actions do not support resource-level permissions; AWS documents Resource "*" for them.
  source_policy_documents = [var.policy_json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  statement {
    sid       = "XRayTracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  # What AWSLambdaVPCAccessExecutionRole grants, restricted to the function's own subnets
  # where the action supports it (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []
    content {
      sid = "ManageOwnNetworkInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.baseline.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:A dead-letter queue is superseded by the on-failure destination (aws_lambda_function_event_invoke_config), which also carries the error; the SQS trigger has its own redrive queue.
  #checkov:skip=CKV_AWS_173:Environment variables hold names and settings only (no secrets), encrypted at rest with the Lambda service key.
  #checkov:skip=CKV_AWS_272:Code signing applies to .zip packages; these are container images pinned by immutable ECR tags and scanned on push.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  package_type                   = "Image"
  image_uri                      = var.image_uri
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions

  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  tracing_config {
    mode = "Active"
  }

  dynamic "environment" {
    for_each = length(var.environment_variables) == 0 ? [] : [1]
    content {
      variables = var.environment_variables
    }
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [var.vpc_config] : []
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  # The role's permissions and the log group must exist before the first invocation.
  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_seconds

  destination_config {
    on_failure {
      destination = var.on_failure_destination_arn
    }
  }
}
