#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, builds,
# starts the emulators the tests need, runs every suite, and stops what it started.
# Every suite runs even when an earlier one failed; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-test.XXXXXX")
cleanup() { scripts/moto-server.sh stop "$work/moto"; rm -rf "$work"; }
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

MOTO_ENDPOINT=$(scripts/moto-server.sh start "$work/moto")
export MOTO_ENDPOINT

suite "swift test" swift test --skip-build
# One compiled engine scanned from many tasks: prove there is no data race.
suite "swift test (thread sanitizer)" swift test --sanitize=thread --scratch-path .build-tsan --filter ClamAVTests

if ((failed)); then
    echo "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
((failed == 0))
