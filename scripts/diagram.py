#!/usr/bin/env python3
"""Draws the architecture of s3-clamav-scanner as deployed by infrastructure/ into
diagram.png (README.md embeds it).

    python3 scripts/diagram.py [--output diagram.png]     draw
    python3 scripts/diagram.py --check [diagram.png]      fail unless the picture is current

Needs the `diagrams` package (pip) and graphviz (apt). Graphviz does not promise the same
PNG bytes across versions, so the picture is compared through its graph source: the PNG
carries the SHA-256 of the Graphviz source it was drawn from (a PNG text chunk), and
--check (Tests/suites/lint.sh) builds the source again and fails when the hash differs.
When the infrastructure changes (infrastructure/network, infrastructure/apps/
s3-clamav-scanner), change the description below and redraw.
"""

import argparse
import hashlib
import itertools
import os
import struct
import sys
import tempfile
import zlib

import diagrams
from diagrams import Cluster, Diagram, Edge, Node
from diagrams.aws.compute import ECR, ElasticContainerServiceService, LambdaFunction
from diagrams.aws.integration import (
    EventbridgeCustomEventBusResource,
    EventbridgeRule,
    EventbridgeScheduler,
    SimpleQueueServiceSqsQueue,
)
from diagrams.aws.management import AutoScaling, Cloudwatch, CloudwatchAlarm, CloudwatchLogs
from diagrams.aws.network import Endpoint, PrivateSubnet
from diagrams.aws.security import KMS
from diagrams.aws.storage import SimpleStorageServiceS3Bucket
from diagrams.onprem.ci import GithubActions
from diagrams.onprem.network import Internet

GRAPH = {
    "fontsize": "22",
    "fontname": "Helvetica",
    "labelloc": "t",
    "pad": "0.4",
    "nodesep": "0.55",
    "ranksep": "1.0",
    "splines": "spline",
}
NODE = {"fontsize": "13", "fontname": "Helvetica"}
EDGE = {"fontsize": "12", "fontname": "Helvetica"}
HASH_KEY = b"diagram-source-sha256"
# Icons are files inside the installed package: their folder differs between machines.
ICONS = os.path.dirname(os.path.abspath(diagrams.__file__))


def describe(filename: str) -> None:
    """Builds the picture; leaving the Diagram block renders it."""
    # diagrams names nodes with random UUIDs; numbered names make the source reproducible.
    counter = itertools.count(1)
    Node._rand_id = staticmethod(lambda: f"n{next(counter)}")

    with Diagram(
        "s3-clamav-scanner: event-driven antivirus for S3",
        filename=filename,
        outformat="png",
        show=False,
        direction="LR",
        graph_attr=GRAPH,
        node_attr=NODE,
        edge_attr=EDGE,
    ):
        github = GithubActions("GitHub Actions\n(OIDC role)")
        mirror = Internet("ClamAV mirror\n(database.clamav.net\nor your own)")

        with Cluster("AWS account, one region"):
            with Cluster("ECR (immutable tags = commit SHA)"):
                scanner_repository = ECR("scanner")
                updater_repository = ECR("definition-updater")

            uploads = SimpleStorageServiceS3Bucket(
                "scanned buckets (versioned)\npolicy: no download unless\nscan-status=CLEAN, no scan tag\nwritten by anyone but the scanner"
            )
            keys = KMS("customer-managed keys\n(SSE-KMS, optional):\nkms:Decrypt via S3 only")
            scan_queue = SimpleQueueServiceSqsQueue("scan queue\n(SQS trigger or rescan,\n+ redrive queue,\npartial batch failures)")
            definitions = SimpleStorageServiceS3Bucket(
                "definitions bucket\nclamav/ + manifest.json\n(read only by the scanner\nvia the S3 endpoint, and the updater)"
            )
            quarantine = SimpleStorageServiceS3Bucket("quarantine bucket\n(optional)")

            with Cluster("VPC: no internet or NAT gateway"):
                with Cluster("2 private subnets (2 AZs)"):
                    subnet_a = PrivateSubnet("private subnet a")
                    subnet_b = PrivateSubnet("private subnet b")
                scanner = LambdaFunction("scanner\n(libclamav in process)")
                with Cluster("ECS worker (optional, Fargate)"):
                    worker = ElasticContainerServiceService("scanner worker\n(large objects,\nsustained volume)")
                    scaling = AutoScaling("scale on queue depth\n0 .. worker_max_tasks")
                s3_endpoint = Endpoint("S3 gateway\nendpoint")
                interface_endpoints = Endpoint("interface endpoints\nEventBridge (+ SQS, ECR,\nLogs for the worker)")

            worker_queue = SimpleQueueServiceSqsQueue("worker queue\n(objects over the Lambda\nscanner's MAX_OBJECT_SIZE,\n+ redrive queue)")

            with Cluster("outside the VPC"):
                schedule = EventbridgeScheduler("daily schedule\n(default bus)\n+ once per deploy")
                updater = LambdaFunction("definition-updater\n(freshclam)")

            with Cluster("custom event bus s3-clamav-scanner"):
                bus = EventbridgeCustomEventBusResource("scan results,\nscan failures,\ndefinitions events")
                rules = EventbridgeRule("rules: scan failures, update\nfailures (not COOLDOWN/TOO_SOON),\ninfected, unscannable, blocked,\ninvocation failures")
                rescan_rule = EventbridgeRule("rescan rule (optional):\nDefinitions Updated")
                events_queue = SimpleQueueServiceSqsQueue("events queue\n(14 days)")

            logs = CloudwatchLogs("logs + EMF metrics\n[Service], [Service, Verdict]")
            alarms = CloudwatchAlarm("alarms: function errors,\nScanErrors, definitions age,\nfailure rules, redrive depth")
            dashboard = Cloudwatch("dashboard: verdicts (BLOCKED too),\nlatency, bytes, definitions age,\nqueue and redrive depth")

        github >> Edge(label="docker push :SHA") >> scanner_repository
        github >> Edge(label="docker push :SHA") >> updater_repository
        scanner_repository >> Edge(style="dashed", label="image") >> [scanner, worker]
        updater_repository >> Edge(style="dashed", label="image") >> updater

        uploads >> Edge(label="ObjectCreated\n(direct trigger)", style="dotted") >> scanner
        uploads >> Edge(label="ObjectCreated\n(SQS trigger)") >> scan_queue >> Edge(label="batch") >> scanner
        scanner >> Edge(label="over its MAX_OBJECT_SIZE\n(with the worker)") >> worker_queue >> Edge(label="poll") >> worker
        scanner >> Edge(style="dotted", label="rescan: listings\nand objects") >> scan_queue
        worker_queue >> Edge(style="dotted", label="depth") >> scaling >> worker
        scanner >> Edge(style="dashed", label="ENIs") >> [subnet_a, subnet_b]
        [scanner, worker] >> Edge(label="GET version, tag,\ndelete infected") >> s3_endpoint
        s3_endpoint >> uploads
        uploads >> Edge(style="dotted", label="SSE-KMS") >> keys
        s3_endpoint >> Edge(label="manifest + database") >> definitions
        s3_endpoint >> Edge(label="copy infected") >> quarantine
        [scanner, worker] >> Edge(label="PutEvents") >> interface_endpoints >> bus

        schedule >> updater
        updater >> Edge(label="freshclam\n(CDIFF updates)") >> mirror
        updater >> Edge(label="restore, publish\nmanifest last") >> definitions
        updater >> Edge(label="PutEvents") >> bus

        bus >> rules >> events_queue
        bus >> rescan_rule >> scan_queue
        [scanner, worker, updater] >> Edge(style="dotted") >> logs
        logs >> Edge(style="dotted") >> [alarms, dashboard]
        rules >> Edge(style="dotted", label="matched events") >> alarms


def graph_source(diagram: Diagram) -> bytes:
    return diagram.dot.source.replace(ICONS, "<diagrams>").encode()


def draw(output_png: str) -> str:
    """Draws the graph into output_png; returns the SHA-256 of its source."""
    base, extension = os.path.splitext(output_png)
    if extension.lower() != ".png":
        raise SystemExit("diagram.py: the output must be a .png file")
    captured = {}
    render = Diagram.render

    def capture_then_render(self):
        captured["source"] = graph_source(self)
        render(self)

    Diagram.render = capture_then_render
    try:
        describe(base)
    finally:
        Diagram.render = render
    return hashlib.sha256(captured["source"]).hexdigest()


def png_chunks(data: bytes):
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        yield kind, data[position + 8:position + 8 + length], position
        position += 12 + length


def stamp(png: str, digest: str) -> None:
    """Adds a tEXt chunk with the source's hash before IEND."""
    data = open(png, "rb").read()
    iend = next(position for kind, _, position in png_chunks(data) if kind == b"IEND")
    body = HASH_KEY + b"\0" + digest.encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    open(png, "wb").write(data[:iend] + chunk + data[iend:])


def stamped(png: str):
    data = open(png, "rb").read()
    for kind, body, _ in png_chunks(data):
        if kind == b"tEXt" and body.startswith(HASH_KEY + b"\0"):
            return body[len(HASH_KEY) + 1:].decode()
    return None


def in_scratch(function, *arguments):
    # diagrams writes into the current directory first; work in a temporary one so that
    # nothing but the PNG appears.
    with tempfile.TemporaryDirectory() as scratch:
        previous = os.getcwd()
        os.chdir(scratch)
        try:
            return function(*arguments)
        finally:
            os.chdir(previous)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    default = os.path.join(root, "diagram.png")
    parser.add_argument("--output", default=default)
    parser.add_argument("--check", nargs="?", const=default, metavar="PNG",
                        help="compare PNG (default diagram.png) with what this script draws")
    arguments = parser.parse_args()
    if arguments.check:
        committed = os.path.abspath(arguments.check)
        with tempfile.TemporaryDirectory() as scratch:
            # Drawn for real, so that a description Graphviz cannot render fails too.
            digest = in_scratch(draw, os.path.join(scratch, "diagram.png"))
        found = stamped(committed) if os.path.exists(committed) else None
        if found != digest:
            print(f"diagram.py: {committed} is not what scripts/diagram.py draws now (source {digest}, "
                  f"picture {found or 'without a source hash'}): run python3 scripts/diagram.py and commit diagram.png",
                  file=sys.stderr)
            return 1
        print(f"{committed} is current (source {digest[:12]})")
        return 0
    output = os.path.abspath(arguments.output)
    digest = in_scratch(draw, output)
    stamp(output, digest)
    print(f"wrote {output} (source {digest[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
