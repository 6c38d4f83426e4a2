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
  # manifest.json carries the key of the scanner's verdict proofs: nobody but the
  # scanner, the updater and the admins may read the bucket at all.
  definitions_readers = concat(local.scanner_role_arns, local.definitions_writers)
}

data "aws_iam_policy_document" "definitions_bucket" {
  statement {
    sid    = "DenyReadsExceptByTheScannerAndTheUpdater"
    effect = "Deny"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectAttributes",
      "s3:GetObjectVersionAttributes",
      "s3:GetObjectVersionForReplication",
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
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.definitions_readers
    }
  }

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
      values   = concat(local.scanner_role_arns, var.definitions_bucket_admin_arns)
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

# --- Protection of the scanned buckets --------------------------------------------------
# Under the scanned prefix, for every principal but the scanner's roles: no download of an
# object unless it is tagged CLEAN (fail closed), and no way to write, change or remove a
# scan tag, so that nobody can forge a verdict or erase one. Condition keys per action are
# those of the Service Authorization Reference for Amazon S3; infrastructure/README.md
# explains each statement and infrastructure/tests/policy_effects.py tests their effect.

locals {
  protected_buckets = { for name, bucket in var.scanned_buckets : name => bucket if bucket.deny_unscanned_downloads }
  # The tag keys as Sid-safe names (Sids are alphanumeric), e.g. file_type -> FileType.
  scan_tag_sids = { for role, key in var.scan_tag_keys : role => join("", [for word in split("_", role) : title(word)]) }

  # --- The download deny with exempt_filtered_objects_from_protection ---
  # The scanner scans, in a protected bucket, the keys that start with the notification
  # prefix P (and one of include_prefixes) and end with the notification suffix N (and one
  # of include_suffixes), minus the excluded ones. Without the exemption the deny covers
  # P*, every object the notification could name (fail closed). With it, the deny covers
  # exactly the keys that can be scanned: the includes as resources "P*N", and the excludes
  # as NotResource, which only works when the resources are the whole bucket.
  no_scan_filter = { include_prefixes = [], exclude_prefixes = [], include_suffixes = [], exclude_suffixes = [] }
  protected_scan_filters = { for name, _ in local.protected_buckets : name => {
    for field, empty in local.no_scan_filter : field => try(coalescelist(var.scan_filters[name][field]), empty)
  } }
  download_scopes = { for name, bucket in local.protected_buckets : name => {
    prefix = bucket.filter_prefix == null ? "" : bucket.filter_prefix
    suffix = bucket.filter_suffix == null ? "" : bucket.filter_suffix
  } }
  # Each include prefix within P (or P within it: the longer wins); likewise for suffixes.
  # "" marks an include that cannot meet the notification's filter.
  download_prefixes = { for name, scope in local.download_scopes : name => distinct(
    length(local.protected_scan_filters[name].include_prefixes) == 0 ? [scope.prefix] : compact([
      for include in local.protected_scan_filters[name].include_prefixes : startswith(include, scope.prefix) ? include : (startswith(scope.prefix, include) ? scope.prefix : "")
    ])
  ) }
  download_suffixes = { for name, scope in local.download_scopes : name => distinct(
    length(local.protected_scan_filters[name].include_suffixes) == 0 ? [scope.suffix] : compact([
      for include in local.protected_scan_filters[name].include_suffixes : endswith(include, scope.suffix) ? include : (endswith(scope.suffix, include) ? scope.suffix : "")
    ])
  ) }
  # "P*N" needs at least len(P) + len(N) characters, but a key may start with P and end
  # with N where they overlap (P = "ab", N = "bc": "abc"): those keys are added as they are.
  download_resources = { for name, _ in local.protected_buckets : name => distinct(flatten([
    for pair in setproduct(local.download_prefixes[name], local.download_suffixes[name]) : concat(
      ["arn:${local.partition}:s3:::${name}/${pair[0]}*${pair[1]}"],
      [for overlap in range(1, min(length(pair[0]), length(pair[1])) + 1) : "arn:${local.partition}:s3:::${name}/${pair[0]}${substr(pair[1], overlap, -1)}"
      if substr(pair[0], length(pair[0]) - overlap, overlap) == substr(pair[1], 0, overlap)],
    )
  ])) }
  download_exclusions = { for name, _ in local.protected_buckets : name => concat(
    [for prefix in local.protected_scan_filters[name].exclude_prefixes : "arn:${local.partition}:s3:::${name}/${prefix}*"],
    [for suffix in local.protected_scan_filters[name].exclude_suffixes : "arn:${local.partition}:s3:::${name}/*${suffix}"],
  ) }
  inexpressible_exemptions = sort([for name, _ in local.protected_buckets : name
  if length(local.download_exclusions[name]) > 0 && try(one(local.download_resources[name]), "") != "arn:${local.partition}:s3:::${name}/*"])
  unscanned_protected_buckets = sort([for name, _ in local.protected_buckets : name if length(local.download_resources[name]) == 0])

  download_deny = { for name, _ in local.protected_buckets : name => (
    !var.exempt_filtered_objects_from_protection ? { resources = [local.scanned_object_arns[name]], not_resources = null } :
    length(local.download_exclusions[name]) > 0 ? { resources = null, not_resources = local.download_exclusions[name] } :
    { resources = local.download_resources[name], not_resources = null }
  ) }
}

data "aws_iam_policy_document" "scanned_bucket" {
  for_each = local.protected_buckets

  source_policy_documents = compact([each.value.extra_policy_json])

  # Reads of the object's bytes (GetObjectAttributes returns its checksums) whose
  # authorisation carries the object's tags. HeadObject, SelectObjectContent and a copy
  # from this object are authorised as s3:GetObject(Version) and are denied with it.
  statement {
    sid    = "DenyDownloadsOfObjectsNotScannedClean"
    effect = "Deny"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectAttributes",
      "s3:GetObjectVersionAttributes",
    ]
    # Under the notification prefix; with exempt_filtered_objects_from_protection, only the
    # keys scan_filters lets the scanner scan (see download_deny above).
    resources     = local.download_deny[each.key].resources
    not_resources = local.download_deny[each.key].not_resources

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:ExistingObjectTag/${var.scan_tag_keys.status}"
      values   = ["CLEAN"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.scanner_role_arns
    }
  }

  # Reads of the bytes whose authorisation carries no object tags, so no CLEAN test is
  # possible: replication (it would copy unscanned objects elsewhere) and BitTorrent.
  statement {
    sid    = "DenyReadsThatCannotTestTheScanStatus"
    effect = "Deny"
    actions = [
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectTorrent",
      "s3:GetObjectVersionTorrent",
    ]
    resources = [local.scanned_object_arns[each.key]]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.scanner_role_arns
    }
  }

  # An upload (PutObject, POST, CreateMultipartUpload) or a tag write that names any scan
  # tag key.
  statement {
    sid    = "DenyWritingScanTags"
    effect = "Deny"
    actions = [
      "s3:PutObject",
      "s3:PutObjectTagging",
      "s3:PutObjectVersionTagging",
    ]
    resources = [local.scanned_object_arns[each.key]]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "s3:RequestObjectTagKeys"
      values   = values(var.scan_tag_keys)
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.scanner_role_arns
    }
  }

  # A server-side copy takes the source's tags (x-amz-tagging-directive COPY, the default)
  # without naming them in the request, and S3 has no condition key for that directive:
  # a copy from a bucket the uploader tags at will would arrive tagged CLEAN.
  statement {
    sid       = "DenyServerSideCopiesIn"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = [local.scanned_object_arns[each.key]]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Null"
      variable = "s3:x-amz-copy-source"
      values   = ["false"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.scanner_role_arns
    }
  }

  # A replica arrives with the tags of its source bucket, which no condition can inspect.
  statement {
    sid       = "DenyReplicasIn"
    effect    = "Deny"
    actions   = ["s3:ReplicateObject", "s3:ReplicateTags"]
    resources = [local.scanned_object_arns[each.key]]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.scanner_role_arns
    }
  }

  # PutObjectTagging replaces the whole tag set, so any tag write or delete on an object
  # that carries a scan tag could change or remove it. One statement per key: keys inside
  # one condition are ANDed, and any one present must block.
  dynamic "statement" {
    for_each = var.scan_tag_keys
    content {
      sid    = "DenyTagChangesOnObjectsWith${local.scan_tag_sids[statement.key]}Tag"
      effect = "Deny"
      actions = [
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
      ]
      resources = [local.scanned_object_arns[each.key]]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "Null"
        variable = "s3:ExistingObjectTag/${statement.value}"
        values   = ["false"]
      }

      condition {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = local.scanner_role_arns
      }
    }
  }
}

resource "aws_s3_bucket_policy" "scanned" {
  for_each = local.protected_buckets

  bucket = each.key
  policy = data.aws_iam_policy_document.scanned_bucket[each.key].json
}
