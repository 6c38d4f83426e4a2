#!/usr/bin/env python3
"""A local stand-in for the AWS Lambda Runtime API that serves exactly one invocation.

    lambda-runtime-api.py --port PORT --event EVENT.json --result RESULT.json

Point a function at it with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT. The first
GET /2018-06-01/runtime/invocation/next returns the event; later ones wait (as Lambda
does between invocations). The first result the function posts, the invocation
response, the invocation error or the init error, is written to RESULT.json as
{"kind": "response" | "error" | "init-error", "requestID": ..., "status": ..., "body": ...}
and the server exits 0. Exits 1 when no result arrives within --timeout seconds.

Paths and headers follow
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

import argparse
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--event", required=True, help="the event JSON file to serve")
    parser.add_argument("--result", required=True, help="where to write the function's result")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--function-arn", default="arn:aws:lambda:us-east-1:123456789012:function:scanner")
    arguments = parser.parse_args()

    event = open(arguments.event, "rb").read()
    request_id = str(uuid.uuid4())
    served = threading.Event()
    done = threading.Event()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            sys.stderr.write("runtime-api: " + (format % args) + "\n")

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path != PREFIX + "/invocation/next":
                self.reply(404, b'{"errorMessage":"unknown path"}')
                return
            with lock:
                first = not served.is_set()
                served.set()
            if not first:
                # One invocation only: hold the function here until the test stops it.
                done.wait(arguments.timeout)
                self.reply(500, b'{"errorMessage":"the test runtime serves one invocation"}')
                return
            deadline_ms = int((time.time() + 60) * 1000)
            self.reply(200, event, {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": arguments.function_arn,
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
            })

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            if self.path == PREFIX + "/init/error":
                kind = "init-error"
            elif self.path == f"{PREFIX}/invocation/{request_id}/response":
                kind = "response"
            elif self.path == f"{PREFIX}/invocation/{request_id}/error":
                kind = "error"
            else:
                self.reply(404, b'{"errorMessage":"unknown path or request ID"}')
                return
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body
            with open(arguments.result, "w") as file:
                json.dump({"kind": kind, "requestID": request_id, "body": parsed,
                           "errorType": self.headers.get("Lambda-Runtime-Function-Error-Type")}, file, indent=2)
            self.reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
            done.set()

    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    finished = done.wait(arguments.timeout)
    time.sleep(0.2)  # let the 202 reach the function
    server.shutdown()
    if not finished:
        sys.stderr.write(f"runtime-api: no result within {arguments.timeout} s "
                         f"(event {'served' if served.is_set() else 'never requested'})\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
