# The scanner application: buckets, images, the two functions, their triggers, the
# event bus, the alarms and the dashboard, and optionally the ECS worker. The network (VPC, subnets, endpoints, security groups) comes
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
  worker_service_name   = "${local.prefix}-worker"
  event_source          = "s3-clamav-scanner"
  # The scanner's metrics (CloudWatch embedded metric format): the namespace, and the
  # Service dimension, which is SERVICE_NAME, else the Lambda function's name.
  metrics_namespace = "S3ClamAVScanner"

  quarantine_enabled = var.quarantine_bucket_name != null
  # S3 notifies the scan queue (scan_trigger sqs) rather than the function.
  use_queue = var.scan_trigger == "sqs"
  # The scan queue exists with the SQS trigger, and with the direct trigger when the rescan
  # is on: the rescan (and `scanner enqueue`) need a queue the Lambda scanner consumes.
  scan_queue_enabled = local.use_queue || var.rescan_on_definitions_update

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

# Memory the scanners need for the database the operator declares (definitions_signatures),
# from the scanner process's peak resident memory measured with ClamAV 1.4.6
# (infrastructure/README.md, "Memory against the database"). In MiB: the scanner, too,
# counts the function's and the task's memory sizes in MiB.
locals {
  # After a load: 315 MiB at 1 million signatures, 1617 MiB at 8.7 million (the official
  # database), on the straight line through both.
  engine_peak_mib = 315 + (1617 - 315) * (var.definitions_signatures - 1000000) / (8700000 - 1000000)
  # An exclusive reload (the old engine freed first) peaks at 1.2 times that (1936 MiB
  # measured at 8.7 million). The scanner's DEFINITIONS_RELOAD=auto falls back to it
  # whenever two engines do not fit, so it is what memory must hold at least. Integer
  # arithmetic (* 6 / 5, not * 1.2) keeps exact results exact.
  reload_peak_mib = local.engine_peak_mib * 6 / 5
  # Plus libclamav's own working memory, up to about 300 MiB per object scanned at once.
  scanner_memory_need_mib = ceil(local.reload_peak_mib + 300 * var.scanner_scan_concurrency)
  worker_memory_need_mib  = ceil(local.reload_peak_mib + 300 * var.worker_scan_concurrency)
  # With 20 % to spare.
  scanner_memory_min_mb = ceil(local.scanner_memory_need_mib * 6 / 5)
  worker_memory_min_mb  = ceil(local.worker_memory_need_mib * 6 / 5)
}

# One workspace per environment, each with its var file (envs/<workspace>.tfvars).
check "workspace_matches_environment" {
  assert {
    condition     = terraform.workspace == "default" || terraform.workspace == var.environment
    error_message = "Workspace \"${terraform.workspace}\" applies the var file of environment \"${var.environment}\": select the workspace named like the environment (terraform workspace select ${var.environment})."
  }
}

# Without versioning, an upload during a scan gets the previous content's verdict, and a
# deleted infected object is gone for good. The AWS provider has no data source for a
# bucket's versioning; the Cloud Control API reads it (AWS::S3::Bucket).
data "aws_cloudcontrolapi_resource" "scanned_bucket" {
  for_each = var.scanned_bucket_versioning_check == "off" ? {} : var.scanned_buckets

  type_name  = "AWS::S3::Bucket"
  identifier = each.key

  lifecycle {
    postcondition {
      condition     = var.scanned_bucket_versioning_check != "error" || try(jsondecode(self.properties).VersioningConfiguration.Status, "") == "Enabled"
      error_message = "Scanned bucket ${each.key} is not versioned (scanned_bucket_versioning_check = \"error\"). Enable versioning on it: aws s3api put-bucket-versioning --bucket ${each.key} --versioning-configuration Status=Enabled"
    }
  }
}

locals {
  unversioned_scanned_buckets = sort([for name, bucket in data.aws_cloudcontrolapi_resource.scanned_bucket : name if try(jsondecode(bucket.properties).VersioningConfiguration.Status, "") != "Enabled"])
}

check "scanned_buckets_versioned" {
  assert {
    condition     = var.scanned_bucket_versioning_check != "warn" || length(local.unversioned_scanned_buckets) == 0
    error_message = "Scanned buckets without versioning: ${join(", ", local.unversioned_scanned_buckets)}. A verdict can land on content uploaded during the scan, and a deleted object cannot be recovered. Enable versioning, or set scanned_bucket_versioning_check = \"error\" to refuse such buckets."
  }
}
