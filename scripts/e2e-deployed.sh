#!/usr/bin/env bash
# End-to-end check against a deployed stack (run by .github/workflows/deploy.yml after
# terraform apply). Uploads two objects to a scanned bucket and waits for:
#
#   - the EICAR test file: the object is gone (deleted or quarantined by the scanner)
#     and an `Object Scan Result` event with verdict INFECTED for its key arrives in
#     the events queue (the bus rule `infected` -> Terraform output events_queue_url);
#   - a clean file: tagged scan-status=CLEAN.
#
# Environment:
#   E2E_BUCKET            a bucket the scanner watches (required)
#   E2E_PREFIX            key prefix the notification filters on, e.g. incoming/ (default empty)
#   E2E_EVENTS_QUEUE_URL  the events queue: terraform output -raw events_queue_url (required)
#   E2E_TIMEOUT           seconds to wait for the verdicts (default 300: a cold scanner
#                         loads the whole ClamAV database first)
#   AWS_REGION, credentials and AWS_ENDPOINT_URL as for the AWS CLI
#
# The objects are written under E2E_PREFIX + e2e/<run id>/ and the clean one is deleted
# at the end; events of other runs in the queue are left alone.
set -euo pipefail

bucket=${E2E_BUCKET:?E2E_BUCKET names a scanned bucket}
prefix=${E2E_PREFIX:-}
queue_url=${E2E_EVENTS_QUEUE_URL:?E2E_EVENTS_QUEUE_URL is the events queue (terraform output events_queue_url)}
timeout=${E2E_TIMEOUT:-300}

# The AWS CLI v1 ignores AWS_ENDPOINT_URL for some services (SQS): pass it explicitly.
aws_() {
    if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
        aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"
    else
        aws "$@"
    fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

run=$(date -u +%Y%m%dT%H%M%SZ)-$RANDOM
eicar_key="${prefix}e2e/$run/eicar.com"
clean_key="${prefix}e2e/$run/clean file.txt"

# The EICAR test file (https://www.eicar.org/download-anti-malware-testfile/), put
# together here so that this script itself is not taken for it.
printf '%s%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS' '-TEST-FILE!$H+H*' >"$work/eicar.com"
printf 'end-to-end check %s: a clean file\n' "$run" >"$work/clean.txt"

echo "== upload s3://$bucket/$eicar_key and s3://$bucket/$clean_key"
aws_ s3api put-object --bucket "$bucket" --key "$eicar_key" --body "$work/eicar.com" >/dev/null
clean_version=$(aws_ s3api put-object --bucket "$bucket" --key "$clean_key" --body "$work/clean.txt" \
    --query VersionId --output text)

deadline=$((SECONDS + timeout))
eicar_gone=false
infected_event=false
clean_tagged=false

object_exists() {
    aws_ s3api head-object --bucket "$bucket" --key "$1" >/dev/null 2>&1
}

clean_status() {
    aws_ s3api get-object-tagging --bucket "$bucket" --key "$clean_key" \
        --query "TagSet[?Key=='scan-status'].Value | [0]" --output text 2>/dev/null || true
}

# Receives up to 10 events; deletes and reports the INFECTED result for our key.
poll_events() {
    aws_ sqs receive-message --queue-url "$queue_url" --max-number-of-messages 10 \
        --wait-time-seconds 10 --visibility-timeout 5 --output json >"$work/messages.json"
    python3 - "$work/messages.json" "$bucket" "$eicar_key" >"$work/matched" <<'PYTHON'
import json, sys
path, bucket, key = sys.argv[1:4]
text = open(path).read().strip()
messages = json.loads(text).get("Messages", []) if text else []
for message in messages:
    try:
        event = json.loads(message["Body"])
    except ValueError:
        continue
    detail = event.get("detail") or {}
    s3 = detail.get("s3ObjectDetails") or {}
    if (event.get("detail-type") == "Object Scan Result" and detail.get("verdict") == "INFECTED"
            and s3.get("bucketName") == bucket and s3.get("objectKey") == key):
        threats = ", ".join(t.get("name", "?") for t in detail.get("threats") or [])
        print(message["ReceiptHandle"] + "\t" + f"action {detail.get('action')}, threats {threats or 'none named'}")
PYTHON
    local handle summary
    while IFS=$'\t' read -r handle summary; do
        aws_ sqs delete-message --queue-url "$queue_url" --receipt-handle "$handle"
        echo "ok: INFECTED event for $eicar_key ($summary)"
        infected_event=true
    done <"$work/matched"
}

echo "== wait up to $timeout s for the verdicts"
while ((SECONDS < deadline)); do
    if [ "$eicar_gone" = false ] && ! object_exists "$eicar_key"; then
        echo "ok: $eicar_key is gone"
        eicar_gone=true
    fi
    if [ "$clean_tagged" = false ]; then
        status=$(clean_status)
        case "$status" in
        CLEAN) echo "ok: $clean_key tagged scan-status=CLEAN"; clean_tagged=true ;;
        None | "") ;;
        *) echo "FAIL: $clean_key tagged scan-status=$status, expected CLEAN" >&2; break ;;
        esac
    fi
    [ "$infected_event" = true ] || poll_events
    if [ "$eicar_gone" = true ] && [ "$infected_event" = true ] && [ "$clean_tagged" = true ]; then
        break
    fi
    sleep 2
done

# The clean object has served its purpose (the EICAR one is already gone or, on
# failure, kept for inspection).
if [ "$clean_version" != None ] && [ -n "$clean_version" ]; then
    aws_ s3api delete-object --bucket "$bucket" --key "$clean_key" --version-id "$clean_version" >/dev/null || true
else
    aws_ s3api delete-object --bucket "$bucket" --key "$clean_key" >/dev/null || true
fi

failed=false
[ "$eicar_gone" = true ] || { echo "FAIL: s3://$bucket/$eicar_key still exists after $timeout s" >&2; failed=true; }
[ "$infected_event" = true ] || { echo "FAIL: no INFECTED Object Scan Result event for $eicar_key in the events queue" >&2; failed=true; }
[ "$clean_tagged" = true ] || { echo "FAIL: s3://$bucket/$clean_key not tagged scan-status=CLEAN" >&2; failed=true; }
if [ "$failed" = true ]; then
    exit 1
fi
echo "e2e: passed (run $run)"
