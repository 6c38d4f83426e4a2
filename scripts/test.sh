#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, builds,
# starts the emulators the tests need, runs every suite, and stops what it started.
# Every suite runs even when an earlier one failed; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-test.XXXXXX")
cleanup() {
    scripts/lib/moto-server.sh stop "$work/moto"
    scripts/lib/moto-server.sh stop "$work/moto-auth"
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"

passed=0
failed=0
failures=()
suite() {
    local name=$1
    shift
    echo "== $name: $*"
    local started=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "== $name passed in $((SECONDS - started)) s"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "== $name FAILED in $((SECONDS - started)) s"
    fi
}

suite "swift build" swift build --build-tests

MOTO_ENDPOINT=$(scripts/lib/moto-server.sh start "$work/moto")
export MOTO_ENDPOINT

# A second moto that checks request signatures (for the AWS layer's integration tests). Its
# first 3 actions are unauthenticated: they create the IAM user whose key the tests sign with.
MOTO_AUTH_ENDPOINT=$(scripts/lib/moto-server.sh start "$work/moto-auth" INITIAL_NO_AUTH_ACTION_COUNT=3)
motoaws() {
    env AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap AWS_DEFAULT_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        aws --endpoint-url "$MOTO_AUTH_ENDPOINT" --output json "$@"
}
motoaws iam create-user --user-name awsclients-tests >/dev/null
motoaws iam put-user-policy --user-name awsclients-tests --policy-name everything \
    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
motoaws iam create-access-key --user-name awsclients-tests >"$work/moto-auth/key.json"
MOTO_AUTH_ACCESS_KEY_ID=$(jq -r .AccessKey.AccessKeyId "$work/moto-auth/key.json")
MOTO_AUTH_SECRET_ACCESS_KEY=$(jq -r .AccessKey.SecretAccessKey "$work/moto-auth/key.json")
export MOTO_AUTH_ENDPOINT MOTO_AUTH_ACCESS_KEY_ID MOTO_AUTH_SECRET_ACCESS_KEY

suite "swift test" swift test --skip-build
suite "end-to-end (moto, worker, bus)" python3 -m pytest -q -p no:cacheprovider Tests/e2e
suite "lint (hadolint, zizmor, workflow schema, diagram)" Tests/suites/lint.sh
suite "terraform (fmt, validate, checkov, terraform test, apply on moto)" Tests/suites/terraform.sh
suite "deploy check script (fake stack)" Tests/suites/deploy-check.sh
suite "container images (debootstrap, buildah, podman)" Tests/suites/images.sh
# One compiled engine scanned from many tasks: prove there is no data race.
suite "swift test (thread sanitizer)" swift test --sanitize=thread --scratch-path .build-tsan --filter ClamAVTests

if ((failed)); then
    echo "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
((failed == 0))
