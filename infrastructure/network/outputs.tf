output "vpc_id" {
  description = "VPC ID."
  value       = aws_vpc.this.id
}

output "availability_zones" {
  description = "Zones of the private subnets."
  value       = local.availability_zones
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per zone."
  value       = [for zone in local.availability_zones : aws_subnet.private[zone].id]
}

output "private_route_table_ids" {
  description = "IDs of the private route tables."
  value       = [for zone in local.availability_zones : aws_route_table.private[zone].id]
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint (the aws:SourceVpce value of requests through it)."
  value       = aws_vpc_endpoint.s3.id
}

output "s3_endpoint_bucket_names" {
  description = "Buckets the S3 endpoint's policy allows."
  value       = var.s3_endpoint_bucket_names
}

output "interface_endpoint_ids" {
  description = "Interface endpoint IDs by service."
  value       = { for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id }
}

output "scanner_security_group_id" {
  description = "Security group of the scanner (the Lambda function and the optional ECS worker)."
  value       = aws_security_group.scanner.id
}

output "endpoints_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}
