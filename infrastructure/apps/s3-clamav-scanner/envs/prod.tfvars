# terraform workspace select prod && terraform apply -var-file=envs/prod.tfvars
environment = "prod"
aws_region  = "eu-west-1"

definitions_bucket_name = "example-prod-clamav-definitions"
access_log_bucket_name  = "example-prod-clamav-access-logs"

scanned_buckets = {
  "example-prod-uploads" = {
    filter_prefix            = "incoming/"
    deny_unscanned_downloads = true
  }
  "example-prod-partner-drop" = {}
}

infected_action = "delete"
scan_trigger    = "sqs"

scanner_reserved_concurrency = 50

# CI passes the commit SHA: -var scanner_image_uri=...:$GITHUB_SHA
scanner_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-clamav-scanner-prod/scanner:set-by-ci"
updater_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-clamav-scanner-prod/definition-updater:set-by-ci"

network_state = {
  backend = "s3"
  config = {
    bucket               = "example-terraform-state"
    key                  = "s3-clamav-scanner/network.tfstate"
    region               = "eu-west-1"
    workspace_key_prefix = "env"
  }
}

alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:ops-alerts"]
