# terraform workspace select prod && terraform apply -var-file=envs/prod.tfvars
environment = "prod"
aws_region  = "eu-west-1"
vpc_cidr    = "10.43.0.0/20"

# Every bucket the scanner uses from inside the VPC: definitions, quarantine, scanned.
s3_endpoint_bucket_names = [
  "example-prod-clamav-definitions",
  "example-prod-uploads",
  "example-prod-partner-drop",
]

flow_log_retention_days = 365
