#!/usr/bin/env bash
# Starts or stops a moto_server (AWS API emulator) on 127.0.0.1 at a free port.
#
#   scripts/lib/moto-server.sh start DIR [ENV=VALUE...]   prints the endpoint URL
#   scripts/lib/moto-server.sh stop DIR
#
# DIR receives moto.pid, moto.url and moto.log. Extra ENV=VALUE pairs are passed to moto
# (for example INITIAL_NO_AUTH_ACTION_COUNT=0 to enforce request signatures).
set -euo pipefail

command=${1:?usage: moto-server.sh start|stop DIR [ENV=VALUE...]}
dir=${2:?usage: moto-server.sh start|stop DIR [ENV=VALUE...]}
shift 2

case "$command" in
start)
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    env MOTO_IAM_LOAD_MANAGED_POLICIES=true "$@" \
        moto_server -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "$url/moto-api/"; then
            echo "$url" >"$dir/moto.url"
            echo "$url"
            exit 0
        fi
        if ! kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
            echo "moto_server exited during start-up; its log:" >&2
            cat "$dir/moto.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "moto_server did not answer on $url within 10 s; its log:" >&2
    cat "$dir/moto.log" >&2
    kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
    exit 1
    ;;
stop)
    if [ -f "$dir/moto.pid" ]; then
        pid=$(cat "$dir/moto.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/moto.pid" "$dir/moto.url"
    fi
    ;;
*)
    echo "unknown command: $command (expected start or stop)" >&2
    exit 2
    ;;
esac
