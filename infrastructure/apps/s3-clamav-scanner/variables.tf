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
    the notification, and deny_unscanned_downloads to install a bucket policy that denies
    GetObject on objects whose scan-status tag is not CLEAN (the scanner's role exempt).
    Terraform then owns the bucket's whole notification configuration, and with
    deny_unscanned_downloads its whole bucket policy: pass the statements it must keep in
    extra_policy_json.
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
# passes it here; scripts/check-architecture.py fails when the two differ.
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
  description = "Scanner memory. The full official database needs about 1.2 GiB once compiled, plus the object being scanned: keep at least 3008."
  type        = number
  default     = 3008

  validation {
    condition     = var.scanner_memory_mb >= 2048 && var.scanner_memory_mb <= 10240
    error_message = "scanner_memory_mb must be between 2048 (the official database does not fit in less) and 10240."
  }
}

variable "scanner_ephemeral_storage_mb" {
  description = "Scanner /tmp: the database files (about 400 MB) plus the largest object it downloads."
  type        = number
  default     = 4096

  validation {
    condition     = var.scanner_ephemeral_storage_mb >= 1024 && var.scanner_ephemeral_storage_mb <= 10240
    error_message = "scanner_ephemeral_storage_mb must be between 1024 and 10240."
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
  description = "Concurrency reserved for (and capping) the scanner."
  type        = number
  default     = 20

  validation {
    condition     = var.scanner_reserved_concurrency >= 1 && var.scanner_reserved_concurrency <= 1000
    error_message = "scanner_reserved_concurrency must be between 1 and 1000."
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

variable "max_object_size_bytes" {
  description = "Objects larger than this are UNSCANNABLE (MAX_OBJECT_SIZE). Must fit in /tmp beside the database (1 GiB reserved)."
  type        = number
  default     = 2147483648

  validation {
    condition     = var.max_object_size_bytes >= 1 && floor(var.max_object_size_bytes) == var.max_object_size_bytes
    error_message = "max_object_size_bytes must be a positive whole number."
  }

  validation {
    condition     = var.max_object_size_bytes <= (var.scanner_ephemeral_storage_mb - 1024) * 1048576
    error_message = "max_object_size_bytes must fit in the scanner's ephemeral storage minus 1 GiB kept for the database: raise scanner_ephemeral_storage_mb or lower the limit."
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
  description = "Receives of a message before it moves to the redrive queue (scan_trigger sqs)."
  type        = number
  default     = 3

  validation {
    condition     = var.scan_queue_max_receive_count >= 1 && var.scan_queue_max_receive_count <= 1000
    error_message = "scan_queue_max_receive_count must be between 1 and 1000."
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

  validation {
    condition     = alltrue([for m in var.clamav_database_mirrors : can(regex("^[A-Za-z0-9.:/_-]+$", m))])
    error_message = "clamav_database_mirrors must be host names or URLs without commas or spaces."
  }
}

variable "clamav_private_mirrors" {
  description = "PrivateMirror URLs (CLAMAV_PRIVATE_MIRRORS)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.clamav_private_mirrors : can(regex("^https?://[^,\\s]+$", m))])
    error_message = "clamav_private_mirrors must be http(s) URLs without commas or spaces."
  }
}

variable "clamav_custom_urls" {
  description = "DatabaseCustomURL entries (CLAMAV_CUSTOM_URLS) for extra signature files."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.clamav_custom_urls : can(regex("^(https?|file)://[^,\\s]+$", u))])
    error_message = "clamav_custom_urls must be http(s) or file URLs without commas or spaces."
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
