#!/usr/bin/env bash
# Tests scripts/e2e-deployed.sh itself against moto_server, with a stand-in for the
# deployed scanner (scripts/fake-deployed-scanner.py: tags clean objects CLEAN, deletes
# EICAR and sends the INFECTED event to the events queue as the bus rule would), then
# once more with a scanner that does nothing, which the check must fail.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-e2e-test.XXXXXX")
fake_pid=
cleanup() {
    [ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null || true
    scripts/moto-server.sh stop "$work/moto"
    rm -rf "$work"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
AWS_ENDPOINT_URL=$(scripts/moto-server.sh start "$work/moto")
export AWS_ENDPOINT_URL
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
aws s3api create-bucket --bucket uploads >/dev/null
aws s3api put-bucket-versioning --bucket uploads --versioning-configuration Status=Enabled
E2E_EVENTS_QUEUE_URL=$(aws sqs create-queue --queue-name events --query QueueUrl --output text)
export E2E_EVENTS_QUEUE_URL E2E_BUCKET=uploads E2E_PREFIX=incoming/

echo "== e2e-deployed.sh with a working scanner"
python3 scripts/fake-deployed-scanner.py --bucket uploads --prefix incoming/ \
    --queue-url "$E2E_EVENTS_QUEUE_URL" >"$work/fake.log" 2>&1 &
fake_pid=$!
if ! E2E_TIMEOUT=60 scripts/e2e-deployed.sh; then
    cat "$work/fake.log" >&2
    echo "test-e2e-script: the check failed against a working scanner" >&2
    exit 1
fi
kill "$fake_pid"
wait "$fake_pid" 2>/dev/null || true
fake_pid=

echo "== e2e-deployed.sh with no scanner (must fail)"
if E2E_TIMEOUT=8 scripts/e2e-deployed.sh; then
    echo "test-e2e-script: the check passed although nothing scanned the objects" >&2
    exit 1
fi
echo "test-e2e-script: passed"
