variable "name" {
  description = "Repository name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) <= 256
    error_message = "name must be a valid ECR repository name (lower case, digits, . _ - and /)."
  }
}

variable "keep_tagged_images" {
  description = "How many tagged images to keep; older ones expire."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_tagged_images >= 1 && floor(var.keep_tagged_images) == var.keep_tagged_images
    error_message = "keep_tagged_images must be a whole number of at least 1."
  }
}

variable "untagged_image_expiry_days" {
  description = "Days after which untagged images (build leftovers) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_image_expiry_days >= 1 && floor(var.untagged_image_expiry_days) == var.untagged_image_expiry_days
    error_message = "untagged_image_expiry_days must be a whole number of at least 1."
  }
}

variable "force_delete" {
  description = "Allow Terraform to delete the repository while it still holds images."
  type        = bool
  default     = false
}
