#!/usr/bin/env bash
# The S3 download benchmark: starts a moto_server, downloads the same object (1 GiB by default)
# with AWSClients (release build) and with `aws s3 cp`, prints both throughputs and the ratio.
#
#   bench/s3-download.sh [--size-mib N] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-download-bench.XXXXXX")
cleanup() { scripts/lib/moto-server.sh stop "$work/moto"; rm -rf "$work"; }
trap cleanup EXIT

flock /tmp/swift-build.lock swift build -c release --product s3-download-bench --scratch-path .build-bench
endpoint=$(scripts/lib/moto-server.sh start "$work/moto")

export AWS_ENDPOINT_URL="$endpoint" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
unset AWS_PROFILE AWS_DEFAULT_PROFILE
.build-bench/release/s3-download-bench --work-directory "$work" "$@"
