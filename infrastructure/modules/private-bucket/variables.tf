variable "bucket_name" {
  description = "Name of the bucket (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens."
  }
}

variable "force_destroy" {
  description = "Allow Terraform to delete the bucket while it still holds objects."
  type        = bool
  default     = false
}

variable "versioning_enabled" {
  description = "Keep object versions."
  type        = bool
  default     = true
}

variable "access_logging_enabled" {
  description = "Send server access logs to access_log_bucket_name. Off only for the access-log bucket itself."
  type        = bool
  default     = true
}

variable "access_log_bucket_name" {
  description = "Bucket that receives this bucket's server access logs."
  type        = string
  default     = null

  validation {
    condition     = !var.access_logging_enabled || var.access_log_bucket_name != null
    error_message = "access_log_bucket_name is required while access_logging_enabled is true."
  }
}

variable "access_log_prefix" {
  description = "Key prefix for this bucket's access logs in the log bucket."
  type        = string
  default     = null
}

variable "expiration_days" {
  description = "Days after which current objects expire; null keeps them."
  type        = number
  default     = null

  validation {
    condition     = var.expiration_days == null || try(var.expiration_days >= 1, false)
    error_message = "expiration_days must be null or at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which non-current object versions expire."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "policy_documents" {
  description = "Further bucket policy documents (JSON) merged with the module's deny-insecure-transport statement."
  type        = list(string)
  default     = []
}
