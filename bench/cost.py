#!/usr/bin/env python3
"""Cost per month of scanning S3 uploads: this scanner on Lambda, a clamscan-per-object Lambda,
and GuardDuty Malware Protection for S3, for three traffic shapes, from the figures of
bench/official-scale.sh (its official.json) and public us-east-1 prices (docs/cost.md).

    bench/cost.py OFFICIAL_JSON [--memory-mb 3008] [--in-flight 1] [--scan-mib-per-second N]
                                [--download-mib-per-second 90] [--cold-starts-per-day 24]
                                [--interface-endpoints 1] [--log-bytes-per-object 1000]

What is measured comes from the JSON: the warm scanner's time per (small) object, its cold
start, and the hot reload. What is not measured here is a flag with a stated default: the
scan rate of large objects (measured separately, docs/cost.md), S3 download throughput inside
a region (not measurable against moto), and how often the platform starts a new instance.
"""
import argparse
import json
import sys

# Public prices, us-east-1 (checked 2026-12).
LAMBDA_GB_SECOND = 0.0000166667          # x86_64
LAMBDA_REQUEST = 0.20 / 1e6
S3_GET = 0.0004 / 1000                   # GET, and GetObjectTagging
S3_PUT = 0.005 / 1000                    # PUT, COPY, POST, LIST, and PutObjectTagging
SQS_REQUEST = 0.40 / 1e6
EVENTBRIDGE_EVENT = 1.00 / 1e6           # custom events published
GUARDDUTY_GB = 0.09
GUARDDUTY_OBJECT = 0.215 / 1000
INTERFACE_ENDPOINT_HOUR = 0.01           # per endpoint per AZ
LOGS_GB = 0.50                           # CloudWatch Logs ingestion

SHAPES = [("1 million objects of 100 KB", 1_000_000, 100 * 1000),
          ("10 million objects of 1 MB", 10_000_000, 1000 * 1000),
          ("100 thousand objects of 100 MB", 100_000, 100 * 1000 * 1000)]


def ours(figures, objects, size, args):
    """This scanner in Lambda behind SQS, `in_flight` objects per instance."""
    gb = args.memory_mb / 1024
    small_seconds = figures["ours"]["1"]["p50"]
    seconds = small_seconds + size / (args.scan_mib_per_second * 2**20) + size / (args.download_mib_per_second * 2**20)
    # Objects share an instance's memory when several are in flight; the measured ratio of
    # throughput says how well they share it.
    speedup = figures["ours"][str(args.in_flight)]["objectsPerSecond"] / figures["ours"]["1"]["objectsPerSecond"]
    duration = objects * seconds * gb / speedup
    cold = args.cold_starts_per_day * 30 * figures["ours"]["1"]["loadSeconds"] * gb
    reload = 30 * figures["reloadLimited"]["reloadSeconds"] * gb * max(1, args.cold_starts_per_day / 24)
    compute = (duration + cold + reload) * LAMBDA_GB_SECOND + objects / 10 * LAMBDA_REQUEST
    # Per object: GET and GetObjectTagging (GET class), PutObjectTagging (PUT class); SQS
    # receive and delete in batches of 10; one result event.
    requests = objects * (2 * S3_GET + S3_PUT) + objects * 0.2 * SQS_REQUEST + objects * EVENTBRIDGE_EVENT
    logs = objects * args.log_bytes_per_object / 1e9 * LOGS_GB
    # The network root's interface endpoints (default: events only), in its two zones.
    endpoints = args.interface_endpoints * 2 * 730 * INTERFACE_ENDPOINT_HOUR
    return compute + requests + logs + endpoints, seconds


def clamscan_lambda(objects, size, args):
    """A Lambda that runs clamscan per object: 10 GB, 25 s per object to load the database (20-30 s),
    then the same scan and download as ours."""
    seconds = 25 + size / (args.scan_mib_per_second * 2**20) + size / (args.download_mib_per_second * 2**20)
    return objects * seconds * 10 * LAMBDA_GB_SECOND + objects * LAMBDA_REQUEST + objects * (S3_GET + S3_PUT), seconds


def guardduty(objects, size):
    return objects * size / 1e9 * GUARDDUTY_GB + objects * GUARDDUTY_OBJECT


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official")
    parser.add_argument("--memory-mb", type=int, default=3008)
    parser.add_argument("--in-flight", type=int, default=1, choices=[1, 2, 4],
                        help="objects per instance at once (scanner_scan_concurrency; Terraform default 1)")
    parser.add_argument("--scan-mib-per-second", type=float, default=2.1,
                        help="libclamav's scan rate on large objects (default: measured with the generated "
                             "8.7-million-signature database on text, docs/cost.md)")
    parser.add_argument("--download-mib-per-second", type=float, default=90)
    parser.add_argument("--cold-starts-per-day", type=float, default=24)
    parser.add_argument("--interface-endpoints", type=int, default=1,
                        help="interface endpoints of the network root (default: events)")
    parser.add_argument("--log-bytes-per-object", type=int, default=1000,
                        help="log written per object (one JSON line per object and a few per invocation)")
    args = parser.parse_args()
    try:
        with open(args.official) as file:
            figures = json.load(file)
        for path in (("ours", "1", "p50"), ("ours", "1", "loadSeconds"), ("ours", str(args.in_flight), "objectsPerSecond"),
                     ("reloadLimited", "reloadSeconds")):
            value = figures
            for key in path:
                value = value[key]
    except (OSError, ValueError) as error:
        sys.exit(f"cost.py: cannot read {args.official}: {error}")
    except (KeyError, TypeError):
        sys.exit(f"cost.py: {args.official} has no {'.'.join(path)}: give the official.json bench/official-scale.sh writes")

    print(f"Inputs: warm time per small object {figures['ours']['1']['p50'] * 1000:.1f} ms (measured); cold start "
          f"{figures['ours']['1']['loadSeconds']:.1f} s (measured); reload {figures['reloadLimited']['reloadSeconds']:.1f} s "
          f"(measured); objects in flight per instance: {args.in_flight} ({figures['ours'][str(args.in_flight)]['objectsPerSecond'] / figures['ours']['1']['objectsPerSecond']:.2f}× "
          f"the throughput of 1, measured); {args.memory_mb} MB; scan {args.scan_mib_per_second:.1f} MiB/s and download "
          f"{args.download_mib_per_second:.0f} MiB/s for large objects; {args.cold_starts_per_day:.0f} cold starts a day.\n")
    print("| traffic a month | this scanner (Lambda) | per 1,000 objects | GuardDuty Malware Protection | clamscan per object (Lambda, 10 GB) |")
    print("|---|---:|---:|---:|---:|")
    for label, objects, size in SHAPES:
        ours_cost, ours_seconds = ours(figures, objects, size, args)
        clam_cost, clam_seconds = clamscan_lambda(objects, size, args)
        guard = guardduty(objects, size)
        print(f"| {label} | ${ours_cost:,.2f} ({ours_seconds:.2f} s/object) | ${ours_cost / objects * 1000:.4f} | "
              f"${guard:,.2f} ({guard / ours_cost:.0f}×) | ${clam_cost:,.2f} ({clam_cost / ours_cost:.0f}×, {clam_seconds:.0f} s/object) |")


if __name__ == "__main__":
    main()
