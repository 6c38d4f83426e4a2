output "name" {
  description = "Bucket name."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "Bucket ARN."
  value       = aws_s3_bucket.this.arn
}

output "policy_json" {
  description = "The bucket policy as installed."
  value       = data.aws_iam_policy_document.this.json
}
