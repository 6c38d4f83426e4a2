locals {
  # Points every AWS API this root calls at one emulator (moto_server) when set.
  emulated = var.aws_endpoint_url != null
}

provider "aws" {
  region = var.aws_region

  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_requesting_account_id  = local.emulated
  s3_use_path_style           = local.emulated

  endpoints {
    applicationautoscaling = var.aws_endpoint_url
    cloudcontrolapi        = var.aws_endpoint_url
    cloudwatch             = var.aws_endpoint_url
    ec2                    = var.aws_endpoint_url
    ecr                    = var.aws_endpoint_url
    ecs                    = var.aws_endpoint_url
    events                 = var.aws_endpoint_url
    iam                    = var.aws_endpoint_url
    kms                    = var.aws_endpoint_url
    lambda                 = var.aws_endpoint_url
    logs                   = var.aws_endpoint_url
    s3                     = var.aws_endpoint_url
    sqs                    = var.aws_endpoint_url
    sts                    = var.aws_endpoint_url
  }

  default_tags {
    tags = merge(var.tags, {
      Project            = var.name
      Environment        = var.environment
      ManagedBy          = "terraform"
      TerraformPath      = "infrastructure/apps/s3-clamav-scanner"
      TerraformWorkspace = terraform.workspace
    })
  }
}
