#!/usr/bin/env bash
# The burst benchmark (not a test; docs/benchmarks.md, "Burst"): BENCH_BURST_OBJECTS objects
# uploaded at once to a moto bucket whose notifications feed the scan queue, drained three
# times (release builds): by `scanner worker` directly, by the worker through a proxy that
# injects faults into BENCH_BURST_FAULT_RATE of the AWS requests, and by the scanner in Lambda
# mode fed batches of 10 (`scanner-bench lambda-poller`) through the same proxy.
# bench/burst.py checks that nothing is lost and prints the figures; this prints them side
# by side.
#
#   bench/burst.sh
#
# Settings (environment): BENCH_BURST_OBJECTS (10000), BENCH_BURST_FAULT_RATE (0.02),
# BENCH_BURST_CONCURRENCY (4), BENCH_SKIP_BUILD.
set -euo pipefail
cd "$(dirname "$0")/.."

objects=${BENCH_BURST_OBJECTS:-10000}
fault_rate=${BENCH_BURST_FAULT_RATE:-0.02}
concurrency=${BENCH_BURST_CONCURRENCY:-4}
work=$(mktemp -d "${TMPDIR:-/tmp}/burst-bench.XXXXXX")
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
    scripts/lib/moto-server.sh stop "$work/moto"
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    for product in scanner definition-updater scanner-bench; do
        flock /tmp/swift-build.lock swift build -c release --product "$product" --scratch-path .build-release
    done
fi
bin=$(swift build -c release --scratch-path .build-release --show-bin-path)
Tests/fixtures/make-test-signatures.sh "$work/db" >/dev/null

status=0
for run in "worker 0" "worker $fault_rate" "lambda $fault_rate"; do
    read -r path rate <<<"$run"
    # A fresh moto for each run: its queues slow down with what they have held.
    endpoint=$(scripts/lib/moto-server.sh start "$work/moto")
    echo "-- $objects objects, $path, fault rate $rate" >&2
    TMPDIR=$work python3 bench/burst.py "$endpoint" "$bin" "$work/db" --objects "$objects" --fault-rate "$rate" \
        --concurrency "$concurrency" --path "$path" --json "$work/burst-$path-$rate.json" >/dev/null || status=1
    scripts/lib/moto-server.sh stop "$work/moto"
done

python3 - "$work/burst-worker-0.json" "$work/burst-worker-$fault_rate.json" "$work/burst-lambda-$fault_rate.json" <<'PYTHON'
import json, sys
runs = [json.load(open(path)) for path in sys.argv[1:]]
print("| run | objects (infected) | drain time | objects/s | result events | lost or doubled | faults injected |")
print("|---|---|---|---|---|---|---|")
for run in runs:
    proxy = run["proxy"] or {}
    faults = f"{proxy.get('503', 0)} × 503, {proxy.get('dropped', 0)} dropped of {sum(proxy.values())} requests" if proxy else "none"
    how = f"worker, {run['concurrency']} in flight" if run["path"] == "worker" else \
        f"Lambda, {run['lambda']['invocations']} invocations of up to 10"
    print(f"| {how}, fault rate {run['faultRate']} | {run['objects']:,} ({run['infected']}) | {run['drainSeconds']:.1f} s | "
          f"{run['objectsPerSecond']:.1f} | {run['resultEvents']:,} | {run['problems']} | {faults} |")
print(f"\nworker with faults ÷ without: {runs[1]['drainSeconds'] / runs[0]['drainSeconds']:.2f}× the drain time")
PYTHON
exit "$status"
