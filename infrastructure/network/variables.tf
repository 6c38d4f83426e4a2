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

variable "vpc_cidr" {
  description = "CIDR block of the VPC (/16 to /24)."
  type        = string
  default     = "10.42.0.0/20"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 CIDR block between /16 and /24."
  }
}

variable "availability_zones" {
  description = "The two availability zones of the private subnets; null takes the first two available ones."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zones == null || try(length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2, false)
    error_message = "availability_zones must be null or two distinct zone names."
  }
}

variable "s3_endpoint_bucket_names" {
  description = "Every bucket the functions in this VPC use (definitions, quarantine, scanned buckets). The S3 gateway endpoint's policy allows these and no other."
  type        = list(string)

  validation {
    condition     = length(var.s3_endpoint_bucket_names) > 0 && alltrue([for b in var.s3_endpoint_bucket_names : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))])
    error_message = "s3_endpoint_bucket_names must list at least one valid bucket name (no wildcards)."
  }
}

variable "interface_endpoint_services" {
  description = "AWS services (short names such as events, sqs) that get an interface endpoint with private DNS. The scanner needs events; the app's ECS worker (worker_enabled) also needs sqs, ecr.api, ecr.dkr and logs."
  type        = list(string)
  default     = ["events"]

  validation {
    condition     = contains(var.interface_endpoint_services, "events") && alltrue([for s in var.interface_endpoint_services : can(regex("^[a-z0-9][a-z0-9.-]*$", s))])
    error_message = "interface_endpoint_services must include events and contain only service short names (for example sqs, sts)."
  }
}

variable "flow_logs_enabled" {
  description = "Record the VPC's traffic (rejected and accepted) in CloudWatch Logs."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Retention of the flow log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}
