# Every setting at the edge of what Terraform accepts (validation in variables.tf), so that
# a value Terraform lets through but an executable refuses fails Tests/suites/terraform.sh.
environment = "limits"

definitions_bucket_name = "limits-clamav-definitions"
definitions_prefix      = "a.b_c-d!'(e)*/f/"
access_log_bucket_name  = "limits-clamav-access-logs"
quarantine_bucket_name  = "limits-clamav-quarantine"
infected_action         = "quarantine"
scanned_buckets = {
  "limits-uploads" = { filter_prefix = "in/", filter_suffix = ".pdf", deny_unscanned_downloads = true }
}

scan_tag_keys = {
  status      = "Statut du scan é"
  signature   = "av:signature"
  time        = "av/time@utc"
  definitions = "av.definitions_version"
  proof       = "av+proof=1"
  file_type   = "av-file-type"
}

scan_trigger                       = "sqs"
scanner_reserved_concurrency       = 2
scanner_timeout_seconds            = 900
max_scan_time_ms                   = 870000
scanner_scan_concurrency           = 16
max_object_size_bytes              = 100000000
max_scan_size_bytes                = 200000000
scanner_ephemeral_storage_mb       = 10240
definitions_disk_mb                = 1024
definitions_check_interval_seconds = 10
max_definitions_age_hours          = 720
publish_clean_results              = false

# 16 objects at once in Lambda's most memory, with the largest database that holds:
# 1.2 * 3111 MiB for the engine + 16 * 300 MiB = 8533 MiB, 1.2 * 8533 = 10239.6 MB (one
# signature more needs 10241).
scanner_memory_mb      = 10240
definitions_signatures = 17534498

# 100 GiB objects on Fargate's largest disk: 1 * (100 GiB + 2 * 51942260736) + 2 GiB + 256 MiB
# + 1 GiB = exactly 200 GiB.
worker_enabled               = true
worker_scan_concurrency      = 1
worker_max_object_size_bytes = 107374182400
worker_max_scan_size_bytes   = 51942260736
worker_ephemeral_storage_gib = 200
worker_max_scan_time_ms      = 3600000

rescan_on_definitions_update = true
rescan_window_hours          = 87600
blocked_action               = "quarantine"
file_type_policy = {
  "limits-uploads"               = ["PDF"]
  "limits-uploads/in/a b,c(d)é/" = ["png", "JPEG", "MSEXE", "HTML_UTF16"]
  "limits-uploads/in/z"          = ["ZIP"]
}
scan_filters = {
  "limits-uploads" = {
    include_prefixes = ["in/", "in/x y/"]
    exclude_prefixes = ["in/tmp/"]
    include_suffixes = [".pdf", ".PDF"]
    exclude_suffixes = [".part", "é.pdf"]
    min_size         = 0
  }
}

clamav_official_databases   = false
clamav_database_mirrors     = ["db.local.example:8080", "https://mirror.example.com/clamav"]
clamav_private_mirrors      = ["https://private.example.com:8443/clamav"]
clamav_custom_urls          = ["https://sigs.example.com/custom.ndb", "http://sigs.example.com:8080/a/b/rules.YARA"]
min_update_interval_seconds = 3600

scanner_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/limits/scanner@sha256:0000000000000000000000000000000000000000000000000000000000000000"
updater_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/limits/definition-updater:v1.2.3_rc-1"
