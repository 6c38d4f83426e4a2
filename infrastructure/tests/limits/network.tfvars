# The network that limits/app.tfvars needs (Tests/suites/terraform.sh renders the app's
# environment from these two files and starts each executable's configuration on it).
environment = "limits"
s3_endpoint_bucket_names = [
  "limits-clamav-definitions",
  "limits-clamav-quarantine",
  "limits-uploads",
]
interface_endpoint_services = ["events", "sqs", "ecr.api", "ecr.dkr", "logs"]
