# --- Access logs ----------------------------------------------------------------------

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "S3ServerAccessLogDelivery"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.access_log_bucket_name}/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

module "access_log_bucket" {
  source = "../../modules/private-bucket"

  bucket_name        = var.access_log_bucket_name
  force_destroy      = var.force_destroy
  versioning_enabled = true
  # Logging a log bucket into itself would loop.
  access_logging_enabled             = false
  expiration_days                    = var.access_log_retention_days
  noncurrent_version_expiration_days = 7
  policy_documents                   = [data.aws_iam_policy_document.access_logs.json]
}

# --- Definitions ----------------------------------------------------------------------

locals {
  # Principals that may use the definitions bucket from outside the VPC endpoint.
  definitions_writers = concat([module.updater.role_arn], var.definitions_bucket_admin_arns)
}

data "aws_iam_policy_document" "definitions_bucket" {
  # Reads only through the scanner's VPC endpoint. The updater runs outside the VPC (it
  # must reach the ClamAV mirror) and restores the previous database before each run, so
  # it is exempt, as are the break-glass admins.
  statement {
    sid    = "DenyReadsOutsideTheVpcEndpoint"
    effect = "Deny"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectTagging",
      "s3:GetObjectVersionTagging",
      "s3:ListBucket",
      "s3:ListBucketVersions",
    ]
    resources = [local.definitions_bucket_arn, "${local.definitions_bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:SourceVpce"
      values   = [local.network.s3_endpoint_id]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.definitions_writers
    }
  }

  # Only the updater writes the database.
  statement {
    sid    = "DenyWritesExceptByTheUpdater"
    effect = "Deny"
    actions = [
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:PutObjectVersionTagging",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:RestoreObject",
    ]
    resources = ["${local.definitions_bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.definitions_writers
    }
  }
}

module "definitions_bucket" {
  source = "../../modules/private-bucket"

  bucket_name                        = var.definitions_bucket_name
  force_destroy                      = var.force_destroy
  access_log_bucket_name             = var.access_log_bucket_name
  noncurrent_version_expiration_days = 14
  policy_documents                   = [data.aws_iam_policy_document.definitions_bucket.json]

  depends_on = [module.access_log_bucket]
}

# --- Quarantine -----------------------------------------------------------------------

data "aws_iam_policy_document" "quarantine_bucket" {
  count = local.quarantine_enabled ? 1 : 0

  # Only the scanner puts objects into quarantine.
  statement {
    sid       = "DenyPutsExceptByTheScanner"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${local.quarantine_bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = concat([module.scanner.role_arn], var.definitions_bucket_admin_arns)
    }
  }
}

module "quarantine_bucket" {
  source = "../../modules/private-bucket"
  count  = local.quarantine_enabled ? 1 : 0

  bucket_name            = var.quarantine_bucket_name
  force_destroy          = var.force_destroy
  access_log_bucket_name = var.access_log_bucket_name
  expiration_days        = var.quarantine_retention_days
  policy_documents       = [data.aws_iam_policy_document.quarantine_bucket[0].json]

  depends_on = [module.access_log_bucket]
}

# --- Download protection on the scanned buckets ---------------------------------------

locals {
  protected_buckets = { for name, bucket in var.scanned_buckets : name => bucket if bucket.deny_unscanned_downloads }
}

data "aws_iam_policy_document" "scanned_bucket" {
  for_each = local.protected_buckets

  source_policy_documents = compact([each.value.extra_policy_json])

  # Fail closed: an object without the tag, or with any other value, cannot be
  # downloaded. The scanner must read it to scan it.
  statement {
    sid       = "DenyDownloadsOfObjectsNotScannedClean"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.scanned_object_arns[each.key]]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:ExistingObjectTag/${local.scan_status_tag_key}"
      values   = ["CLEAN"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [module.scanner.role_arn]
    }
  }
}

resource "aws_s3_bucket_policy" "scanned" {
  for_each = local.protected_buckets

  bucket = each.key
  policy = data.aws_iam_policy_document.scanned_bucket[each.key].json
}
