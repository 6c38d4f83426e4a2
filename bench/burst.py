#!/usr/bin/env python3
"""A burst with nothing lost (issue 17): N objects uploaded at once to a bucket whose
notifications feed the scan queue, drained by `scanner worker`, optionally through a proxy
that injects faults (503 answers and dropped connections) into a share of its AWS requests.

    burst.py ENDPOINT BIN DATABASE [--objects N] [--fault-rate R] [--concurrency C]
                                   [--path worker|lambda] [--json FILE]

ENDPOINT is a moto_server, BIN the folder of `scanner`, `definition-updater` and
`scanner-bench`, DATABASE a signature folder with EICAR in it. `--path lambda` drains the
queue through the scanner in Lambda mode, in batches of 10 (`scanner-bench lambda-poller`:
Lambda's SQS event source in miniature) instead of `scanner worker`. Prints objects per second and the queue's drain time, and
fails (exit 1) unless every object ends with exactly one result event and its verdict applied
(CLEAN tagged, INFECTED deleted), no message is left in the queue or in flight, and none
reached the dead-letter queue. bench/burst.sh runs it twice, without and with faults.
"""
import argparse
import http.client
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "lib"))
from local_stack import Stack  # noqa: E402

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class FaultProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to moto; a share `rate` of them instead gets a 503 (half) or a
    connection closed before any answer (half). Counts what it did."""

    daemon_threads = True

    def __init__(self, target, rate):
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.target = urllib.parse.urlsplit(target)
        self.rate = rate
        self.random = random.Random(17)
        self.lock = threading.Lock()
        self.counts = {"forwarded": 0, "503": 0, "dropped": 0}

    def handle_error(self, request, client_address):
        # A client that went away (after a dropped connection, or retrying) is no error here.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def draw(self):
        with self.lock:
            roll = self.random.random()
            fault = "503" if roll < self.rate / 2 else "dropped" if roll < self.rate else "forwarded"
            self.counts[fault] += 1
            return fault


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.server.draw()
        if fault == "dropped":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault == "503":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = self.server.target
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("connection", "keep-alive")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(name, value)
        # A HEAD answer keeps the object's length; anything else has the body read here.
        length = response.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay


def queue_depth(stack, url):
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint")
    parser.add_argument("bin")
    parser.add_argument("database")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--path", choices=["worker", "lambda"], default="worker")
    parser.add_argument("--json")
    args = parser.parse_args()

    prefix = f"burst{int(time.time())}"
    stack = Stack(args.endpoint, prefix).create()
    redrive_url = stack.sqs.get_queue_url(QueueName=f"{prefix}-scan-redrive")["QueueUrl"]
    env = {**os.environ, **stack.environment(SCAN_CONCURRENCY=1 if args.path == "lambda" else args.concurrency)}
    subprocess.run([os.path.join(args.bin, "definition-updater"), "publish", "--database", args.database],
                   env=env, check=True, stdout=subprocess.DEVNULL)

    rng = random.Random(4)
    objects = {}
    for index in range(args.objects):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(256, 4096)))
        infected = rng.random() < 0.02
        objects[f"burst/{index:05d}.bin"] = (body + EICAR) if infected else body

    started = time.monotonic()
    def upload(item):
        key, body = item
        return key, stack.s3.put_object(Bucket=stack.uploads, Key=key, Body=body)["VersionId"]
    with ThreadPoolExecutor(16) as pool:
        versions = dict(pool.map(upload, objects.items()))
    uploaded = time.monotonic() - started
    print(f"uploaded {len(objects)} objects in {uploaded:.1f} s", file=sys.stderr)
    # moto delivers notifications as it stores each object: wait until the queue holds them all.
    while sum(queue_depth(stack, stack.scan_queue_url)) < len(objects):
        time.sleep(1)

    proxy = None
    scanner_env = dict(env)
    if args.fault_rate > 0:
        proxy = FaultProxy(args.endpoint, args.fault_rate)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        scanner_env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{proxy.server_address[1]}"
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"{prefix}-{args.path}.log"), "w")
    poller = None
    started = time.monotonic()
    if args.path == "lambda":
        # The poller talks to SQS directly (it stands for AWS's event source); the function
        # goes through the proxy.
        poller = subprocess.run([os.path.join(args.bin, "scanner-bench"), "lambda-poller", "--queue-url", stack.scan_queue_url,
                                 "--scanner", os.path.join(args.bin, "scanner"), "--timeout", str(args.timeout),
                                 "--function-endpoint", scanner_env["AWS_ENDPOINT_URL"]],
                                env=env, stdout=subprocess.PIPE, stderr=log, text=True, check=True)
        drained = time.monotonic() - started
        poller = json.loads(poller.stdout.strip().splitlines()[-1])
    else:
        worker = subprocess.Popen([os.path.join(args.bin, "scanner"), "worker", "--queue-url", stack.scan_queue_url,
                                   "--concurrency", str(args.concurrency)], env=scanner_env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            while time.monotonic() - started < args.timeout:
                visible, in_flight = queue_depth(stack, stack.scan_queue_url)
                if visible == 0 and in_flight == 0:
                    break
                time.sleep(1)
            drained = time.monotonic() - started
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=120)
    if proxy:
        proxy.shutdown()

    events = stack.collect_events(lambda found: False, timeout=5)
    while True:
        more = stack.collect_events(lambda found: False, timeout=3)
        if not more:
            break
        events += more
    results = {}
    for event in events:
        if event.get("detail-type") != "Object Scan Result":
            continue
        details = event["detail"]["s3ObjectDetails"]
        results.setdefault((details["objectKey"], details.get("versionId")), []).append(event["detail"])

    problems = []
    for key, body in objects.items():
        found = results.get((key, versions[key]), [])
        if len(found) != 1:
            problems.append(f"{key}: {len(found)} result events")
            continue
        verdict, action = found[0]["verdict"], found[0]["action"]
        if (EICAR in body) != (verdict == "INFECTED") or verdict not in ("CLEAN", "INFECTED"):
            problems.append(f"{key}: verdict {verdict}")
        elif verdict == "INFECTED" and versions[key] in stack.versions(key):
            problems.append(f"{key}: INFECTED ({action}) but its version is still there")
        elif verdict == "CLEAN" and stack.tags(key, versions[key]).get("scan-status") != "CLEAN":
            problems.append(f"{key}: CLEAN event but no CLEAN tag")
    expected = {(key, versions[key]) for key in objects}
    for (key, version), found in results.items():
        if (key, version) not in expected:
            problems.append(f"{key} version {version}: {len(found)} result events for no uploaded version "
                            f"({', '.join(sorted({detail['verdict'] for detail in found}))})")
    left = queue_depth(stack, stack.scan_queue_url)
    dead = sum(queue_depth(stack, redrive_url))
    if sum(left):
        problems.append(f"scan queue: {left[0]} visible, {left[1]} in flight")
    if dead:
        problems.append(f"dead-letter queue: {dead} messages")

    figures = {"objects": len(objects), "infected": sum(EICAR in body for body in objects.values()),
               "path": args.path, "faultRate": args.fault_rate, "concurrency": 1 if poller else args.concurrency,
               "uploadSeconds": round(uploaded, 1),
               "drainSeconds": round(drained, 1), "objectsPerSecond": round(len(objects) / drained, 1),
               "resultEvents": sum(len(found) for found in results.values()), "problems": len(problems),
               "proxy": proxy.counts if proxy else None, "lambda": poller}
    print(json.dumps(figures))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out)
    for problem in problems[:20]:
        print(f"LOST: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
