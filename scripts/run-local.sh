#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the scanner locally: generated test
# signatures (never the official database) and a set of clean and infected sample files.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build --product scanner

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-local.XXXXXX")
trap 'rm -rf "$work"' EXIT
scripts/make-test-signatures.sh "$work/database"
scripts/make-test-files.sh "$work/samples"

echo "== scanner scan --database $work/database $work/samples"
status=0
.build/debug/scanner scan --database "$work/database" "$work/samples" || status=$?
echo "== exit status $status (0 all clean, 1 infected found, 2 unscannable or failed)"
