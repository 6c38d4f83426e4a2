# The scanner application: buckets, images, the two functions, their triggers, the
# event bus and the alarms. The network (VPC, subnets, endpoints, security groups) comes
# from the network root's state.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "terraform_remote_state" "network" {
  backend   = var.network_state.backend
  config    = var.network_state.config
  workspace = terraform.workspace
}

locals {
  prefix     = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  network = data.terraform_remote_state.network.outputs

  scanner_function_name = "${local.prefix}-scanner"
  updater_function_name = "${local.prefix}-definition-updater"
  event_source          = "s3-clamav-scanner"

  # The object tag the download-protection policy looks at (DESIGN.md "Verdicts and tags").
  scan_status_tag_key = "scan-status"

  quarantine_enabled = var.quarantine_bucket_name != null
  use_queue          = var.scan_trigger == "sqs"

  definitions_bucket_arn = "arn:${local.partition}:s3:::${var.definitions_bucket_name}"
  quarantine_bucket_arn  = local.quarantine_enabled ? "arn:${local.partition}:s3:::${var.quarantine_bucket_name}" : null
  scanned_bucket_arns    = { for name, _ in var.scanned_buckets : name => "arn:${local.partition}:s3:::${name}" }
  # Objects the scanner may touch in each scanned bucket: all of them, or those under the
  # notification's prefix.
  scanned_object_arns = {
    for name, bucket in var.scanned_buckets : name => "arn:${local.partition}:s3:::${name}/${bucket.filter_prefix == null ? "" : bucket.filter_prefix}*"
  }

  # Every bucket the scanner reaches from inside the VPC must be allowed by the S3
  # endpoint's policy, which the network root owns.
  buckets_through_endpoint = compact(concat(
    [var.definitions_bucket_name, var.quarantine_bucket_name],
    keys(var.scanned_buckets),
  ))
  buckets_missing_from_endpoint = setsubtract(local.buckets_through_endpoint, try(local.network.s3_endpoint_bucket_names, []))
}

# One workspace per environment, each with its var file (envs/<workspace>.tfvars).
check "workspace_matches_environment" {
  assert {
    condition     = terraform.workspace == "default" || terraform.workspace == var.environment
    error_message = "Workspace \"${terraform.workspace}\" applies the var file of environment \"${var.environment}\": select the workspace named like the environment (terraform workspace select ${var.environment})."
  }
}
