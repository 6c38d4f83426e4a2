terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70, < 6.0"
    }
  }

  # Local state by default (state/ per workspace under terraform.tfstate.d). For S3, add
  # backend_override.tf with `terraform { backend "s3" {} }` and run
  # `terraform init -backend-config=envs/<env>.s3.tfbackend` (see ../README.md).
  backend "local" {}
}
