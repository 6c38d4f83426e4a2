#!/usr/bin/env bash
# The backfill benchmark (not a test): `scanner enqueue`'s listing and queueing on a bucket of
# BENCH_ENQUEUE_OBJECTS objects in moto, measured apart and together (docs/benchmarks.md,
# "Backfill").
#
#   bench/enqueue.sh
#
# Settings (environment):
#   BENCH_ENQUEUE_OBJECTS      objects in the bucket                       100000
#   BENCH_ENQUEUE_LATENCY      ms the stand-in queue takes per call       20
#   BENCH_ENQUEUE_MOTO         objects also queued to moto's own SQS      2000
#   BENCH_ENQUEUE_CONCURRENCY  SendMessageBatch calls in flight           8
#   BENCH_SKIP_BUILD           use the existing release build             unset
set -euo pipefail
cd "$(dirname "$0")/.."

objects=${BENCH_ENQUEUE_OBJECTS:-100000}
latency=${BENCH_ENQUEUE_LATENCY:-20}
moto_objects=${BENCH_ENQUEUE_MOTO:-2000}

work=$(mktemp -d "${TMPDIR:-/tmp}/enqueue-bench.XXXXXX")
trap 'scripts/lib/moto-server.sh stop "$work/moto"; rm -rf "$work"' EXIT

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    flock /tmp/swift-build.lock swift build -c release --product scanner-bench --scratch-path .build-release
fi
endpoint=$(scripts/lib/moto-server.sh start "$work/moto")
export AWS_ENDPOINT_URL=$endpoint AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench

echo "== $(nproc) cores; moto at $endpoint; $objects objects" >&2
.build-release/release/scanner-bench enqueue --objects "$objects" --concurrency "${BENCH_ENQUEUE_CONCURRENCY:-8}" \
    --latency "$latency" --moto-objects "$moto_objects"
