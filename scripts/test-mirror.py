#!/usr/bin/env python3
"""A tiny HTTP mirror for the definition updater's tests (standard library only).

Serves the files of a directory (custom signature files such as NAME.ndb, NAME.hdb, or any
file freshclam asks for) on 127.0.0.1, the way a DatabaseCustomURL server would:

- GET/HEAD /NAME          the file, with Last-Modified from its modification time;
                          If-Modified-Since at or after that time answers 304.
- GET /control            JSON: {"mode", "retry_after", "requests", "paths"} where requests
                          counts every non-control request since start (or the last reset)
                          and paths lists them in order.
- POST /control           JSON body, every field optional:
                            {"mode": "normal" | "429" | "403" | "404" | "500" | "corrupt",
                             "retry_after": SECONDS,   (sent with 429; default 3600)
                             "reset": true}            (zero the request counter)
                          "corrupt" serves every file with its signature lines mangled into
                          text libclamav rejects. Answers the new state as GET /control does.

Usage: test-mirror.py --root DIR [--port PORT] [--host 127.0.0.1]
Prints the port it listens on as the first line on stdout (port 0 picks a free one), then
serves until SIGTERM or SIGINT. Log lines go to stderr.
"""

import argparse
import email.utils
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = {"normal", "429", "403", "404", "500", "corrupt"}


class MirrorState:
    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.lock = threading.Lock()
        self.mode = "normal"
        self.retry_after = 3600
        self.paths = []

    def snapshot(self):
        with self.lock:
            return {
                "mode": self.mode,
                "retry_after": self.retry_after,
                "requests": len(self.paths),
                "paths": list(self.paths),
            }


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "test-mirror/1"

        def log_message(self, fmt, *args):
            sys.stderr.write("test-mirror: %s\n" % (fmt % args))

        def send_body(self, status, body, content_type="application/octet-stream", extra=None, head=False):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def send_json(self, status, value):
            self.send_body(status, (json.dumps(value) + "\n").encode(), "application/json")

        # -- control -------------------------------------------------------------------

        def do_POST(self):
            if self.path.rstrip("/") != "/control":
                self.send_json(404, {"error": "POST only to /control"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
                mode = request.get("mode")
                if mode is not None and mode not in MODES:
                    raise ValueError("mode must be one of %s" % sorted(MODES))
                retry_after = request.get("retry_after")
                if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
                    raise ValueError("retry_after must be a non-negative integer")
            except ValueError as error:
                self.send_json(400, {"error": str(error)})
                return
            with state.lock:
                if mode is not None:
                    state.mode = mode
                if retry_after is not None:
                    state.retry_after = retry_after
                if request.get("reset"):
                    state.paths.clear()
            self.send_json(200, state.snapshot())

        # -- files ---------------------------------------------------------------------

        def do_GET(self):
            self.serve(head=False)

        def do_HEAD(self):
            self.serve(head=True)

        def serve(self, head):
            if self.path.rstrip("/") == "/control":
                self.send_json(200, state.snapshot())
                return
            with state.lock:
                state.paths.append(self.path)
                mode, retry_after = state.mode, state.retry_after
            if mode == "429":
                self.send_body(429, b"Too Many Requests\n", "text/plain", {"Retry-After": str(retry_after)}, head)
                return
            if mode in ("403", "404", "500"):
                self.send_body(int(mode), ("test-mirror answers %s\n" % mode).encode(), "text/plain", None, head)
                return

            name = self.path.split("?", 1)[0].lstrip("/")
            path = os.path.realpath(os.path.join(state.root, name))
            if not name or os.path.dirname(path) != state.root or not os.path.isfile(path):
                self.send_body(404, b"not found\n", "text/plain", None, head)
                return
            modified = int(os.stat(path).st_mtime)
            since = self.headers.get("If-Modified-Since")
            if since:
                try:
                    parsed = email.utils.parsedate_to_datetime(since)
                    if parsed is not None and modified <= int(parsed.timestamp()):
                        self.send_response(304)
                        self.send_header("Last-Modified", email.utils.formatdate(modified, usegmt=True))
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                except (TypeError, ValueError):
                    pass
            with open(path, "rb") as handle:
                body = handle.read()
            if mode == "corrupt":
                # Every line loses its first field separator: libclamav rejects such lines.
                body = b"".join(b"corrupt signature line " + line.replace(b":", b"_") + b"\n" for line in body.splitlines()) or b"corrupt\n"
            self.send_body(200, body, "application/octet-stream",
                           {"Last-Modified": email.utils.formatdate(modified, usegmt=True)}, head)

    return Handler


def main():
    parser = argparse.ArgumentParser(description="HTTP mirror for the definition updater's tests")
    parser.add_argument("--root", required=True, help="directory whose files are served")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    arguments = parser.parse_args()
    if not os.path.isdir(arguments.root):
        parser.error("--root %s is not a directory" % arguments.root)

    server = ThreadingHTTPServer((arguments.host, arguments.port), make_handler(MirrorState(arguments.root)))
    server.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    # A parent's blocked signals are inherited: Foundation's Process, started from a Dispatch
    # or Swift concurrency thread, leaves nearly every signal blocked in the child.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
