# --- Provider and naming ---------------------------------------------------------

variable "aws_region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like eu-west-1."
  }
}

variable "aws_endpoint_url" {
  description = "Endpoint of a local AWS emulator (for example http://127.0.0.1:5000) for every service; null talks to AWS."
  type        = string
  default     = null

  validation {
    condition     = var.aws_endpoint_url == null || can(regex("^https?://[^/\\s]+/?$", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be null or an http(s) URL such as http://127.0.0.1:5000."
  }
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "s3-clamav-scanner"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod, ...); should match the workspace."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lower-case letters and digits, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource (added to the provider's default tags)."
  type        = map(string)
  default     = {}
}

# --- Network (read from the network root's state) ---------------------------------

variable "network_state" {
  description = "Where the network root keeps its state: backend \"local\" (config { path = ... }) or \"s3\" (config { bucket, key, region, ... }). The workspace is this root's workspace."
  type = object({
    backend = string
    config  = map(string)
  })
  default = {
    backend = "local"
    config  = { path = "../../network/terraform.tfstate" }
  }

  validation {
    condition     = contains(["local", "s3"], var.network_state.backend)
    error_message = "network_state.backend must be local or s3."
  }
}

# --- Buckets ------------------------------------------------------------------------

variable "definitions_bucket_name" {
  description = "Name of the private bucket that holds the ClamAV database (created here)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.definitions_bucket_name))
    error_message = "definitions_bucket_name must be a valid S3 bucket name."
  }
}

variable "definitions_prefix" {
  description = "Key prefix of the database in the definitions bucket (DEFINITIONS_PREFIX)."
  type        = string
  default     = "clamav/"

  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()-]+/)+$", var.definitions_prefix))
    error_message = "definitions_prefix must be one or more path segments, each ending in /, without wildcards such as ? or spaces (for example clamav/)."
  }
}

variable "definitions_bucket_admin_arns" {
  description = "Break-glass principals (role or user ARNs) exempt from the definitions bucket's read and write denies and from the quarantine bucket's put deny. Empty by default."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.definitions_bucket_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "definitions_bucket_admin_arns must contain IAM role or user ARNs."
  }
}

variable "access_log_bucket_name" {
  description = "Name of the bucket (created here) that receives the server access logs of this system's buckets."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket_name))
    error_message = "access_log_bucket_name must be a valid S3 bucket name."
  }
}

variable "access_log_retention_days" {
  description = "Days after which access logs expire."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "quarantine_bucket_name" {
  description = "Name of the quarantine bucket to create; null creates none. Required when infected_action is quarantine."
  type        = string
  default     = null

  validation {
    condition     = var.quarantine_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.quarantine_bucket_name))
    error_message = "quarantine_bucket_name must be null or a valid S3 bucket name."
  }
}

variable "quarantine_retention_days" {
  description = "Days after which quarantined objects expire."
  type        = number
  default     = 90

  validation {
    condition     = var.quarantine_retention_days >= 1
    error_message = "quarantine_retention_days must be at least 1."
  }
}

variable "scanned_buckets" {
  description = <<-EOT
    Existing buckets to scan, by name. For each: optional key prefix and suffix filters of
    the notification, and deny_unscanned_downloads to install a bucket policy that, under
    the prefix and for every principal but the scanner, denies downloads of objects whose
    scan-status tag is not CLEAN and denies writing, changing or removing any scan tag
    (see infrastructure/README.md). Terraform then owns the bucket's whole notification
    configuration, and with deny_unscanned_downloads its whole bucket policy: pass the
    statements it must keep in extra_policy_json.
  EOT
  type = map(object({
    filter_prefix            = optional(string)
    filter_suffix            = optional(string)
    deny_unscanned_downloads = optional(bool, false)
    extra_policy_json        = optional(string)
  }))

  validation {
    condition     = length(var.scanned_buckets) > 0
    error_message = "scanned_buckets must name at least one bucket."
  }

  validation {
    condition     = alltrue([for name, _ in var.scanned_buckets : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", name))])
    error_message = "Every key of scanned_buckets must be a valid S3 bucket name."
  }

  validation {
    condition     = alltrue([for _, b in var.scanned_buckets : b.extra_policy_json == null || can(jsondecode(b.extra_policy_json).Statement)])
    error_message = "extra_policy_json must be null or a policy document in JSON."
  }
}

variable "scanned_bucket_versioning_check" {
  description = "What Terraform does about a scanned bucket that is not versioned: warn, error (refuse to plan) or off (no look-up, for emulators without the Cloud Control API, which Terraform reads versioning through). Without versioning a verdict can land on content uploaded during the scan, and a deleted object cannot be recovered."
  type        = string
  default     = "warn"

  validation {
    condition     = contains(["warn", "error", "off"], var.scanned_bucket_versioning_check)
    error_message = "scanned_bucket_versioning_check must be warn, error or off."
  }
}

variable "scanned_bucket_kms_key_arns" {
  description = "Customer-managed KMS keys (key ARNs, not aliases) that encrypt objects in the scanned buckets (SSE-KMS). The scanner may use exactly these, only through S3 and only for objects of the scanned buckets."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.scanned_bucket_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))])
    error_message = "scanned_bucket_kms_key_arns must contain KMS key ARNs (arn:aws:kms:REGION:ACCOUNT:key/ID); an alias ARN does not match the key in IAM."
  }
}

variable "scan_tag_keys" {
  description = "Names of the tags the scanner writes (TAG_KEY_STATUS, _SIGNATURE, _TIME, _DEFINITIONS, _PROOF, _FILE_TYPE). The download protection reads the status tag and forbids everyone but the scanner to write any of them."
  type = object({
    status      = optional(string, "scan-status")
    signature   = optional(string, "scan-signature")
    time        = optional(string, "scan-time")
    definitions = optional(string, "scan-definitions")
    proof       = optional(string, "scan-proof")
    file_type   = optional(string, "scan-file-type")
  })
  default = {}

  # The scanner's rule for tag keys: S3's character set, at most 128 characters.
  validation {
    condition     = alltrue([for key in values(var.scan_tag_keys) : can(regex("^[\\p{L}\\p{N} +\\-=._:/@]{1,128}$", key))])
    error_message = "Every scan tag key must be 1-128 letters, digits, spaces or + - = . _ : / @."
  }

  validation {
    condition     = length(distinct(values(var.scan_tag_keys))) == 6
    error_message = "The six scan tag keys must differ."
  }
}

variable "force_destroy" {
  description = "Let Terraform delete buckets and repositories that still hold objects or images (tests and throw-away environments only)."
  type        = bool
  default     = false
}

# --- Images -------------------------------------------------------------------------

variable "scanner_image_uri" {
  description = "Image of the scanner: the scanner repository URL and a tag (the commit SHA in CI)."
  type        = string

  validation {
    condition     = can(regex("^[^\\s:@]+(:[A-Za-z0-9_.-]{1,128}|@sha256:[a-f0-9]{64})$", var.scanner_image_uri))
    error_message = "scanner_image_uri must be REPOSITORY:TAG or REPOSITORY@sha256:DIGEST."
  }
}

variable "updater_image_uri" {
  description = "Image of the definition updater: the updater repository URL and a tag (the commit SHA in CI)."
  type        = string

  validation {
    condition     = can(regex("^[^\\s:@]+(:[A-Za-z0-9_.-]{1,128}|@sha256:[a-f0-9]{64})$", var.updater_image_uri))
    error_message = "updater_image_uri must be REPOSITORY:TAG or REPOSITORY@sha256:DIGEST."
  }
}

# x86_64: the images are built and tested on x86_64 (no arm64 toolchain there). Must
# equal LAMBDA_ARCHITECTURE in .github/workflows/deploy.yml, which builds the images and
# passes it here; Tests/lint/check-architecture.py fails when the two differ.
variable "lambda_architecture" {
  description = "Instruction set of both functions; the images must be built for it (Lambda runs no multi-architecture image)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "ecr_keep_tagged_images" {
  description = "How many tagged images each repository keeps."
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_keep_tagged_images >= 1
    error_message = "ecr_keep_tagged_images must be at least 1."
  }
}

# --- Scanner function ---------------------------------------------------------------

variable "scanner_memory_mb" {
  description = "Scanner memory in MB. Must hold the database of definitions_signatures with 20 % to spare: 1.2 * (1.2 * the engine's load peak + 300 MiB * scanner_scan_concurrency) (infrastructure/README.md, Memory against the database). At the official database's 8.7 million signatures that is 2690: 3008 holds up to about 10 million. It does not hold two engines (a reload beside the old one peaked at 3131 MiB), so the scanner's DEFINITIONS_RELOAD=auto reloads exclusively here (peak 1936 MiB, 64 %)."
  type        = number
  default     = 3008

  validation {
    condition     = var.scanner_memory_mb >= 2048 && var.scanner_memory_mb <= 10240
    error_message = "scanner_memory_mb must be between 2048 (the official database does not fit in less) and 10240."
  }

  validation {
    condition     = var.scanner_memory_mb >= local.scanner_memory_min_mb
    error_message = "scanner_memory_mb (${var.scanner_memory_mb}) is too small for definitions_signatures = ${var.definitions_signatures}: the scanner needs about ${local.scanner_memory_need_mib} MiB = 1.2 * ${ceil(local.engine_peak_mib)} MiB for the engine (an exclusive reload) + 300 MiB * scanner_scan_concurrency (${var.scanner_scan_concurrency}) for the objects being scanned, so at least ${local.scanner_memory_min_mb} MB with 20 % to spare. Raise scanner_memory_mb (at most 10240), or lower scanner_scan_concurrency or the declared database size."
  }
}

variable "scanner_ephemeral_storage_mb" {
  description = "Scanner /tmp in MB. Must hold what one instance needs at worst: scanner_scan_concurrency * (max_object_size_bytes + 2 * max_scan_size_bytes) + 2 * definitions_disk_mb + 256 MiB (the objects, what the scanner's unpacker and libclamav extract from each, two database copies during a reload)."
  type        = number
  default     = 8192

  validation {
    condition     = var.scanner_ephemeral_storage_mb >= 1024 && var.scanner_ephemeral_storage_mb <= 10240
    error_message = "scanner_ephemeral_storage_mb must be between 1024 and 10240."
  }

  validation {
    condition = var.scanner_ephemeral_storage_mb * 1048576 >= (
      var.scanner_scan_concurrency * (var.max_object_size_bytes + 2 * coalesce(var.max_scan_size_bytes, var.max_object_size_bytes))
      + 2 * var.definitions_disk_mb * 1048576 + 268435456
    )
    error_message = "scanner_ephemeral_storage_mb (${var.scanner_ephemeral_storage_mb}) is less than the scanner's worst case, ${ceil((var.scanner_scan_concurrency * (var.max_object_size_bytes + 2 * coalesce(var.max_scan_size_bytes, var.max_object_size_bytes)) + 2 * var.definitions_disk_mb * 1048576 + 268435456) / 1048576)} MB = scanner_scan_concurrency * (max_object_size_bytes + 2 * max_scan_size_bytes) + 2 * definitions_disk_mb + 256 MiB: raise it (at most 10240) or lower those."
  }
}

variable "scanner_scan_concurrency" {
  description = "Objects one scanner instance scans at once (SCAN_CONCURRENCY). A Lambda invocation carries one object (direct trigger) or scan_queue_batch_size of them (SQS)."
  type        = number
  default     = 1

  validation {
    condition     = var.scanner_scan_concurrency >= 1 && var.scanner_scan_concurrency <= 16 && floor(var.scanner_scan_concurrency) == var.scanner_scan_concurrency
    error_message = "scanner_scan_concurrency must be a whole number between 1 and 16."
  }
}

variable "definitions_signatures" {
  description = "Signatures in the database the scanners load (the scanner logs the count as signatures in its \"definitions loaded\" line). The official database has about 8.7 million. Terraform checks scanner_memory_mb and worker_memory_mb against it, from the scanner process's peak memory after a load measured with ClamAV 1.4.6: 315 MiB at 1 million signatures, 1617 MiB at 8.7 million, straight-line between and beyond (infrastructure/README.md, Memory against the database). Declare the size of the official and custom databases together."
  type        = number
  default     = 8700000

  validation {
    condition     = var.definitions_signatures >= 1 && floor(var.definitions_signatures) == var.definitions_signatures
    error_message = "definitions_signatures must be a whole number of signatures, at least 1 (the official database has about 8700000)."
  }
}

variable "definitions_disk_mb" {
  description = "Size of the ClamAV database on disk, in MB, as the updater publishes it (the official one is under 1 GiB). Used to check the scanners' disk sizes."
  type        = number
  default     = 1024

  validation {
    condition     = var.definitions_disk_mb >= 1 && var.definitions_disk_mb <= 8192
    error_message = "definitions_disk_mb must be between 1 and 8192."
  }
}

variable "scanner_timeout_seconds" {
  description = "Scanner timeout: the first invocation of an instance loads the database (15-25 s) before it scans."
  type        = number
  default     = 300

  validation {
    condition     = var.scanner_timeout_seconds >= 60 && var.scanner_timeout_seconds <= 900
    error_message = "scanner_timeout_seconds must be between 60 and 900."
  }
}

variable "scanner_reserved_concurrency" {
  description = "Concurrency reserved for (and capping) the scanner. With the SQS trigger it is also the event source mapping's maximum concurrency, so that Lambda does not poll more messages than it may run (throttled messages would count receives towards the redrive queue)."
  type        = number
  default     = 20

  validation {
    condition     = var.scanner_reserved_concurrency >= 1 && var.scanner_reserved_concurrency <= 1000
    error_message = "scanner_reserved_concurrency must be between 1 and 1000."
  }

  # An SQS event source mapping's maximum concurrency is at least 2 (Lambda API).
  validation {
    condition     = (var.scan_trigger != "sqs" && !var.rescan_on_definitions_update) || var.scanner_reserved_concurrency >= 2
    error_message = "With scan_trigger = sqs or rescan_on_definitions_update, scanner_reserved_concurrency must be at least 2: the scan queue's event source mapping's maximum concurrency matches it, and Lambda accepts no less than 2."
  }
}

variable "infected_action" {
  description = "What the scanner does with an infected object version (INFECTED_ACTION): delete, quarantine (needs quarantine_bucket_name) or tag."
  type        = string
  default     = "delete"

  validation {
    condition     = contains(["delete", "quarantine", "tag"], var.infected_action)
    error_message = "infected_action must be delete, quarantine or tag."
  }

  validation {
    condition     = var.infected_action != "quarantine" || var.quarantine_bucket_name != null
    error_message = "infected_action = quarantine needs quarantine_bucket_name."
  }
}

variable "blocked_action" {
  description = "What the scanner does with a BLOCKED object version, one whose detected file type file_type_policy does not allow (BLOCKED_ACTION): tag (default), delete or quarantine (needs quarantine_bucket_name)."
  type        = string
  default     = "tag"

  validation {
    condition     = contains(["delete", "quarantine", "tag"], var.blocked_action)
    error_message = "blocked_action must be tag, delete or quarantine."
  }

  validation {
    condition     = var.blocked_action != "quarantine" || var.quarantine_bucket_name != null
    error_message = "blocked_action = quarantine needs quarantine_bucket_name."
  }
}

variable "file_type_policy" {
  description = <<-EOT
    File types each scanned bucket, or prefix of one, accepts (FILE_TYPE_POLICY), as
    libclamav's type detection names them (PNG, JPEG, GIF, PDF, MSEXE, ZIP, HTML, ...; never
    by extension or Content-Type), keyed "bucket" or "bucket/prefix":
    { "uploads/avatars/" = ["PNG", "JPEG"], "invoices" = ["PDF"] }. The longest matching
    prefix of the object's bucket applies; objects no entry matches accept every type. A
    clean object of another type is BLOCKED (tag scan-file-type = its type), and
    blocked_action applies. Empty (default): every type.
  EOT
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for location, _ in var.file_type_policy : contains(keys(var.scanned_buckets), split("/", location)[0])])
    error_message = "Every key of file_type_policy must be a scanned bucket, optionally followed by /prefix (for example uploads/avatars/)."
  }

  # FILE_TYPE_POLICY is BUCKET[/PREFIX]=TYPE,TYPE;... and the scanner trims each rule.
  validation {
    condition     = alltrue([for location, _ in var.file_type_policy : !can(regex("[;=]", location)) && trimspace(location) == location])
    error_message = "file_type_policy keys must not contain ; or = nor start or end with white space."
  }

  # "uploads" and "uploads/" are the same rule for the scanner.
  validation {
    condition     = length(distinct([for location, _ in var.file_type_policy : strcontains(location, "/") ? location : "${location}/"])) == length(var.file_type_policy)
    error_message = "file_type_policy names a bucket twice (\"bucket\" and \"bucket/\" are the same rule)."
  }

  validation {
    condition     = alltrue([for types in values(var.file_type_policy) : length(types) > 0 && alltrue([for type in types : can(regex("^[A-Za-z0-9_]+$", type))])])
    error_message = "file_type_policy must list at least one type per entry, each a libclamav type name of letters, digits and _ (PNG, JPEG, PDF, MSEXE...)."
  }
}

variable "scan_filters" {
  description = <<-EOT
    Which objects of a scanned bucket are scanned at all (SCAN_FILTERS), by bucket:
    include_prefixes, exclude_prefixes, include_suffixes, exclude_suffixes (lists; an
    object is scanned when its key starts with one of include_prefixes, or that list is
    empty, starts with none of exclude_prefixes, and likewise for the suffixes) and
    min_size (bytes). Skipped objects get no verdict and no tag: on a protected bucket
    they stay undownloadable unless exempt_filtered_objects_from_protection is on.
    Buckets without an entry are scanned whole.
  EOT
  type = map(object({
    include_prefixes = optional(list(string))
    exclude_prefixes = optional(list(string))
    include_suffixes = optional(list(string))
    exclude_suffixes = optional(list(string))
    min_size         = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for bucket, filter in var.scan_filters : contains(keys(var.scanned_buckets), bucket) && filter != null])
    error_message = "Every key of scan_filters must be a scanned bucket, with a filter object."
  }

  validation {
    condition = alltrue(flatten([for filter in values(var.scan_filters) : [
      for list in [filter.include_prefixes, filter.exclude_prefixes, filter.include_suffixes, filter.exclude_suffixes] : [
        for value in(list == null ? [] : list) : value != ""
      ]
    ] if filter != null]))
    error_message = "scan_filters prefixes and suffixes must be non-empty strings."
  }

  validation {
    condition     = alltrue([for filter in values(var.scan_filters) : try(filter.min_size >= 0 && floor(filter.min_size) == filter.min_size, filter.min_size == null)])
    error_message = "scan_filters min_size must be a whole number of bytes, 0 or more."
  }
}

variable "exempt_filtered_objects_from_protection" {
  description = <<-EOT
    On protected buckets (deny_unscanned_downloads), leave the objects that scan_filters
    (and the notification's suffix) exclude by key out of the download deny, so that they
    can be read without a CLEAN tag they will never get. Includes narrow the deny's
    resources (bucket/prefix*suffix); excludes become its NotResource (bucket/prefix*,
    bucket/*suffix), which IAM can only combine with a deny of the whole bucket: a bucket
    with a notification prefix, include lists or a notification suffix and excludes is
    refused. Objects skipped for min_size stay denied (no condition key carries an
    object's size). Off by default: excluded objects stay undownloadable.
  EOT
  type        = bool
  default     = false

  # Wildcards and policy variables in an excluded prefix or suffix would exempt more than
  # the scanner skips.
  validation {
    condition = !var.exempt_filtered_objects_from_protection || alltrue(flatten([for bucket, filter in var.scan_filters : [
      for value in concat(try(coalescelist(filter.exclude_prefixes), []), try(coalescelist(filter.exclude_suffixes), [])) : !can(regex("[*?]|\\$\\{", value))
    ] if try(var.scanned_buckets[bucket].deny_unscanned_downloads, false)]))
    error_message = "With exempt_filtered_objects_from_protection, the exclude_prefixes and exclude_suffixes of protected buckets must not contain *, ? or $${: in the bucket policy they would be wildcards or policy variables and exempt more objects than the scanner skips."
  }

  validation {
    condition     = !var.exempt_filtered_objects_from_protection || length(local.inexpressible_exemptions) == 0
    error_message = "exempt_filtered_objects_from_protection cannot exempt what scan_filters excludes on ${join(", ", local.inexpressible_exemptions)}: the download deny there covers only part of the bucket (a notification prefix or suffix, or include lists), and a bucket policy statement cannot deny \"under this prefix but not under that one\" (Resource and NotResource do not combine). Drop the notification prefix/suffix and include lists of that bucket (so the deny covers the whole bucket minus the excludes), or keep its excluded objects protected."
  }

  validation {
    condition     = !var.exempt_filtered_objects_from_protection || length(local.unscanned_protected_buckets) == 0
    error_message = "scan_filters includes nothing under the notification prefix and suffix of ${join(", ", local.unscanned_protected_buckets)}: nothing there would be scanned."
  }
}

variable "max_object_size_bytes" {
  description = "Objects larger than this are UNSCANNABLE for the Lambda scanner (MAX_OBJECT_SIZE), or, with worker_enabled, forwarded to the ECS worker. libclamav 1.4 scans at most 2147483645 bytes as one file; larger objects are the worker's (it scans them in windows, with Fargate's disk). See scanner_ephemeral_storage_mb for the disk it needs."
  type        = number
  default     = 2000000000

  validation {
    condition     = var.max_object_size_bytes >= 1 && var.max_object_size_bytes <= 2147483645 && floor(var.max_object_size_bytes) == var.max_object_size_bytes
    error_message = "max_object_size_bytes must be a whole number between 1 and 2147483645 (libclamav scans at most INT_MAX - 2 bytes as one file; larger objects belong to the ECS worker, worker_enabled, whose limit is worker_max_object_size_bytes)."
  }
}

variable "max_scan_size_bytes" {
  description = "Bytes unpacked from one object, per unpacker, before the object is UNSCANNABLE (MAX_SCAN_SIZE); null = max_object_size_bytes."
  type        = number
  default     = null

  validation {
    condition     = var.max_scan_size_bytes == null || try(var.max_scan_size_bytes >= 1 && floor(var.max_scan_size_bytes) == var.max_scan_size_bytes, false)
    error_message = "max_scan_size_bytes must be null or a positive whole number."
  }
}

variable "max_scan_time_ms" {
  description = "Milliseconds one object's scan may take before it is UNSCANNABLE (MAX_SCAN_TIME). At most (scanner_timeout_seconds - 30) * 1000, so that a scan that hits the limit still leaves the function time to tag and publish."
  type        = number
  default     = 120000

  validation {
    condition     = var.max_scan_time_ms >= 1000 && floor(var.max_scan_time_ms) == var.max_scan_time_ms
    error_message = "max_scan_time_ms must be a whole number of at least 1000."
  }

  validation {
    condition     = var.max_scan_time_ms <= (var.scanner_timeout_seconds - 30) * 1000
    error_message = "max_scan_time_ms (${var.max_scan_time_ms}) must be at most (scanner_timeout_seconds - 30) * 1000 = ${(var.scanner_timeout_seconds - 30) * 1000}: the function needs the rest to tag and publish."
  }
}

variable "publish_clean_results" {
  description = "Publish an Object Scan Result event for clean objects too (PUBLISH_CLEAN_RESULTS)."
  type        = bool
  default     = true
}

variable "definitions_check_interval_seconds" {
  description = "Seconds between the scanner's checks of the definitions manifest (DEFINITIONS_CHECK_INTERVAL)."
  type        = number
  default     = 300

  validation {
    condition     = var.definitions_check_interval_seconds >= 10 && var.definitions_check_interval_seconds <= 86400
    error_message = "definitions_check_interval_seconds must be between 10 and 86400."
  }
}

variable "max_definitions_age_hours" {
  description = "Age in hours after which the scanner reports its database stale (MAX_DEFINITIONS_AGE); also the stale-definitions alarm threshold."
  type        = number
  default     = 48

  validation {
    condition     = var.max_definitions_age_hours >= 24 && var.max_definitions_age_hours <= 720
    error_message = "max_definitions_age_hours must be between 24 (the updater runs daily) and 720."
  }
}

variable "scan_trigger" {
  description = "How S3 notifications reach the scanner: direct (asynchronous invocation) or sqs (a queue in between, with a redrive queue)."
  type        = string
  default     = "direct"

  validation {
    condition     = contains(["direct", "sqs"], var.scan_trigger)
    error_message = "scan_trigger must be direct or sqs."
  }
}

variable "scan_queue_batch_size" {
  description = "Messages per scanner invocation when scan_trigger is sqs. 1 keeps one failure from retrying other objects."
  type        = number
  default     = 1

  validation {
    condition     = var.scan_queue_batch_size >= 1 && var.scan_queue_batch_size <= 10
    error_message = "scan_queue_batch_size must be between 1 and 10."
  }
}

variable "scan_queue_max_receive_count" {
  description = "Receives of a message before it moves to the redrive queue (the scan queue with scan_trigger sqs, and the worker's queue). At least 5, as AWS advises for Lambda, so that a throttled or briefly failing scan is retried before it is given up."
  type        = number
  default     = 5

  validation {
    condition     = var.scan_queue_max_receive_count >= 5 && var.scan_queue_max_receive_count <= 1000
    error_message = "scan_queue_max_receive_count must be between 5 and 1000."
  }
}

variable "rescan_on_definitions_update" {
  description = "Rescan recent objects when the updater publishes new definitions: a rule on the bus sends Definitions Updated to the scan queue, and the Lambda scanner lists the scanned buckets (under their notification prefixes, RESCAN_BUCKETS) and queues there the objects it had found CLEAN with older definitions and that were modified within rescan_window_hours. The scan queue is created for it with the direct trigger too (S3 then still invokes the function directly)."
  type        = bool
  default     = false

  # RESCAN_BUCKETS is comma-separated BUCKET/PREFIX, each trimmed by the scanner.
  validation {
    condition     = !var.rescan_on_definitions_update || alltrue([for bucket in values(var.scanned_buckets) : bucket.filter_prefix == null || try(!strcontains(bucket.filter_prefix, ",") && trimspace(bucket.filter_prefix) == bucket.filter_prefix, false)])
    error_message = "With rescan_on_definitions_update, no scanned bucket's filter_prefix may contain a comma or start or end with white space (RESCAN_BUCKETS is a comma-separated list)."
  }
}

variable "rescan_window_hours" {
  description = "Only objects modified within this many hours before a definitions update are rescanned (RESCAN_WINDOW). A week by default."
  type        = number
  default     = 168

  validation {
    condition     = var.rescan_window_hours >= 1 && var.rescan_window_hours <= 87600 && floor(var.rescan_window_hours) == var.rescan_window_hours
    error_message = "rescan_window_hours must be a whole number between 1 and 87600 (ten years)."
  }
}

# --- Updater function ---------------------------------------------------------------

variable "updater_memory_mb" {
  description = "Updater memory: it validates the new database by loading it."
  type        = number
  default     = 3008

  validation {
    condition     = var.updater_memory_mb >= 2048 && var.updater_memory_mb <= 10240
    error_message = "updater_memory_mb must be between 2048 and 10240."
  }
}

variable "updater_ephemeral_storage_mb" {
  description = "Updater /tmp: the previous and the new database side by side."
  type        = number
  default     = 2048

  validation {
    condition     = var.updater_ephemeral_storage_mb >= 1024 && var.updater_ephemeral_storage_mb <= 10240
    error_message = "updater_ephemeral_storage_mb must be between 1024 and 10240."
  }
}

variable "updater_timeout_seconds" {
  description = "Updater timeout."
  type        = number
  default     = 900

  validation {
    condition     = var.updater_timeout_seconds >= 60 && var.updater_timeout_seconds <= 900
    error_message = "updater_timeout_seconds must be between 60 and 900."
  }
}

variable "updater_schedule_expression" {
  description = "When the updater runs (EventBridge schedule, UTC). Daily by default, off the hour to spread mirror load."
  type        = string
  default     = "cron(17 3 * * ? *)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.updater_schedule_expression))
    error_message = "updater_schedule_expression must be rate(N unit) or cron(...)."
  }
}

variable "invoke_updater_on_deploy" {
  description = "Invoke the updater once when it is created or its image changes, so that definitions exist before the first scan. Apply then fails if that update fails."
  type        = bool
  default     = true
}

variable "clamav_official_databases" {
  description = "Download the official databases (CLAMAV_OFFICIAL_DATABASES); false fetches only clamav_custom_urls."
  type        = bool
  default     = true
}

variable "clamav_database_mirrors" {
  description = "DatabaseMirror hosts (CLAMAV_DATABASE_MIRRORS); empty uses freshclam's default."
  type        = list(string)
  default     = []

  # The updater's rule: a host name (optionally :port) or an http(s) URL.
  validation {
    condition     = alltrue([for m in var.clamav_database_mirrors : can(regex("^([A-Za-z0-9][A-Za-z0-9.:-]*|https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^,\\s]*)?)$", m))])
    error_message = "clamav_database_mirrors must be host names (optionally with :port) or http(s) URLs, without commas or spaces."
  }
}

variable "clamav_private_mirrors" {
  description = "PrivateMirror URLs (CLAMAV_PRIVATE_MIRRORS)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.clamav_private_mirrors : can(regex("^([A-Za-z0-9][A-Za-z0-9.:-]*|https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^,\\s]*)?)$", m))])
    error_message = "clamav_private_mirrors must be host names (optionally with :port) or http(s) URLs, without commas or spaces."
  }
}

variable "clamav_custom_urls" {
  description = "DatabaseCustomURL entries (CLAMAV_CUSTOM_URLS) for extra signature files."
  type        = list(string)
  default     = []

  # The updater's rule: http(s) only (freshclam's file:// support is not offered), and the
  # last path segment is a file name libclamav loads (freshclam names the download after it).
  validation {
    condition     = alltrue([for u in var.clamav_custom_urls : can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]+)?/([^,\\s]*/)?[^/,\\s]+\\.(db|hdb|hdu|fp|mdb|mdu|hsb|hsu|sfp|msb|msu|ndb|ndu|ldb|ldu|sdb|zmd|rmd|pdb|gdb|wdb|cbc|ftm|cfg|cvd|cld|cud|cdb|cat|crb|idb|ioc|yar|yara|pwdb|ign|ign2|imp)$", lower(u)))])
    error_message = "clamav_custom_urls must be http(s) URLs, without commas or spaces, ending in a ClamAV database file name (such as NAME.ndb, NAME.hdb, NAME.ldb, NAME.yar)."
  }

  validation {
    condition     = var.clamav_official_databases || length(var.clamav_custom_urls) > 0
    error_message = "With clamav_official_databases = false, clamav_custom_urls must name at least one database."
  }
}

variable "min_update_interval_seconds" {
  description = "Minimum seconds between two downloads by the updater (MIN_UPDATE_INTERVAL). The ClamAV mirror rate-limits more frequent ones."
  type        = number
  default     = 3600

  validation {
    condition     = var.min_update_interval_seconds >= 3600
    error_message = "min_update_interval_seconds must be at least 3600: the ClamAV mirror allows one update per hour."
  }
}

# --- Operations ---------------------------------------------------------------------

variable "lambda_maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation before the on-failure destination (the bus) gets it."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.lambda_maximum_retry_attempts)
    error_message = "lambda_maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "lambda_maximum_event_age_seconds" {
  description = "Age after which an undelivered asynchronous event goes to the on-failure destination."
  type        = number
  default     = 21600

  validation {
    condition     = var.lambda_maximum_event_age_seconds >= 60 && var.lambda_maximum_event_age_seconds <= 21600
    error_message = "lambda_maximum_event_age_seconds must be between 60 and 21600."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' logs."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when an alarm fires or recovers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-z-]*:", arn))])
    error_message = "alarm_actions must contain ARNs."
  }
}

variable "dashboard_enabled" {
  description = "Create a CloudWatch dashboard (objects by verdict, latency, bytes, definitions age, queue and redrive depth) from the metrics the alarms watch."
  type        = bool
  default     = true
}

# --- ECS worker (optional) ---------------------------------------------------------

variable "worker_enabled" {
  description = "Run `scanner worker` as an ECS Fargate service for objects larger than the Lambda scanner's max_object_size_bytes (up to worker_max_object_size_bytes, 100 GiB by default). Every object still reaches the Lambda scanner first; it forwards those over its limit to the worker's queue (LARGE_OBJECT_QUEUE_URL) instead of marking them UNSCANNABLE. The network root must have the interface endpoints sqs, ecr.api, ecr.dkr and logs."
  type        = bool
  default     = false
}

variable "worker_cpu" {
  description = "Fargate CPU units of one worker task (1024 = 1 vCPU)."
  type        = number
  default     = 2048

  validation {
    condition     = contains([1024, 2048, 4096, 8192, 16384], var.worker_cpu)
    error_message = "worker_cpu must be 1024, 2048, 4096, 8192 or 16384 (the engine needs at least 1 vCPU)."
  }
}

variable "worker_memory_mb" {
  description = "Memory of one worker task in MB. Must hold the database of definitions_signatures with 20 % to spare, as scanner_memory_mb does, with worker_scan_concurrency (2690 at the official database's 8.7 million signatures). 8192 also holds two engines with room (a reload beside the old one peaked at 3131 MiB, plus 300 MiB for the object: 3431 MiB), so the scanner's DEFINITIONS_RELOAD=auto reloads alongside and scans go on during a reload; 4096 holds the two engines too, but without the 20 % to spare."
  type        = number
  default     = 8192

  validation {
    condition     = var.worker_memory_mb >= 4096 && var.worker_memory_mb % 1024 == 0
    error_message = "worker_memory_mb must be a multiple of 1024, at least 4096 (two engines during a reload)."
  }

  # Fargate's CPU and memory pairs: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
  validation {
    condition = lookup({
      1024  = var.worker_memory_mb <= 8192
      2048  = var.worker_memory_mb <= 16384
      4096  = var.worker_memory_mb <= 30720
      8192  = var.worker_memory_mb >= 16384 && var.worker_memory_mb <= 61440 && var.worker_memory_mb % 4096 == 0
      16384 = var.worker_memory_mb >= 32768 && var.worker_memory_mb <= 122880 && var.worker_memory_mb % 8192 == 0
    }, var.worker_cpu, false)
    error_message = "worker_memory_mb ${var.worker_memory_mb} is not a Fargate size for worker_cpu ${var.worker_cpu} (1024: up to 8192; 2048: up to 16384; 4096: up to 30720; 8192: 16384-61440 in steps of 4096; 16384: 32768-122880 in steps of 8192)."
  }

  # Only when the worker runs: its memory is unused otherwise.
  validation {
    condition     = !var.worker_enabled || var.worker_memory_mb >= local.worker_memory_min_mb
    error_message = "worker_memory_mb (${var.worker_memory_mb}) is too small for definitions_signatures = ${var.definitions_signatures}: the worker needs about ${local.worker_memory_need_mib} MiB = 1.2 * ${ceil(local.engine_peak_mib)} MiB for the engine (an exclusive reload) + 300 MiB * worker_scan_concurrency (${var.worker_scan_concurrency}) for the objects being scanned, so at least ${local.worker_memory_min_mb} MB with 20 % to spare (the next multiple of 1024: ${ceil(local.worker_memory_min_mb / 1024) * 1024}). Raise worker_memory_mb (and worker_cpu if Fargate needs it), or lower worker_scan_concurrency or the declared database size."
  }
}

variable "worker_ephemeral_storage_gib" {
  description = "Fargate ephemeral storage of one worker task in GiB (21-200). Holds the image (1 GiB reserved) and worker_scan_concurrency * (worker_max_object_size_bytes + 2 * worker_max_scan_size_bytes) + 2 * definitions_disk_mb + 256 MiB: with the defaults 1 * (100 GiB + 2 * 40 GiB) + 2 GiB + 256 MiB + 1 GiB = 183.25 GiB."
  type        = number
  default     = 184

  validation {
    condition     = var.worker_ephemeral_storage_gib >= 21 && var.worker_ephemeral_storage_gib <= 200 && floor(var.worker_ephemeral_storage_gib) == var.worker_ephemeral_storage_gib
    error_message = "worker_ephemeral_storage_gib must be a whole number between 21 and 200 (Fargate)."
  }

  validation {
    condition = var.worker_ephemeral_storage_gib * 1073741824 >= (
      var.worker_scan_concurrency * (var.worker_max_object_size_bytes + 2 * coalesce(var.worker_max_scan_size_bytes, var.worker_max_object_size_bytes))
      + 2 * var.definitions_disk_mb * 1048576 + 268435456 + 1073741824
    )
    error_message = "worker_ephemeral_storage_gib (${var.worker_ephemeral_storage_gib}) is less than the worker's worst case, ${ceil((var.worker_scan_concurrency * (var.worker_max_object_size_bytes + 2 * coalesce(var.worker_max_scan_size_bytes, var.worker_max_object_size_bytes)) + 2 * var.definitions_disk_mb * 1048576 + 268435456 + 1073741824) / 1073741824)} GiB = worker_scan_concurrency * (worker_max_object_size_bytes + 2 * worker_max_scan_size_bytes) + 2 * definitions_disk_mb + 256 MiB + 1 GiB for the image. Raise worker_ephemeral_storage_gib (Fargate allows at most 200), or lower worker_max_scan_size_bytes, worker_scan_concurrency or worker_max_object_size_bytes."
  }
}

variable "worker_scan_concurrency" {
  description = "Objects one worker task scans at once (SCAN_CONCURRENCY). 1 by default: the worker gets only large objects, each needing its own disk (see worker_ephemeral_storage_gib); more tasks scale out instead."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_scan_concurrency >= 1 && var.worker_scan_concurrency <= 64 && floor(var.worker_scan_concurrency) == var.worker_scan_concurrency
    error_message = "worker_scan_concurrency must be a whole number between 1 and 64."
  }
}

variable "worker_max_object_size_bytes" {
  description = "Objects larger than this are UNSCANNABLE for the worker (its MAX_OBJECT_SIZE). The scanner scans objects over 2147483645 bytes (the most libclamav takes as one file) in overlapping windows, up to 100 GiB."
  type        = number
  default     = 107374182400

  validation {
    condition     = var.worker_max_object_size_bytes >= 1 && var.worker_max_object_size_bytes <= 107374182400 && floor(var.worker_max_object_size_bytes) == var.worker_max_object_size_bytes
    error_message = "worker_max_object_size_bytes must be a whole number between 1 and 107374182400 (100 GiB, the most the scanner takes)."
  }

  # The worker receives only what the Lambda scanner forwards as too large for itself.
  validation {
    condition     = !var.worker_enabled || var.worker_max_object_size_bytes > var.max_object_size_bytes
    error_message = "worker_max_object_size_bytes (${var.worker_max_object_size_bytes}) must be larger than max_object_size_bytes (${var.max_object_size_bytes}): the worker gets only the objects the Lambda scanner forwards because they exceed max_object_size_bytes, and would mark them all UNSCANNABLE."
  }
}

variable "worker_max_scan_size_bytes" {
  description = "The worker's MAX_SCAN_SIZE (bytes each unpacker may extract from one object); null = worker_max_object_size_bytes. 40 GiB by default, so that a 100 GiB object fits Fargate's 200 GiB of disk (see worker_ephemeral_storage_gib)."
  type        = number
  default     = 42949672960

  validation {
    condition     = var.worker_max_scan_size_bytes == null || try(var.worker_max_scan_size_bytes >= 1 && var.worker_max_scan_size_bytes <= 214748364800 && floor(var.worker_max_scan_size_bytes) == var.worker_max_scan_size_bytes, false)
    error_message = "worker_max_scan_size_bytes must be null or a whole number between 1 and 214748364800 (200 GiB, the most the scanner takes)."
  }
}

variable "worker_max_scan_time_ms" {
  description = "The worker's MAX_SCAN_TIME in milliseconds (no Lambda deadline applies; the worker keeps the message invisible while it scans). One hour by default, the scanner's maximum: the worker scans objects of up to 100 GiB."
  type        = number
  default     = 3600000

  validation {
    condition     = var.worker_max_scan_time_ms >= 1000 && var.worker_max_scan_time_ms <= 3600000 && floor(var.worker_max_scan_time_ms) == var.worker_max_scan_time_ms
    error_message = "worker_max_scan_time_ms must be a whole number between 1000 and 3600000."
  }
}

variable "worker_max_tasks" {
  description = "Most worker tasks autoscaling may run. The service scales to zero when its queue is idle."
  type        = number
  default     = 10

  validation {
    condition     = var.worker_max_tasks >= 1 && var.worker_max_tasks <= 1000 && floor(var.worker_max_tasks) == var.worker_max_tasks
    error_message = "worker_max_tasks must be a whole number between 1 and 1000."
  }
}

variable "worker_idle_minutes_before_scale_in" {
  description = "Minutes the worker's queue must be empty (nothing visible or in flight) before the service scales to zero."
  type        = number
  default     = 15

  validation {
    condition     = var.worker_idle_minutes_before_scale_in >= 1 && var.worker_idle_minutes_before_scale_in <= 1440 && floor(var.worker_idle_minutes_before_scale_in) == var.worker_idle_minutes_before_scale_in
    error_message = "worker_idle_minutes_before_scale_in must be a whole number between 1 and 1440."
  }
}
