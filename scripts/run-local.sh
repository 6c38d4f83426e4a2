#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the scanner's main job locally: a
# local S3/SQS/EventBridge emulator (moto), generated test signatures published to the
# definitions bucket, clean and infected uploads, and the real scanner worker.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build --product scanner
swift build --product definition-updater

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-local.XXXXXX")
trap 'scripts/lib/moto-server.sh stop "$work/moto"; rm -rf "$work"' EXIT
Tests/fixtures/make-test-signatures.sh "$work/database"
Tests/fixtures/make-test-files.sh "$work/samples"
endpoint=$(scripts/lib/moto-server.sh start "$work/moto")
echo "== moto_server on $endpoint"
python3 scripts/lib/local_demo.py "$endpoint" "$work/samples" "$work/database"
