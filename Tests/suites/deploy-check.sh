#!/usr/bin/env bash
# Tests scripts/e2e-deployed.sh itself against moto_server, with stand-ins for the deployed
# scanner (Tests/suites/fake-deployed-scanner.py): the check must pass with a scanner that does
# its job, and fail with none, with one that acts but publishes no events, with one whose
# events name another version, and with one whose event claims a deletion it did not do.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-e2e-test.XXXXXX")
fake_pid=
stop_fake() {
    if [ -n "$fake_pid" ]; then
        kill "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
        fake_pid=
    fi
}
cleanup() {
    stop_fake
    scripts/lib/moto-server.sh stop "$work/moto"
    rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
AWS_ENDPOINT_URL=$(scripts/lib/moto-server.sh start "$work/moto")
export AWS_ENDPOINT_URL
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
aws s3api create-bucket --bucket uploads >/dev/null
aws s3api put-bucket-versioning --bucket uploads --versioning-configuration Status=Enabled
E2E_EVENTS_QUEUE_URL=$(aws sqs create-queue --queue-name events --query QueueUrl --output text)
export E2E_EVENTS_QUEUE_URL E2E_BUCKET=uploads E2E_PREFIX=incoming/

with_scanner() { # MODE TIMEOUT: runs the check against a fake scanner in MODE (none: no scanner)
    if [ "$1" != none ]; then
        python3 Tests/suites/fake-deployed-scanner.py --bucket uploads --prefix incoming/ --mode "$1" \
            --queue-url "$E2E_EVENTS_QUEUE_URL" >"$work/fake-$1.log" 2>&1 &
        fake_pid=$!
    fi
    local status=0
    E2E_TIMEOUT=$2 scripts/e2e-deployed.sh >"$work/check-$1.log" 2>&1 || status=$?
    stop_fake
    return "$status"
}

echo "== e2e-deployed.sh with a working scanner"
if ! with_scanner working 60; then
    cat "$work/check-working.log" "$work/fake-working.log" >&2
    echo "deploy-check: the check failed against a working scanner" >&2
    exit 1
fi
cat "$work/check-working.log"
# The events of other runs (and of other versions) are left in the queue: visible, or still
# in flight for the few seconds of the check's visibility timeout.
left=$(aws sqs get-queue-attributes --queue-url "$E2E_EVENTS_QUEUE_URL" \
    --attribute-names ApproximateNumberOfMessages ApproximateNumberOfMessagesNotVisible \
    --query 'sum([to_number(Attributes.ApproximateNumberOfMessages), to_number(Attributes.ApproximateNumberOfMessagesNotVisible)])' --output text)
if [ "$left" -lt 2 ]; then
    echo "deploy-check: the check consumed events that were not its own ($left left)" >&2
    exit 1
fi

for mode in none silent wrong-version lying; do
    echo "== e2e-deployed.sh with scanner mode $mode (must fail)"
    if with_scanner "$mode" 15; then
        cat "$work/check-$mode.log" >&2
        echo "deploy-check: the check passed although the scanner ($mode) did not prove its verdicts" >&2
        exit 1
    fi
    grep -E '^FAIL' "$work/check-$mode.log" | awk 'NR <= 3' # awk reads it all: head could SIGPIPE grep
done
echo "deploy-check: passed"
