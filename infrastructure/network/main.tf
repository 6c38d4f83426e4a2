# The network of the scanner: a VPC with two private subnets in two availability zones
# and no route to the internet (no internet gateway, no NAT). The scanner reaches S3
# through a gateway endpoint limited to this system's buckets, and EventBridge through an
# interface endpoint (and, for the optional ECS worker, SQS, ECR, CloudWatch Logs). The
# updater runs outside the VPC and needs none of this.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  count = var.availability_zones == null ? 1 : 0
  state = "available"
}

locals {
  prefix             = "${var.name}-${var.environment}"
  availability_zones = var.availability_zones != null ? var.availability_zones : slice(data.aws_availability_zones.available[0].names, 0, 2)
  subnets = {
    for index, zone in local.availability_zones : zone => {
      cidr = cidrsubnet(var.vpc_cidr, 2, index)
      name = "${local.prefix}-private-${zone}"
    }
  }
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # An image can be pulled inside the VPC only with both ECR endpoints.
  ecr_reachable = contains(var.interface_endpoint_services, "ecr.dkr") && contains(var.interface_endpoint_services, "ecr.api")
}

resource "aws_vpc" "this" {
  cidr_block = var.vpc_cidr
  # Private DNS of the interface endpoints needs both.
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.prefix }
}

# The default security group is left without any rule, so nothing can use it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = { Name = "${local.prefix}-default-unused" }
}

resource "aws_subnet" "private" {
  for_each = local.subnets

  vpc_id                  = aws_vpc.this.id
  availability_zone       = each.key
  cidr_block              = each.value.cidr
  map_public_ip_on_launch = false

  tags = { Name = each.value.name, Tier = "private" }
}

# One route table per subnet (per zone), with only the VPC-local route and the S3
# gateway endpoint's prefix-list route: there is no path to the internet.
resource "aws_route_table" "private" {
  for_each = local.subnets

  vpc_id = aws_vpc.this.id

  tags = { Name = each.value.name }
}

resource "aws_route_table_association" "private" {
  for_each = local.subnets

  subnet_id      = aws_subnet.private[each.key].id
  route_table_id = aws_route_table.private[each.key].id
}

# --- S3 gateway endpoint -------------------------------------------------------------

data "aws_iam_policy_document" "s3_endpoint" {
  statement {
    sid = "OnlyThisSystemsBuckets"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectTagging",
      "s3:GetObjectVersionTagging",
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:PutObjectVersionTagging",
      # A multipart copy into quarantine that fails is aborted.
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:ListBucket",
      "s3:ListBucketVersions",
    ]
    resources = flatten([
      for bucket in var.s3_endpoint_bucket_names : [
        "arn:${local.partition}:s3:::${bucket}",
        "arn:${local.partition}:s3:::${bucket}/*",
      ]
    ])

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    # Only this account's principals may use the endpoint (no data exfiltration through
    # credentials of another account).
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [local.account_id]
    }
  }

  # Fargate pulls image layers from ECR's own bucket through this endpoint. The request is
  # signed by ECR (a pre-signed URL), not by a principal of this account, so this statement
  # cannot carry the account condition. Only present when ECR is reachable at all.
  # https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-minimum-s3-perms
  dynamic "statement" {
    for_each = local.ecr_reachable ? [1] : []
    content {
      sid       = "EcrImageLayers"
      actions   = ["s3:GetObject"]
      resources = ["arn:${local.partition}:s3:::prod-${data.aws_region.current.name}-starport-layer-bucket/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }
    }
  }
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [for table in aws_route_table.private : table.id]
  policy            = data.aws_iam_policy_document.s3_endpoint.json

  tags = { Name = "${local.prefix}-s3" }
}

# --- Interface endpoints -------------------------------------------------------------

resource "aws_security_group" "scanner" {
  #checkov:skip=CKV2_AWS_5:Attached to the scanner Lambda function in the app root (infrastructure/apps/s3-clamav-scanner), which reads its ID from this root's state.
  name        = "${local.prefix}-scanner"
  description = "Scanner (Lambda and ECS worker): HTTPS to the S3 gateway endpoint and the interface endpoints only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${local.prefix}-scanner" }
}

resource "aws_security_group" "endpoints" {
  name        = "${local.prefix}-endpoints"
  description = "Interface endpoints: HTTPS from the scanner only"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${local.prefix}-endpoints" }
}

resource "aws_vpc_security_group_egress_rule" "scanner_to_s3" {
  security_group_id = aws_security_group.scanner.id
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "scanner_to_endpoints" {
  security_group_id            = aws_security_group.scanner.id
  description                  = "HTTPS to the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_scanner" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the scanner"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.scanner.id
}

data "aws_iam_policy_document" "interface_endpoint" {
  for_each = toset(var.interface_endpoint_services)

  # The IAM prefix of the service: ecr.api and ecr.dkr are both "ecr".
  statement {
    sid       = "ThisAccountOnly"
    actions   = ["${split(".", each.key)[0]}:*"]
    resources = ["*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_endpoint_services)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = [for subnet in aws_subnet.private : subnet.id]
  security_group_ids  = [aws_security_group.endpoints.id]
  policy              = data.aws_iam_policy_document.interface_endpoint[each.key].json

  tags = { Name = "${local.prefix}-${each.key}" }
}

# --- Flow logs -----------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_158:Flow logs hold addresses and ports only; the CloudWatch Logs service key suffices. See README "Decisions".
  #checkov:skip=CKV_AWS_338:Retention is an operator choice (flow_log_retention_days, default 90 days).
  count = var.flow_logs_enabled ? 1 : 0

  name              = "/vpc/${local.prefix}/flow-logs"
  retention_in_days = var.flow_log_retention_days
}

data "aws_iam_policy_document" "flow_logs_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  count = var.flow_logs_enabled ? 1 : 0

  name               = "${local.prefix}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume_role.json
}

data "aws_iam_policy_document" "flow_logs" {
  count = var.flow_logs_enabled ? 1 : 0

  statement {
    sid       = "WriteFlowLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  count = var.flow_logs_enabled ? 1 : 0

  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs[0].id
  policy = data.aws_iam_policy_document.flow_logs[0].json
}

resource "aws_flow_log" "this" {
  count = var.flow_logs_enabled ? 1 : 0

  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs[0].arn
  iam_role_arn         = aws_iam_role.flow_logs[0].arn
}

# One workspace per environment, each with its var file (envs/<workspace>.tfvars).
check "workspace_matches_environment" {
  assert {
    condition     = terraform.workspace == "default" || terraform.workspace == var.environment
    error_message = "Workspace \"${terraform.workspace}\" applies the var file of environment \"${var.environment}\": select the workspace named like the environment (terraform workspace select ${var.environment})."
  }
}
