#!/usr/bin/env bash
# The official-scale benchmark (not a test): a generated database the size of ClamAV's
# official one (8.7 million signatures) and, side by side in one run, our scanner's cold
# start and peak memory, clamscan's load for one object, warm per-object times and
# throughput with 1, 2 and 4 objects in flight for our scanner and clamd, the hot reload's
# peak memory and object latency (beside the old engine, and without room for two engines
# at the Terraform default of 3008 MB), clamscan per object on a handful of objects, and
# libclamav's load alone in a small C program (bench/load-experiments.c).
# Prints a Markdown table (docs/benchmarks.md, "Official scale").
#
#   bench/official-scale.sh
#
# Settings (environment):
#   BENCH_SIGNATURES      signatures in the database            8700000
#   BENCH_OBJECTS         distinct objects uploaded to moto     120
#   BENCH_WARMUP          first objects left out of figures     5
#   BENCH_CLAMSCAN        objects clamscan scans (each loads)   5
#   BENCH_MEMORY_MB       the memory limit of the reload run    3008
#   BENCH_DATABASE        an already generated database folder  unset (generate)
#   BENCH_KEEP            keep the work folder when set         unset
#   BENCH_SKIP_BUILD      use the existing release build        unset
set -euo pipefail
cd "$(dirname "$0")/.."

signatures=${BENCH_SIGNATURES:-8700000}
objects=${BENCH_OBJECTS:-120}
warmup=${BENCH_WARMUP:-5}
clamscan_count=${BENCH_CLAMSCAN:-5}
memory_mb=${BENCH_MEMORY_MB:-3008}

work=$(mktemp -d "${TMPDIR:-/tmp}/official-bench.XXXXXX")
clamd_pid=
cleanup() {
    if [ -n "$clamd_pid" ]; then kill "$clamd_pid" 2>/dev/null || true; wait "$clamd_pid" 2>/dev/null || true; fi
    scripts/lib/moto-server.sh stop "$work/moto"
    if [ -n "${BENCH_KEEP:-}" ]; then echo "work folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    flock /tmp/swift-build.lock swift build -c release --product scanner-bench --scratch-path .build-release
fi
bench=.build-release/release/scanner-bench

echo "== machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory; $(clamscan --version)" >&2
if [ -n "${BENCH_DATABASE:-}" ]; then
    mkdir -p "$work/db" && cp "$BENCH_DATABASE"/bench.* "$work/db/"
    python3 bench/make-database.py --signatures 10 --output "$work/small" --samples "$work/samples" >/dev/null
else
    echo "== generating $signatures signatures" >&2
    python3 bench/make-database.py --signatures "$signatures" --output "$work/db" --samples "$work/samples" >&2
fi
# In the official database's format: signed-style containers (.cud: the .cvd layout without
# ClamAV's signature), which libclamav reads through zlib. (Plain signature files load twice
# as slowly in any multi-threaded process, clamd included: libclamav reads them with getc,
# which glibc locks there. docs/benchmarks.md.)
mkdir -p "$work/containers"
python3 Tests/fixtures/make-test-cud.py main 1 "$work/db/bench.hdb" "$work/containers/main.cud"
python3 Tests/fixtures/make-test-cud.py daily 1 "$work/db/bench.ndb" "$work/containers/daily.cud"
python3 Tests/fixtures/make-test-cud.py extra 1 "$work/db/bench.hsb" "$work/containers/extra.cud"
mv "$work/db" "$work/plain" && mv "$work/containers" "$work/db"

# libclamav alone (bench/load-experiments.c), where the load time goes: plain files against
# containers, on the main thread and on a second thread, and the containers as one engine
# against two engines of half the signatures each, loaded at the same time.
echo "-- libclamav alone: load on the main thread, on a thread, and as two shards" >&2
cc -O2 -Wall -o "$work/load-experiments" bench/load-experiments.c -lclamav -lpthread
for shard in a b; do mkdir -p "$work/shard-$shard"; done
for extension in hdb ndb hsb; do
    lines=$(wc -l <"$work/plain/bench.$extension")
    head -n $((lines / 2)) "$work/plain/bench.$extension" >"$work/shard-a/bench.$extension"
    tail -n +$((lines / 2 + 1)) "$work/plain/bench.$extension" >"$work/shard-b/bench.$extension"
done
for shard in a b; do
    python3 Tests/fixtures/make-test-cud.py main 1 "$work/shard-$shard/bench.hdb" "$work/shard-$shard/main.cud"
    python3 Tests/fixtures/make-test-cud.py daily 1 "$work/shard-$shard/bench.ndb" "$work/shard-$shard/daily.cud"
    python3 Tests/fixtures/make-test-cud.py extra 1 "$work/shard-$shard/bench.hsb" "$work/shard-$shard/extra.cud"
    rm "$work/shard-$shard"/bench.*
done
{
    printf '{"plainMain": %s, ' "$("$work/load-experiments" main "$work/plain")"
    printf '"plainThread": %s, ' "$("$work/load-experiments" thread "$work/plain")"
    printf '"containersMain": %s, ' "$("$work/load-experiments" main "$work/db")"
    printf '"containersThread": %s, ' "$("$work/load-experiments" thread "$work/db")"
    printf '"twoShards": %s}\n' "$("$work/load-experiments" parallel "$work/shard-a" "$work/shard-b")"
} >"$work/load-experiments.json"
rm -rf "$work/shard-a" "$work/shard-b"
# The next day's database: the same containers and one more signature file.
mkdir -p "$work/db-next"
ln "$work"/db/* "$work/db-next/"
printf 'Bench.Next.Day:0:*:6e6578742d646179207369676e6174757265\n' >"$work/db-next/next.ndb"

endpoint=$(scripts/lib/moto-server.sh start "$work/moto")
python3 bench/contenders.py "$endpoint" setup bench "$work" "$objects" "$work/samples" 0 >"$work/env"
set -a
# shellcheck disable=SC1091
. "$work/env"
set +a
unset AWS_PROFILE AWS_DEFAULT_PROFILE EVENT_BUS_NAME
measured=$(( $(wc -l <"$work/keys.txt") - warmup ))

echo "-- clamscan: load and scan one small object" >&2
head -c 2048 /dev/urandom >"$work/one.bin"
/usr/bin/time -f '{"seconds": %e, "peakKiB": %M}' -o "$work/clamscan-load.json" \
    clamscan --no-summary -d "$work/db" "$work/one.bin" >/dev/null || true

"$bench" publish --database "$work/db" >&2
untag() { python3 bench/contenders.py "$endpoint" untag bench "$work"; }
for concurrency in 1 2 4; do
    echo "-- scanner: cold start, then $measured objects, $concurrency in flight" >&2
    untag
    load=()
    if [ "$concurrency" = 1 ]; then load=(--time-load); fi
    "$bench" measure --bucket bench-uploads --keys "$work/keys.txt" --warmup "$warmup" \
        --concurrency "$concurrency" "${load[@]}" >"$work/ours-$concurrency.json"
done

echo "-- scanner: hot reload beside the old engine (no memory limit)" >&2
"$bench" publish --database "$work/db" >&2
untag
DEFINITIONS_RELOAD=alongside "$bench" reload --bucket bench-uploads --keys "$work/keys.txt" --next "$work/db-next" \
    >"$work/reload-alongside.json"
echo "-- scanner: hot reload with $memory_mb MB (auto)" >&2
"$bench" publish --database "$work/db" >&2
untag
AWS_LAMBDA_FUNCTION_MEMORY_SIZE=$memory_mb "$bench" reload --bucket bench-uploads --keys "$work/keys.txt" --next "$work/db-next" \
    >"$work/reload-limited.json"

mkdir -p "$work/clamd/tmp"
cat >"$work/clamd/clamd.conf" <<CONF
LocalSocket $work/clamd/clamd.sock
Foreground yes
DatabaseDirectory $work/db
TemporaryDirectory $work/clamd/tmp
LogFile $work/clamd/clamd.log
MaxThreads 4
# As the scanner's (docs/threat-model.md): otherwise every run after the first is answered
# from the cache of the same objects.
DisableCache yes
CONF
started=$(date +%s%N)
clamd -c "$work/clamd/clamd.conf" >"$work/clamd/clamd.out" 2>&1 &
clamd_pid=$!
until clamdscan -c "$work/clamd/clamd.conf" --ping 1 >/dev/null 2>&1; do
    if ! kill -0 "$clamd_pid" 2>/dev/null; then echo "clamd exited:" >&2; cat "$work/clamd/clamd.out" >&2; exit 1; fi
    sleep 0.05
done
echo "{\"readySeconds\": $(( ($(date +%s%N) - started) / 1000000 ))e-3}" >"$work/clamd-load.json"
for parallel in 1 2 4; do
    echo "-- clamd: $measured objects, $parallel in flight" >&2
    python3 bench/contenders.py "$endpoint" clamdscan bench "$work" "$work/clamd/clamd.conf" "$clamd_pid" "$measured" "$warmup" \
        "$parallel" >"$work/clamd-$parallel.json"
done
kill "$clamd_pid"; wait "$clamd_pid" 2>/dev/null || true; clamd_pid=

echo "-- clamscan per object ($clamscan_count objects)" >&2
python3 bench/contenders.py "$endpoint" clamscan bench "$work" "$work/db" "$clamscan_count" "$warmup" >"$work/clamscan.json"

python3 bench/official-report.py "$work" "$memory_mb"
