#!/usr/bin/env bash
# End-to-end check against a deployed stack (run by .github/workflows/deploy.yml after
# terraform apply). Uploads three objects to a scanned bucket and waits for proof that the
# scanner handled each exact object version, not merely that something changed:
#
#   - the EICAR test file: its `Object Scan Result` event with verdict INFECTED, for this
#     key AND the version the upload created, arrives in the events queue (the target of
#     the bus rule `infected`), its action is DELETED, QUARANTINED or TAGGED, and when it
#     says DELETED or QUARANTINED that version is no longer listed. (On a protected bucket
#     HeadObject is denied for an unscanned object, so "HeadObject fails" proves nothing.)
#   - an encrypted zip: its `Object Scan Result` event with verdict UNSCANNABLE for this
#     key and version, through the rule `unscannable`;
#   - a clean file: its version is tagged scan-status=CLEAN, and the principal running the
#     check (allowed to read the bucket) can now download exactly the uploaded bytes.
#
# Environment:
#   E2E_BUCKET            a bucket the scanner watches (required)
#   E2E_PREFIX            key prefix the notification filters on, e.g. incoming/ (default empty)
#   E2E_EVENTS_QUEUE_URL  the events queue: terraform output -raw events_queue_url (required)
#   E2E_STATUS_TAG        the status tag key (default scan-status)
#   E2E_TIMEOUT           seconds to wait for the verdicts (default 300: a cold scanner
#                         loads the whole ClamAV database first)
#   AWS_REGION, credentials and AWS_ENDPOINT_URL as for the AWS CLI
#
# The objects are written under E2E_PREFIX + e2e/<run id>/; the clean and the unscannable
# versions are deleted at the end; events of other runs in the queue are left alone.
set -euo pipefail

bucket=${E2E_BUCKET:?E2E_BUCKET names a scanned bucket}
prefix=${E2E_PREFIX:-}
queue_url=${E2E_EVENTS_QUEUE_URL:?E2E_EVENTS_QUEUE_URL is the events queue (terraform output events_queue_url)}
status_tag=${E2E_STATUS_TAG:-scan-status}
timeout=${E2E_TIMEOUT:-300}
command -v zip >/dev/null || { echo "e2e: zip is needed to make the encrypted archive" >&2; exit 2; }

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
locked_key="${prefix}e2e/$run/locked.zip"
clean_key="${prefix}e2e/$run/clean file.txt"

# The EICAR test file (https://www.eicar.org/download-anti-malware-testfile/), put
# together here so that this script itself is not taken for it.
# shellcheck disable=SC2016 # the $ and the quotes are the test file's own characters
printf '%s%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS' '-TEST-FILE!$H+H*' >"$work/eicar.com"
printf 'end-to-end check %s: a clean file\n' "$run" >"$work/clean.txt"
printf 'end-to-end check %s: inside an encrypted archive\n' "$run" >"$work/secret.txt"
(cd "$work" && zip -q -P "e2e-$run" locked.zip secret.txt)

put() { # KEY FILE: prints the version ID the upload created ("None" when unversioned)
    aws_ s3api put-object --bucket "$bucket" --key "$1" --body "$2" --query VersionId --output text
}
echo "== upload to s3://$bucket/${prefix}e2e/$run/"
eicar_version=$(put "$eicar_key" "$work/eicar.com")
locked_version=$(put "$locked_key" "$work/locked.zip")
clean_version=$(put "$clean_key" "$work/clean.txt")
for version in "$eicar_version" "$locked_version" "$clean_version"; do
    if [ "$version" = None ]; then
        echo "warning: s3://$bucket is not versioned: events are matched by key only" >&2
        break
    fi
done

deadline=$((SECONDS + timeout))
infected_event=false
unscannable_event=false
clean_tagged=false
failed=false

version_args() { # VERSION: --version-id VERSION, unless unversioned
    [ "$1" = None ] || printf '%s\n' --version-id "$1"
}

clean_status() {
    local args
    mapfile -t args < <(version_args "$clean_version")
    aws_ s3api get-object-tagging --bucket "$bucket" --key "$clean_key" "${args[@]}" \
        --query "TagSet[?Key=='$status_tag'].Value | [0]" --output text 2>/dev/null || true
}

# Receives up to 10 events; deletes and prints (KIND TAB ACTION TAB RECEIPT) the result
# events for our objects' exact versions. Events of other runs stay in the queue.
poll_events() {
    aws_ sqs receive-message --queue-url "$queue_url" --max-number-of-messages 10 \
        --wait-time-seconds 10 --visibility-timeout 5 --output json >"$work/messages.json"
    python3 - "$work/messages.json" "$bucket" "$eicar_key" "$eicar_version" "$locked_key" "$locked_version" >"$work/matched" <<'PYTHON'
import json, sys
path, bucket = sys.argv[1:3]
wanted = {(sys.argv[3], sys.argv[4]): "INFECTED", (sys.argv[5], sys.argv[6]): "UNSCANNABLE"}
text = open(path).read().strip()
for message in (json.loads(text).get("Messages", []) if text else []):
    try:
        event = json.loads(message["Body"])
    except ValueError:
        continue
    detail = event.get("detail") or {}
    s3 = detail.get("s3ObjectDetails") or {}
    if event.get("detail-type") != "Object Scan Result" or s3.get("bucketName") != bucket:
        continue
    for (key, version), verdict in wanted.items():
        # "None": the bucket is not versioned, the upload created no version ID.
        if s3.get("objectKey") == key and (version == "None" or s3.get("versionId") == version):
            threats = ", ".join(t.get("name", "?") for t in detail.get("threats") or []) or "none named"
            print("\t".join([f"{detail.get('verdict')}/{verdict}", str(detail.get("action")), message["ReceiptHandle"], threats]))
PYTHON
    local kind action handle threats
    while IFS=$'\t' read -r kind action handle threats; do
        aws_ sqs delete-message --queue-url "$queue_url" --receipt-handle "$handle"
        case "$kind" in
        INFECTED/INFECTED)
            case "$action" in
            DELETED | QUARANTINED | TAGGED) echo "ok: INFECTED event for $eicar_key version $eicar_version, action $action, threats $threats"; infected_event=$action ;;
            *) echo "FAIL: INFECTED event for $eicar_key with action $action" >&2; failed=true ;;
            esac ;;
        UNSCANNABLE/UNSCANNABLE) echo "ok: UNSCANNABLE event for $locked_key version $locked_version (action $action)"; unscannable_event=true ;;
        *) echo "FAIL: ${kind%/*} event for an object expected ${kind#*/}" >&2; failed=true ;;
        esac
    done <"$work/matched"
}

echo "== wait up to $timeout s for the verdicts"
while ((SECONDS < deadline)) && [ "$failed" = false ]; do
    if [ "$clean_tagged" = false ]; then
        status=$(clean_status)
        case "$status" in
        CLEAN) echo "ok: $clean_key version $clean_version tagged $status_tag=CLEAN"; clean_tagged=true ;;
        None | "") ;;
        *) echo "FAIL: $clean_key tagged $status_tag=$status, expected CLEAN" >&2; failed=true ;;
        esac
    fi
    if [ "$infected_event" = false ] || [ "$unscannable_event" = false ]; then
        poll_events
    fi
    if [ "$infected_event" != false ] && [ "$unscannable_event" = true ] && [ "$clean_tagged" = true ]; then
        break
    fi
    sleep 2
done

# A scanner that says it removed the infected version must have removed exactly it.
if [ "$infected_event" = DELETED ] || [ "$infected_event" = QUARANTINED ]; then
    if [ "$eicar_version" = None ]; then
        listed=$(aws_ s3api list-objects-v2 --bucket "$bucket" --prefix "$eicar_key" --query "Contents[?Key=='$eicar_key'].Key" --output text)
    else
        listed=$(aws_ s3api list-object-versions --bucket "$bucket" --prefix "$eicar_key" \
            --query "Versions[?Key=='$eicar_key' && VersionId=='$eicar_version'].VersionId" --output text)
    fi
    if [ -n "$listed" ] && [ "$listed" != None ]; then
        echo "FAIL: the event says $infected_event, but $eicar_key version $eicar_version is still listed" >&2
        failed=true
    else
        echo "ok: $eicar_key version $eicar_version is no longer listed"
    fi
fi

# CLEAN lets readers download the object: exactly the bytes uploaded.
if [ "$clean_tagged" = true ]; then
    mapfile -t args < <(version_args "$clean_version")
    if aws_ s3api get-object --bucket "$bucket" --key "$clean_key" "${args[@]}" "$work/downloaded" >/dev/null &&
        cmp -s "$work/downloaded" "$work/clean.txt"; then
        echo "ok: the CLEAN object can be downloaded, unchanged"
    else
        echo "FAIL: the CLEAN object cannot be downloaded, or differs from the upload" >&2
        failed=true
    fi
fi

# The clean and unscannable objects have served their purpose (the EICAR one is already
# gone or, on failure, kept for inspection).
for pair in "$clean_key|$clean_version" "$locked_key|$locked_version"; do
    mapfile -t args < <(version_args "${pair#*|}")
    aws_ s3api delete-object --bucket "$bucket" --key "${pair%|*}" "${args[@]}" >/dev/null || true
done

[ "$infected_event" != false ] || { echo "FAIL: no INFECTED Object Scan Result event for $eicar_key version $eicar_version in the events queue" >&2; failed=true; }
[ "$unscannable_event" = true ] || { echo "FAIL: no UNSCANNABLE Object Scan Result event for $locked_key version $locked_version in the events queue" >&2; failed=true; }
[ "$clean_tagged" = true ] || { echo "FAIL: s3://$bucket/$clean_key version $clean_version not tagged $status_tag=CLEAN" >&2; failed=true; }
if [ "$failed" = true ]; then
    exit 1
fi
echo "e2e: passed (run $run)"
