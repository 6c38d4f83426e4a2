# terraform workspace select dev && terraform apply -var-file=envs/dev.tfvars
environment = "dev"
aws_region  = "eu-west-1"

definitions_bucket_name = "example-dev-clamav-definitions"
access_log_bucket_name  = "example-dev-clamav-access-logs"
quarantine_bucket_name  = "example-dev-clamav-quarantine"

scanned_buckets = {
  "example-dev-uploads" = {
    deny_unscanned_downloads = true
  }
}

infected_action = "quarantine"
scan_trigger    = "direct"

# CI passes the commit SHA: -var scanner_image_uri=...:$GITHUB_SHA
scanner_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-clamav-scanner-dev/scanner:latest-dev"
updater_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-clamav-scanner-dev/definition-updater:latest-dev"

network_state = {
  backend = "local"
  config = {
    path          = "../../network/terraform.tfstate"
    workspace_dir = "../../network/terraform.tfstate.d"
  }
}

log_retention_days = 30
force_destroy      = true
