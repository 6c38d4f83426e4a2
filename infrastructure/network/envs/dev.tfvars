# terraform workspace select dev && terraform apply -var-file=envs/dev.tfvars
environment = "dev"
aws_region  = "eu-west-1"
vpc_cidr    = "10.42.0.0/20"

# Every bucket the scanner uses from inside the VPC: definitions, quarantine, scanned.
s3_endpoint_bucket_names = [
  "example-dev-clamav-definitions",
  "example-dev-clamav-quarantine",
  "example-dev-uploads",
]

flow_log_retention_days = 30
