#!/usr/bin/env python3
"""Draws the architecture of s3-clamav-scanner as deployed by infrastructure/ into
diagram.png (README.md embeds it).

    python3 scripts/diagram.py [--output diagram.png]

Needs the `diagrams` package (pip) and graphviz (apt). scripts/test-lint.sh runs this
script into a temporary file, so a change that breaks it fails the lint. When the
infrastructure changes (infrastructure/network, infrastructure/apps/s3-clamav-scanner),
change the description below and regenerate the PNG.
"""

import argparse
import os
import sys
import tempfile

from diagrams import Cluster, Diagram, Edge
from diagrams.aws.compute import ECR, LambdaFunction
from diagrams.aws.integration import (
    EventbridgeCustomEventBusResource,
    EventbridgeRule,
    EventbridgeScheduler,
    SimpleQueueServiceSqsQueue,
)
from diagrams.aws.management import CloudwatchAlarm, CloudwatchLogs
from diagrams.aws.network import Endpoint, PrivateSubnet
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


def draw(output_png: str) -> None:
    base, extension = os.path.splitext(output_png)
    if extension.lower() != ".png":
        raise SystemExit("diagram.py: the output must be a .png file")

    with Diagram(
        "s3-clamav-scanner: event-driven antivirus for S3",
        filename=base,
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

            uploads = SimpleStorageServiceS3Bucket("scanned buckets\n(uploads; download denied\nunless scan-status=CLEAN)")
            scan_queue = SimpleQueueServiceSqsQueue("scan queue\n(optional, + redrive queue)")
            definitions = SimpleStorageServiceS3Bucket("definitions bucket\nclamav/ + manifest.json\n(reads only via the\nS3 endpoint)")
            quarantine = SimpleStorageServiceS3Bucket("quarantine bucket\n(optional)")

            with Cluster("VPC: no internet or NAT gateway"):
                with Cluster("2 private subnets (2 AZs)"):
                    subnet_a = PrivateSubnet("private subnet a")
                    subnet_b = PrivateSubnet("private subnet b")
                scanner = LambdaFunction("scanner\n(libclamav in process)")
                s3_endpoint = Endpoint("S3 gateway\nendpoint")
                events_endpoint = Endpoint("EventBridge\ninterface endpoint")

            with Cluster("outside the VPC"):
                schedule = EventbridgeScheduler("daily schedule\n(default bus)\n+ once per deploy")
                updater = LambdaFunction("definition-updater\n(freshclam)")

            with Cluster("custom event bus s3-clamav-scanner"):
                bus = EventbridgeCustomEventBusResource("scan results,\nscan failures,\ndefinitions events")
                rules = EventbridgeRule("rules: failures,\ninfected, invocation\nfailures")
                events_queue = SimpleQueueServiceSqsQueue("events queue\n(14 days)")

            logs = CloudwatchLogs("function logs\n(JSON + EMF metrics)")
            alarms = CloudwatchAlarm("alarms: errors, scan\nerrors, definitions stale,\nfailure events, redrive")

        github >> Edge(label="docker push :SHA") >> scanner_repository
        github >> Edge(label="docker push :SHA") >> updater_repository
        scanner_repository >> Edge(style="dashed", label="image") >> scanner
        updater_repository >> Edge(style="dashed", label="image") >> updater

        uploads >> Edge(label="ObjectCreated") >> scan_queue >> Edge(label="batch") >> scanner
        uploads >> Edge(label="ObjectCreated\n(direct trigger)", style="dotted") >> scanner
        scanner >> Edge(style="dashed", label="ENIs") >> [subnet_a, subnet_b]
        scanner >> Edge(label="GET version, tag,\ndelete infected") >> s3_endpoint
        s3_endpoint >> uploads
        s3_endpoint >> Edge(label="manifest + database") >> definitions
        s3_endpoint >> Edge(label="copy infected") >> quarantine
        scanner >> Edge(label="PutEvents") >> events_endpoint >> bus

        schedule >> updater
        updater >> Edge(label="freshclam\n(CDIFF updates)") >> mirror
        updater >> Edge(label="restore, publish\nmanifest last") >> definitions
        updater >> Edge(label="PutEvents") >> bus

        bus >> rules >> events_queue
        [scanner, updater] >> Edge(style="dotted") >> logs
        logs >> Edge(style="dotted") >> alarms
        rules >> Edge(style="dotted", label="matched events") >> alarms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--output", default=os.path.join(root, "diagram.png"))
    arguments = parser.parse_args()
    output = os.path.abspath(arguments.output)
    # diagrams writes into the current directory first; work in a temporary one so
    # that nothing but the PNG appears.
    with tempfile.TemporaryDirectory() as scratch:
        previous = os.getcwd()
        os.chdir(scratch)
        try:
            draw(output)
        finally:
            os.chdir(previous)
    if not os.path.getsize(output):
        print(f"diagram.py: {output} is empty", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
