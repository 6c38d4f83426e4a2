# Logic of the network root that needs no AWS: variable validation, the S3 endpoint
# policy, the subnets and the optional flow logs. Run: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/test"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/vpc/test/flow-logs"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/test-flow-logs"
    }
  }
}

variables {
  environment              = "test"
  s3_endpoint_bucket_names = ["defs-bucket", "uploads-bucket"]
}

run "two_private_subnets_in_two_zones" {
  command = apply

  assert {
    condition     = length(aws_subnet.private) == 2 && length(distinct([for s in aws_subnet.private : s.availability_zone])) == 2
    error_message = "Expected two subnets in two distinct zones."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.private : !s.map_public_ip_on_launch])
    error_message = "Subnets must not give public addresses."
  }

  assert {
    condition     = length(aws_route_table.private) == 2 && length(aws_route_table_association.private) == 2
    error_message = "Each subnet needs its own route table."
  }

  assert {
    condition     = alltrue([for t in aws_route_table.private : length(t.route) == 0])
    error_message = "Route tables must have no routes of their own (no internet path)."
  }

  assert {
    condition     = toset(output.availability_zones) == toset(["eu-west-1a", "eu-west-1b"])
    error_message = "The first two available zones should be used by default."
  }
}

run "s3_endpoint_policy_names_only_the_listed_buckets" {
  command = apply

  assert {
    condition = toset(flatten([for s in data.aws_iam_policy_document.s3_endpoint.statement : s.resources])) == toset([
      "arn:aws:s3:::defs-bucket", "arn:aws:s3:::defs-bucket/*",
      "arn:aws:s3:::uploads-bucket", "arn:aws:s3:::uploads-bucket/*",
    ])
    error_message = "The S3 endpoint policy must name exactly the listed buckets."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.s3_endpoint.statement : !contains(s.actions, "s3:*")])
    error_message = "The S3 endpoint policy must list actions, not s3:*."
  }

  # The scanners' copy into quarantine is a multipart upload for large objects; a failed
  # one is aborted from inside the VPC.
  assert {
    condition     = contains(one([for s in data.aws_iam_policy_document.s3_endpoint.statement : s.actions if s.sid == "OnlyThisSystemsBuckets"]), "s3:AbortMultipartUpload")
    error_message = "The S3 endpoint must let the scanners abort a multipart upload."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.s3_endpoint.statement : one([for c in s.condition : c.values if c.variable == "aws:PrincipalAccount"])]) == tolist(["123456789012"])
    error_message = "The S3 endpoint must be limited to this account's principals."
  }

  assert {
    condition     = aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway" && length(aws_vpc_endpoint.s3.route_table_ids) == 2
    error_message = "The S3 endpoint must be a gateway endpoint on both route tables."
  }
}

run "interface_endpoints_per_service" {
  command = apply

  variables {
    interface_endpoint_services = ["events", "sqs"]
  }

  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["events", "sqs"])
    error_message = "One interface endpoint per service expected."
  }

  assert {
    condition     = aws_vpc_endpoint.interface["events"].service_name == "com.amazonaws.eu-west-1.events" && aws_vpc_endpoint.interface["events"].private_dns_enabled
    error_message = "The EventBridge endpoint needs private DNS so the SDK's default host name resolves to it."
  }

  assert {
    condition     = one(data.aws_iam_policy_document.interface_endpoint["sqs"].statement).actions == toset(["sqs:*"])
    error_message = "Each interface endpoint policy is limited to its own service."
  }
}

run "flow_logs_on_by_default" {
  command = plan

  assert {
    condition     = length(aws_flow_log.this) == 1 && length(aws_iam_role.flow_logs) == 1
    error_message = "Flow logs should be on by default."
  }
}

run "flow_logs_off" {
  command = plan

  variables {
    flow_logs_enabled = false
  }

  assert {
    condition     = length(aws_flow_log.this) == 0 && length(aws_cloudwatch_log_group.flow_logs) == 0 && length(aws_iam_role.flow_logs) == 0
    error_message = "Switching flow logs off must remove the log group, the role and the flow log."
  }
}

run "explicit_zones" {
  command = plan

  variables {
    availability_zones = ["eu-west-1b", "eu-west-1c"]
  }

  assert {
    condition     = toset(keys(aws_subnet.private)) == toset(["eu-west-1b", "eu-west-1c"])
    error_message = "Explicit zones must be used."
  }
}

run "rejects_three_zones" {
  command = plan

  variables {
    availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  }

  expect_failures = [var.availability_zones]
}

run "rejects_a_tiny_vpc" {
  command = plan

  variables {
    vpc_cidr = "10.0.0.0/28"
  }

  expect_failures = [var.vpc_cidr]
}

run "rejects_endpoints_without_eventbridge" {
  command = plan

  variables {
    interface_endpoint_services = ["sqs"]
  }

  expect_failures = [var.interface_endpoint_services]
}

run "rejects_wildcard_bucket_names" {
  command = plan

  variables {
    s3_endpoint_bucket_names = ["*"]
  }

  expect_failures = [var.s3_endpoint_bucket_names]
}

run "rejects_an_endpoint_that_is_not_a_url" {
  command = plan

  variables {
    aws_endpoint_url = "localhost:5000"
  }

  expect_failures = [var.aws_endpoint_url]
}

run "ecr_layers_reachable_only_with_the_ecr_endpoints" {
  command = plan

  variables {
    interface_endpoint_services = ["events", "sqs", "ecr.api", "ecr.dkr", "logs"]
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.s3_endpoint.statement : s.resources if s.sid == "EcrImageLayers"]) == toset(["arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"])
    error_message = "With the ECR endpoints, the S3 endpoint must let Fargate fetch image layers from ECR's bucket."
  }

  assert {
    condition     = one(data.aws_iam_policy_document.interface_endpoint["ecr.dkr"].statement).actions == toset(["ecr:*"]) && one(data.aws_iam_policy_document.interface_endpoint["ecr.api"].statement).actions == toset(["ecr:*"])
    error_message = "The ECR endpoints' policies name the IAM prefix ecr (ecr.api:* and ecr.dkr:* are no actions)."
  }
}

run "no_ecr_layers_without_the_ecr_endpoints" {
  command = plan

  assert {
    condition     = !contains([for s in data.aws_iam_policy_document.s3_endpoint.statement : s.sid], "EcrImageLayers")
    error_message = "Without the ECR endpoints, the S3 endpoint policy names only this system's buckets."
  }
}
