#!/usr/bin/env bash
# The scan benchmark (not a test): the warm scanner against `clamscan` per object and
# `clamdscan` against a running `clamd`, on the same generated databases and the same
# distinct objects in moto. Prints one Markdown table per database size (docs/benchmarks.md).
#
#   bench/run.sh
#
# Settings (environment):
#   BENCH_SIZES            database sizes in signatures       "1000 100000 1000000"
#   BENCH_OBJECTS          distinct objects uploaded to moto  300
#   BENCH_WARMUP           first objects left out of figures  5
#   BENCH_CLAMSCAN_LIMIT   clamscan objects per size, SIZE:N  "1000000:40" (others: all)
#   BENCH_LARGE_MIB        size of the large object, 0 = none 1024
#   BENCH_LARGE_AT         database size to scan it with      100000
#   BENCH_ENGINE_AT        database size at which the engine's safeguards are priced
#                          (container accounting, clean cache off)    100000
#   BENCH_KEEP             keep the work folder when set      unset
#   BENCH_SKIP_BUILD       use the existing release build     unset
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${BENCH_SIZES:-1000 100000 1000000}
objects=${BENCH_OBJECTS:-300}
warmup=${BENCH_WARMUP:-5}
clamscan_limit=${BENCH_CLAMSCAN_LIMIT:-1000000:40}
large_mib=${BENCH_LARGE_MIB:-1024}
large_at=${BENCH_LARGE_AT:-100000}
engine_at=${BENCH_ENGINE_AT:-100000}

work=$(mktemp -d "${TMPDIR:-/tmp}/scan-bench.XXXXXX")
clamd_pid=
stop_clamd() {
    if [ -n "$clamd_pid" ]; then
        kill "$clamd_pid" 2>/dev/null || true
        wait "$clamd_pid" 2>/dev/null || true
        clamd_pid=
    fi
}
cleanup() {
    stop_clamd
    scripts/lib/moto-server.sh stop "$work/moto"
    if [ -n "${BENCH_KEEP:-}" ]; then echo "work folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    flock /tmp/swift-build.lock swift build -c release --product scanner-bench --scratch-path .build-release
fi
bench=.build-release/release/scanner-bench

echo "== machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory; $(clamscan --version)" >&2
echo "== generating databases: $sizes" >&2
for size in $sizes; do
    python3 bench/make-database.py --signatures "$size" --output "$work/db-$size" --samples "$work/samples" >&2
done

endpoint=$(scripts/lib/moto-server.sh start "$work/moto")
echo "== moto at $endpoint; uploading $objects objects and a ${large_mib} MiB object" >&2
python3 bench/contenders.py "$endpoint" setup bench "$work" "$objects" "$work/samples" "$large_mib" >"$work/env"
set -a
# shellcheck disable=SC1091
. "$work/env"
set +a
unset AWS_PROFILE AWS_DEFAULT_PROFILE
# No result events: moto's PutEvents (bus rule to an SQS target) takes about 200 ms here,
# which would measure moto, and the competitors publish nothing either.
unset EVENT_BUS_NAME
measured=$(( $(wc -l <"$work/keys.txt") - warmup ))

for size in $sizes; do
    echo "== $size signatures" >&2
    export DEFINITIONS_PREFIX="db-$size/"
    "$bench" publish --database "$work/db-$size" >&2

    # Ours: one process per database size, so that its peak memory is this size's alone.
    large=()
    if [ "$large_mib" -gt 0 ] && [ "$size" = "$large_at" ]; then large=(--large-key large/object.bin); fi
    echo "-- scanner (warm, $measured objects)" >&2
    "$bench" measure --bucket bench-uploads --keys "$work/keys.txt" --warmup "$warmup" \
        --local-copies "$work/objects" "${large[@]}" >"$work/ours-$size.json"
    if [ "$size" = "$engine_at" ]; then
        echo "-- engine safeguards (local copies, accounting on/off, cache on for a repeat)" >&2
        "$bench" engine --database "$work/db-$size" --objects "$work/objects" >"$work/engine-$size.json"
    fi

    # clamd on a private socket, loaded with the same database.
    mkdir -p "$work/clamd-$size/tmp"
    cat >"$work/clamd-$size/clamd.conf" <<CONF
LocalSocket $work/clamd-$size/clamd.sock
Foreground yes
DatabaseDirectory $work/db-$size
TemporaryDirectory $work/clamd-$size/tmp
LogFile $work/clamd-$size/clamd.log
CONF
    started=$(date +%s%N)
    clamd -c "$work/clamd-$size/clamd.conf" >"$work/clamd-$size/clamd.out" 2>&1 &
    clamd_pid=$!
    until clamdscan -c "$work/clamd-$size/clamd.conf" --ping 1 >/dev/null 2>&1; do
        if ! kill -0 "$clamd_pid" 2>/dev/null; then
            echo "clamd exited during start-up:" >&2; cat "$work/clamd-$size/clamd.out" >&2; exit 1
        fi
        sleep 0.05
    done
    echo "-- clamd (ready after $(( ($(date +%s%N) - started) / 1000000 )) ms; $measured objects)" >&2
    python3 bench/contenders.py "$endpoint" clamdscan bench "$work" "$work/clamd-$size/clamd.conf" "$clamd_pid" "$measured" "$warmup" >"$work/clamd-$size.json"
    stop_clamd

    count=$measured
    for limit in $clamscan_limit; do
        if [ "${limit%%:*}" = "$size" ]; then count=${limit#*:}; fi
    done
    echo "-- clamscan ($count objects)" >&2
    python3 bench/contenders.py "$endpoint" clamscan bench "$work" "$work/db-$size" "$count" "$warmup" >"$work/clamscan-$size.json"
done

# shellcheck disable=SC2086 # one argument per size
python3 bench/report.py "$work" $sizes
