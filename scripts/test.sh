#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing, builds,
# starts the emulators the tests need, runs every suite, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-test.XXXXXX")
cleanup() { scripts/moto-server.sh stop "$work/moto"; rm -rf "$work"; }
trap cleanup EXIT

echo "== swift build"
swift build --build-tests

MOTO_ENDPOINT=$(scripts/moto-server.sh start "$work/moto")
export MOTO_ENDPOINT

echo "== swift test"
swift test --skip-build
