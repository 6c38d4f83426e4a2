#!/usr/bin/env python3
"""The benchmark's moto side and its two competitors (bench/run.sh drives this).

    contenders.py ENDPOINT setup PREFIX WORK OBJECTS SAMPLES LARGE_MIB
        create the stack on moto, generate OBJECTS distinct objects (plus SAMPLES/*), upload
        them, write WORK/keys.txt and print the environment for the scanner; with LARGE_MIB > 0
        also upload a random object of that size as `large/object.bin`
    contenders.py ENDPOINT untag PREFIX WORK
        remove every tag of the objects in WORK/keys.txt (the next run scans them afresh)
    contenders.py ENDPOINT clamscan PREFIX WORK DB COUNT WARMUP
        per object: download with boto3, then `clamscan --no-summary -d DB FILE`
    contenders.py ENDPOINT clamdscan PREFIX WORK CONF CLAMD_PID COUNT WARMUP [PARALLEL]
        per object: download with boto3, then `clamdscan --fdpass -c CONF FILE`; PARALLEL
        objects at a time (default 1)

Both competitors do what the Lambda scanners in use today do per object: a warm Python
process downloads the object with boto3 to a file and runs a ClamAV program on it. The time
of one object is the download plus the program's run. Each prints one JSON object.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import boto3
import botocore.config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "lib"))
from local_stack import Stack  # noqa: E402

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
WORDS = ("invoice order customer account payment report summary quarterly revenue shipment "
         "delivery address contract signature update status pending approved rejected total "
         "amount currency reference number date region bucket object version scan clean the "
         "a of to and in for with on by from is are was be this that it as at or").split()


def text(rng, size):
    out, length = [], 0
    while length < size:
        line = " ".join(rng.choices(WORDS, k=rng.randint(6, 16))) + "\n"
        out.append(line)
        length += len(line)
    return "".join(out).encode()[:size]


def html(rng, size):
    body = text(rng, size)
    return b"<!DOCTYPE html><html><head><title>report</title></head><body><p>" + body.replace(b"\n", b"</p>\n<p>") + b"</p></body></html>\n"


def archive(rng, size):
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("notes.txt", text(rng, size // 2))
        zipped.writestr("data.bin", rng.randbytes(size // 2))
    return buffer.getvalue()


def make_objects(count, seed=7):
    """`count` distinct objects of 2 KiB-1 MiB (log-uniform): random binary, text, HTML,
    zip archives; about 2 % carry the EICAR string somewhere in their text."""
    rng = random.Random(seed)
    kinds = [("bin", 0.40, lambda r, n: r.randbytes(n)), ("txt", 0.30, text), ("html", 0.20, html), ("zip", 0.10, archive)]
    for index in range(count):
        size = int(2048 * 512 ** rng.random())
        roll, total = rng.random(), 0.0
        for name, weight, make in kinds:  # noqa: B007 (the chosen kind is used after the loop)
            total += weight
            if roll < total:
                break
        data = make(rng, size)
        if rng.random() < 0.02:
            name, cut = "txt", rng.randint(0, size)
            data = text(rng, cut) + EICAR + text(rng, size - cut)
        yield f"objects/{index:05d}.{name}", data


def setup(endpoint, prefix, work, count, samples, large_mib):
    stack = Stack(endpoint, prefix).create()
    keys = []
    total = 0
    copies = os.path.join(work, "objects")
    os.makedirs(copies, exist_ok=True)
    for key, data in make_objects(count):
        stack.s3.put_object(Bucket=stack.uploads, Key=key, Body=data)
        keys.append(key)
        total += len(data)
        # Local copies, named so that they sort in upload order: the engines alone scan them.
        with open(os.path.join(copies, os.path.basename(key)), "wb") as copy:
            copy.write(data)
    # The hash-detected samples go in the middle of the list, not among the warm-up objects.
    for position, name in enumerate(sorted(os.listdir(samples))):
        key = f"objects/sample-{name}"
        with open(os.path.join(samples, name), "rb") as sample:
            stack.s3.put_object(Bucket=stack.uploads, Key=key, Body=sample.read())
        keys.insert(len(keys) // 2 + position, key)
    with open(os.path.join(work, "keys.txt"), "w") as listing:
        listing.write("\n".join(keys) + "\n")
    if large_mib > 0:
        path = os.path.join(work, "large.bin")
        with open(path, "wb") as large:
            for _ in range(large_mib):
                large.write(os.urandom(1 << 20))
        # moto announces a wrong full-object CRC32 for boto3's multipart uploads (checked here:
        # it differs from the bytes' CRC32), which the scanner's client rightly refuses; upload
        # without a client checksum so that moto announces none.
        plain = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing",
                             config=botocore.config.Config(request_checksum_calculation="when_required"))
        plain.upload_file(path, stack.uploads, "large/object.bin")
        os.remove(path)
    print(f"uploaded {len(keys)} objects ({total / 1048576:.1f} MiB) to s3://{stack.uploads}", file=sys.stderr)
    environment = stack.environment(INFECTED_ACTION="tag", SCANNER_WORK_DIRECTORY=os.path.join(work, "scanner"))
    for key, value in environment.items():
        print(f"{key}={value}")


def measure(endpoint, prefix, work, count, warmup, command, memory, parallel=1):
    """Runs `command(path)` on every downloaded object, `parallel` objects at a time; returns
    the figures as a dict."""
    stack = Stack(endpoint, prefix)
    with open(os.path.join(work, "keys.txt")) as listing:
        keys = [line.strip() for line in listing if line.strip()]
    keys = keys[:warmup + count]
    folder = os.path.join(work, "downloads")
    os.makedirs(folder, exist_ok=True)

    def one(item):
        index, key = item
        start = time.perf_counter()
        path = os.path.join(folder, f"{index}-{os.path.basename(key)}")
        usage = path + ".time"
        body = stack.s3.get_object(Bucket=stack.uploads, Key=key)["Body"]
        with open(path, "wb") as out:
            shutil.copyfileobj(body, out, 1 << 20)
        # GNU time reports the program's own peak RSS (rusage of a child forked from a Python
        # process would count the Python image too); it costs about a millisecond.
        program_start = time.perf_counter()
        process = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", usage, *command(path)], capture_output=True)
        program = time.perf_counter() - program_start
        if process.returncode not in (0, 1):
            raise SystemExit(f"{key}: {' '.join(command(path))} exited {process.returncode}: "
                             f"{(process.stdout + process.stderr).decode(errors='replace')}")
        # Like the Lambda scanners in use today, every contender tags the object with its
        # verdict, so all three do the same S3 work around the scan.
        verdict = "INFECTED" if process.returncode == 1 else "CLEAN"
        stack.s3.put_object_tagging(Bucket=stack.uploads, Key=key, Tagging={"TagSet": [{"Key": "scan-status", "Value": verdict}]})
        elapsed = time.perf_counter() - start
        os.remove(path)
        with open(usage) as report:
            peak = int(report.read().split()[-1])
        os.remove(usage)
        return elapsed, program, verdict, peak

    for item in enumerate(keys[:warmup]):
        one(item)
    measured_start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(one, list(enumerate(keys))[warmup:]))
    measured = time.perf_counter() - measured_start
    latencies = [r[0] for r in results]
    programs = [r[1] for r in results]
    verdicts = {}
    for result in results:
        verdicts[result[2]] = verdicts.get(result[2], 0) + 1

    def percentile(values, fraction):
        values = sorted(values)
        rank = max(1, min(len(values), int(-(-fraction * len(values) // 1))))
        return values[rank - 1]

    return {
        "objects": len(latencies), "parallel": parallel, "p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
        "programOnly": {"p50": percentile(programs, 0.50), "p99": percentile(programs, 0.99)},
        "mean": sum(latencies) / len(latencies), "objectsPerSecond": len(latencies) / measured,
        "peakProgramKiB": max(r[3] for r in results), "verdicts": ",".join(f"{k}={v}" for k, v in sorted(verdicts.items())),
        **memory(),
    }


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    endpoint, command, prefix, work = argv[1], argv[2], argv[3], argv[4]
    if command == "setup" and len(argv) == 8:
        setup(endpoint, prefix, work, int(argv[5]), argv[6], int(argv[7]))
    elif command == "untag" and len(argv) == 5:
        stack = Stack(endpoint, prefix)
        with open(os.path.join(work, "keys.txt")) as listing:
            for key in (line.strip() for line in listing if line.strip()):
                stack.s3.delete_object_tagging(Bucket=stack.uploads, Key=key)
    elif command == "clamscan" and len(argv) == 8:
        database = argv[5]
        result = measure(endpoint, prefix, work, int(argv[6]), int(argv[7]),
                         lambda path: ["clamscan", "--no-summary", "-d", database, path], dict)
        result["contender"] = "clamscan"
        result["peakKiB"] = result["peakProgramKiB"]
        print(json.dumps(result, sort_keys=True))
    elif command == "clamdscan" and len(argv) in (9, 10):
        conf, pid = argv[5], int(argv[6])
        result = measure(endpoint, prefix, work, int(argv[7]), int(argv[8]),
                         lambda path: ["clamdscan", "--no-summary", "--fdpass", "-c", conf, path],
                         lambda: {"clamdVmHWMKiB": vm_hwm(pid)}, parallel=int(argv[9]) if len(argv) == 10 else 1)
        result["contender"] = "clamd"
        result["peakKiB"] = result["clamdVmHWMKiB"]
        print(json.dumps(result, sort_keys=True))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
