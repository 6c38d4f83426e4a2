#!/usr/bin/env bash
# Builds both Lambda images from lambda-images/PRODUCT/Dockerfile with
# scripts/build-images.sh (buildah, no Docker engine) and runs exactly those images with
# podman/runc. Fails, with the output that shows why, when:
#
#   - an image is not for the platform the functions are deployed on
#     (Tests/lint/check-architecture.py);
#   - the entry point is not the binary in exec form with no default arguments, or the
#     binary does not start (PRODUCT --help through the image's own ENTRYPOINT), e.g. a
#     wrong COPY destination or ENTRYPOINT in the Dockerfile;
#   - the image runs as root (config User and `id -u` inside the container);
#   - a shared library of the binary does not resolve in the image (ldd: "not found"),
#     or the CA bundle is missing, e.g. a package missing from
#     lambda-images/PRODUCT/runtime-packages.txt;
#   - `scanner scan` in the image does not find EICAR with a one-signature database
#     (libclamav present but not working);
#   - freshclam is missing from the updater image or cannot update a custom database
#     from a local HTTP mirror (python3 -m http.server started and stopped here);
#   - the scanner image does not serve a Lambda invocation for an S3 event (moto_server,
#     definitions published by the updater image, the runtime-api-server test tool): the
#     clean object must end tagged CLEAN and the EICAR object deleted.
#
#   Tests/suites/images.sh [--skip-build] [BUILD-IMAGES OPTIONS...]
#
# Options other than --skip-build go to scripts/build-images.sh (for example
# --configuration debug). Needs root, like build-images.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/containers.sh
source scripts/lib/containers.sh

skip_build=false
build_options=()
for argument in "$@"; do
    case "$argument" in
    --skip-build) skip_build=true ;;
    *) build_options+=("$argument") ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-images.XXXXXX")
pids_to_stop=()
cleanup() {
    local pid
    for pid in "${pids_to_stop[@]}"; do kill "$pid" 2>/dev/null || true; done
    scripts/lib/moto-server.sh stop "$work/moto" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The image config as JSON, e.g. image_config IMAGE '.Entrypoint'.
image_config() {
    podman_ image inspect --format '{{json .Config}}' "$1" |
        python3 -c 'import json, sys; c = json.load(sys.stdin); print(json.dumps(eval("c" + sys.argv[1])))' "$2"
}

# --- build ------------------------------------------------------------------------------
started=$SECONDS
if [ "$skip_build" = false ]; then
    section "build images"
    scripts/build-images.sh "${build_options[@]}"
    echo "images built in $((SECONDS - started)) s"
fi

# --- checks every image must pass ---------------------------------------------------------
# The platform the functions run on: LAMBDA_ARCHITECTURE of the deploy workflow, which
# the script also checks against Terraform's default.
if ! platform=$(python3 Tests/lint/check-architecture.py --platform); then
    fail "the deploy workflow and Terraform do not name one architecture (Tests/lint/check-architecture.py)"
fi

check_image() {
    local product=$1 image architecture entrypoint command binary user uid output certificates
    image=$(image_name "$product")
    section "$product: architecture, entry point, user, shared libraries, CA certificates ($image)"

    # Built for the architecture the functions are deployed with.
    architecture=linux/$(podman_ image inspect --format '{{.Architecture}}' "$image")
    if [ "$architecture" = "$platform" ]; then
        pass "platform $architecture"
    else
        fail "$product: the image is $architecture, the functions run on ${platform:-(undecided)}"
    fi

    # Lambda starts the image with no arguments and ECS appends the worker command, so
    # the entry point must be the binary itself, in exec form, with no default arguments
    # (a CMD, such as the base image's ["bash"], would reach the binary as arguments).
    binary=/usr/local/bin/$product
    entrypoint=$(image_config "$image" ".get('Entrypoint')")
    command=$(image_config "$image" ".get('Cmd')")
    if [ "$entrypoint" = "[\"$binary\"]" ] && { [ "$command" = null ] || [ "$command" = '[]' ]; }; then
        pass "entry point $entrypoint, no default arguments"
    else
        fail "$product: entry point $entrypoint with arguments $command; expected [\"$binary\"] and none"
    fi

    # Not root, by configuration and in fact.
    user=$(image_config "$image" ".get('User', '')")
    case "$user" in
    '""' | '"root"' | '"0"' | '"0:"'* | '"root:"'*) fail "$product: image user is $user (root)" ;;
    *) pass "image user $user" ;;
    esac
    if uid=$(podman_run --entrypoint /usr/bin/id "$image" -u 2>&1) && [ "$uid" != 0 ]; then
        pass "runs as uid $uid"
    else
        fail "$product: id -u in the container: $uid"
    fi

    # Every shared library of the binary resolves inside the image.
    if ! output=$(podman_run --entrypoint /usr/bin/ldd "$image" "$binary" 2>&1); then
        echo "$output" >&2
        fail "$product: ldd $binary failed in the container"
    elif grep -q 'not found' <<<"$output"; then
        echo "$output" >&2
        fail "$product: shared libraries not found in the image: $(grep 'not found' <<<"$output" | awk '{print $1}' | tr '\n' ' ')"
    else
        pass "ldd $binary: $(grep -c '=>' <<<"$output") libraries, all found ($(grep -o 'libclamav[^ ]*' <<<"$output" | head -n 1 || echo 'no libclamav'))"
    fi

    # The binary starts through the image's own entry point.
    if output=$(podman_run "$image" --help 2>&1); then
        pass "$product --help through the entry point exits 0 ($(head -n 1 <<<"$output"))"
    else
        echo "$output" >&2
        fail "$product: '$product --help' through the entry point failed"
    fi

    # HTTPS to AWS (and the ClamAV mirror): the CA bundle of the ca-certificates package,
    # where swift-nio-ssl and freshclam's libcurl look for it on Debian.
    if certificates=$(podman_run --entrypoint /usr/bin/grep "$image" -c 'BEGIN CERTIFICATE' \
        /etc/ssl/certs/ca-certificates.crt 2>&1) && ((certificates > 100)); then
        pass "/etc/ssl/certs/ca-certificates.crt: $certificates certificates"
    else
        fail "$product: no CA bundle in the image (/etc/ssl/certs/ca-certificates.crt: $certificates)"
    fi
}

# EICAR, put together here so that this script is not taken for it.
write_eicar() {
    # shellcheck disable=SC2016 # the $ signs are part of the test file
    printf '%s%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS' '-TEST-FILE!$H+H*' >"$1"
}

# --- scanner: libclamav at work --------------------------------------------------------
# `scanner scan` in the image, as its non-root user, through the entry point: loads a
# database (the EICAR test file by hash) and scans an EICAR file and a clean one. Proves
# that libclamav is not only present but loads, compiles and matches in the image.
step_scanner_scan() {
    local image dir output status=0
    image=$(image_name scanner)
    section "scanner: scan --database with libclamav in the image"
    dir=$work/scan
    mkdir -p "$dir/db" "$dir/files"
    # ClamAV names matches from unsigned databases NAME.UNOFFICIAL.
    write_eicar "$dir/files/eicar.com"
    printf 'a clean file for the image test\n' >"$dir/files/clean.txt"
    printf '%s:%s:S3ClamAVScanner.ImageTest.EICAR\n' \
        "$(md5sum <"$dir/files/eicar.com" | cut -d' ' -f1)" "$(stat -c %s "$dir/files/eicar.com")" >"$dir/db/image-test.hdb"
    chmod -R a+rX "$dir"
    output=$(podman_run --volume "$dir:/work:ro" "$image" \
        scan --database /work/db /work/files/eicar.com /work/files/clean.txt 2>&1) || status=$?
    if [ "$status" = 1 ] &&
        grep -qx '/work/files/eicar.com: INFECTED S3ClamAVScanner.ImageTest.EICAR.UNOFFICIAL' <<<"$output" &&
        grep -qx '/work/files/clean.txt: CLEAN' <<<"$output"; then
        pass "scanner scan: eicar.com INFECTED, clean.txt CLEAN, exit 1"
    else
        echo "$output" >&2
        fail "scanner: 'scanner scan' in the image (exit $status) did not report eicar.com INFECTED and clean.txt CLEAN"
    fi
}

# --- updater: freshclam -------------------------------------------------------------------
step_freshclam_version() {
    local image output
    image=$(image_name definition-updater)
    section "definition-updater: freshclam --version"
    if output=$(podman_run --entrypoint freshclam "$image" --version 2>&1) && grep -q '^ClamAV ' <<<"$output"; then
        pass "$output"
    else
        echo "$output" >&2
        fail "definition-updater: freshclam --version"
    fi
}

# freshclam in the updater image, as its non-root user, downloads a custom database
# from a local mirror (python3 -m http.server on a free port). Offline settings (see
# docs/images.md): a DatabaseMirror line is required even with the official databases
# excluded, and --no-dns.
step_freshclam_local_mirror() {
    local image dir port server_pid output
    image=$(image_name definition-updater)
    section "definition-updater: freshclam against a local mirror"
    dir=$work/freshclam
    mkdir -p "$dir/mirror" "$dir/db"
    # The container user (uid 10001) writes the database folder.
    chmod 0777 "$dir/db"
    # A body signature for a marker string: hex of "s3-clamav-scanner-image-test".
    printf 'S3ClamAVScanner.ImageTest-1:0:*:%s\n' \
        "$(printf 's3-clamav-scanner-image-test' | od -An -tx1 | tr -d ' \n')" >"$dir/mirror/image-test.ndb"
    port=$(free_port)
    python3 -m http.server --bind 127.0.0.1 --directory "$dir/mirror" "$port" >"$dir/mirror.log" 2>&1 &
    server_pid=$!
    pids_to_stop+=("$server_pid")
    for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/image-test.ndb" && break; sleep 0.1; done
    cat >"$dir/freshclam.conf" <<EOF
DatabaseDirectory /work/db
DatabaseMirror 127.0.0.1
ExcludeDatabase daily
ExcludeDatabase main
ExcludeDatabase bytecode
DatabaseCustomURL http://127.0.0.1:$port/image-test.ndb
EOF
    if output=$(podman_run --volume "$dir:/work" --entrypoint freshclam "$image" \
        --config-file=/work/freshclam.conf --no-dns 2>&1) &&
        cmp -s "$dir/mirror/image-test.ndb" "$dir/db/image-test.ndb" &&
        grep -q 'GET /image-test.ndb HTTP/1.1" 200' "$dir/mirror.log"; then
        pass "freshclam downloaded, tested and installed image-test.ndb ($(grep -o 'sigs: [0-9]*' <<<"$output" || true))"
    else
        echo "$output" >&2
        echo "mirror log:" >&2
        cat "$dir/mirror.log" >&2
        ls -l "$dir/db" >&2
        fail "definition-updater: freshclam against the local mirror"
    fi
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}

# --- scanner: one Lambda invocation ---------------------------------------------------------
# The scanner image serves one Lambda invocation for an S3 event:
#
#   - moto_server (scripts/lib/moto-server.sh) holds the uploads and definitions buckets and
#     the event bus; the updater image publishes a database (the EICAR test file by
#     hash) with `definition-updater publish`, so the manifest has the real format;
#   - runtime-api-server (Tests/RuntimeAPIServer: the strict Runtime API server of the Swift
#     tests, as a process) serves one S3 notification with two records (a clean
#     file, key form-encoded with '+' for the space, and EICAR) on
#     GET /2018-06-01/runtime/invocation/next and records the function's reply;
#   - the scanner container runs with no arguments and AWS_LAMBDA_RUNTIME_API,
#     AWS_ENDPOINT_URL (moto), DEFINITIONS_BUCKET, EVENT_BUS_NAME and test credentials;
#   - the test expects a response (not an error), the clean object tagged
#     scan-status=CLEAN and the EICAR object deleted (INFECTED_ACTION defaults to delete).
#
# TEST_SCANNER_LAMBDA=0 skips it (for instance to test only the images' runtime).
step_scanner_lambda_invocation() {
    local scanner updater endpoint api_pid output container deadline dir status=0
    scanner=$(image_name scanner)
    updater=$(image_name definition-updater)
    section "scanner: one Lambda invocation (S3 event, moto_server, local Runtime API)"
    if [ "${TEST_SCANNER_LAMBDA:-1}" != 1 ]; then
        echo "SKIPPED: TEST_SCANNER_LAMBDA=${TEST_SCANNER_LAMBDA}"
        return 0
    fi
    dir=$work/lambda
    mkdir -p "$dir/db"
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
    endpoint=$(scripts/lib/moto-server.sh start "$work/moto")
    aws --endpoint-url "$endpoint" s3api create-bucket --bucket uploads >/dev/null
    aws --endpoint-url "$endpoint" s3api create-bucket --bucket definitions >/dev/null
    aws --endpoint-url "$endpoint" events create-event-bus --name scan-results >/dev/null
    local aws_environment=(--env AWS_ENDPOINT_URL="$endpoint" --env AWS_REGION=us-east-1
        --env AWS_ACCESS_KEY_ID=testing --env AWS_SECRET_ACCESS_KEY=testing
        --env DEFINITIONS_BUCKET=definitions --env EVENT_BUS_NAME=scan-results)

    # The definitions, published by the updater image.
    write_eicar "$dir/eicar.com"
    printf '%s:%s:S3ClamAVScanner.ImageTest.EICAR\n' \
        "$(md5sum <"$dir/eicar.com" | cut -d' ' -f1)" "$(stat -c %s "$dir/eicar.com")" >"$dir/db/image-test.hdb"
    chmod -R a+rX "$dir"
    if ! output=$(podman_run --volume "$dir:/work:ro" "${aws_environment[@]}" "$updater" \
        publish --database /work/db --canary /work/eicar.com 2>&1); then
        echo "$output" >&2
        fail "definition-updater: 'publish' to the definitions bucket on moto failed"
        return 0
    fi
    pass "definition-updater publish: $(grep '^published' <<<"$output" || echo "$output" | tail -n 1)"

    printf 'a clean file for the image test\n' >"$dir/clean.txt"
    aws --endpoint-url "$endpoint" s3 cp --quiet "$dir/clean.txt" "s3://uploads/dir/clean file.txt"
    aws --endpoint-url "$endpoint" s3 cp --quiet "$dir/eicar.com" "s3://uploads/dir/eicar.com"
    # The S3 notification as AWS sends it: keys form-encoded ('+' is a space).
    python3 - "$dir/event.json" <<'PYTHON'
import json, sys
def record(key, size):
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-26T12:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "scan",
                   "bucket": {"name": "uploads", "arn": "arn:aws:s3:::uploads"},
                   "object": {"key": key, "size": size}}}
json.dump({"Records": [record("dir/clean+file.txt", 32), record("dir/eicar.com", 68)]}, open(sys.argv[1], "w"))
PYTHON
    local runtime_api=${RUNTIME_API_SERVER:-.build/debug/runtime-api-server} api_endpoint=
    [ -x "$runtime_api" ] || flock /tmp/swift-build.lock swift build --product runtime-api-server >&2
    "$runtime_api" --event "$dir/event.json" --result "$dir/result.json" >"$dir/runtime-api.out" 2>"$dir/runtime-api.log" &
    api_pid=$!
    pids_to_stop+=("$api_pid")
    # It prints its endpoint (127.0.0.1:PORT) first.
    for _ in $(seq 1 100); do
        api_endpoint=$(head -n 1 "$dir/runtime-api.out" 2>/dev/null)
        [ -n "$api_endpoint" ] && break
        sleep 0.1
    done
    if [ -z "$api_endpoint" ]; then
        cat "$dir/runtime-api.log" >&2
        fail "scanner: the Runtime API server did not start"
        return 0
    fi

    # The scanner serves invocations until it is stopped. Wait until the Runtime API
    # server has the result (it then exits), the container ends, or 120 s pass.
    container=s3-clamav-scanner-image-test-$$
    if ! output=$(podman_ run --detach --name "$container" "${run_options[@]}" "${aws_environment[@]}" \
        --env AWS_LAMBDA_RUNTIME_API="$api_endpoint" \
        --env AWS_LAMBDA_FUNCTION_NAME=scanner --env AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048 \
        "$scanner" 2>&1); then
        echo "$output" >&2
        podman_ rm --force "$container" >/dev/null 2>&1 || true
        fail "scanner: the container did not start through its entry point with no arguments"
        return 0
    fi
    deadline=$((SECONDS + 120))
    while kill -0 "$api_pid" 2>/dev/null && ((SECONDS < deadline)); do
        [ "$(podman_ inspect --format '{{.State.Running}}' "$container" 2>/dev/null)" = true ] || break
        sleep 1
    done
    output=$(podman_ logs "$container" 2>&1 || true)
    podman_ rm --force --time 5 "$container" >/dev/null 2>&1 || true
    kill "$api_pid" 2>/dev/null || true
    if ! python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r["kind"] == "response" else 1)' "$dir/result.json" 2>/dev/null; then
        echo "container output:" >&2
        echo "$output" >&2
        echo "Runtime API log and result:" >&2
        cat "$dir/runtime-api.log" "$dir/result.json" >&2 2>/dev/null || true
        fail "scanner: no successful Lambda response (container ended or 120 s passed)"
        return 0
    fi
    pass "Lambda response: $(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["body"])[:300])' "$dir/result.json")"
    if aws --endpoint-url "$endpoint" s3api get-object-tagging --bucket uploads --key "dir/clean file.txt" \
        --query "TagSet[?Key=='scan-status'].Value" --output text | grep -qx CLEAN; then
        pass "s3://uploads/dir/clean file.txt tagged scan-status=CLEAN"
    else
        echo "$output" >&2
        fail "scanner: the clean object has no scan-status=CLEAN tag after the invocation"
    fi
    if aws --endpoint-url "$endpoint" s3api head-object --bucket uploads --key dir/eicar.com >/dev/null 2>&1; then
        echo "$output" >&2
        fail "scanner: s3://uploads/dir/eicar.com still exists after the invocation"
    else
        pass "s3://uploads/dir/eicar.com deleted (INFECTED)"
    fi
}

for product in "${all_products[@]}"; do check_image "$product"; done
step_scanner_scan
step_freshclam_version
step_freshclam_local_mirror
step_scanner_lambda_invocation

section "summary"
echo "images: $((SECONDS - started)) s"
if ((failures)); then
    echo "images: $failures check(s) failed" >&2
    exit 1
fi
echo "images: all checks passed"
