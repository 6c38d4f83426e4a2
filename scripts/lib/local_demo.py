#!/usr/bin/env python3
"""The README's local run: a stack on moto, generated definitions published by the updater,
a handful of clean and infected uploads, the real `scanner worker`, and per object the
verdict, the action taken and the event received on the bus.

    local_demo.py ENDPOINT SAMPLES_DIR DATABASE_DIR
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_stack import Stack  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".build", "debug")


def main(endpoint, samples, database):
    stack = Stack(endpoint, "local").create()
    env = {**os.environ, **stack.environment(MAX_OBJECT_SIZE=1048576)}
    print(f"== publishing generated definitions from {database} to s3://{stack.definitions}/clamav/")
    subprocess.run([os.path.join(BIN, "definition-updater"), "publish", "--database", database], env=env, check=True)

    uploads = {
        "docs/readme.txt": f"{samples}/clean.txt",
        "images/logo.png": f"{samples}/clean.png",
        "downloads/eicar.com": f"{samples}/eicar.com",
        "archives/eicar.zip.tar.gz": f"{samples}/eicar.zip.tar.gz",
        "archives/clam.zip": "/usr/share/clamav-testfiles/clam.zip",
        "archives/secret.zip": f"{samples}/encrypted.zip",
        "media/large.bin": f"{samples}/random-2MiB.bin",
    }
    print(f"== uploading {len(uploads)} objects to s3://{stack.uploads} (versioned; MAX_OBJECT_SIZE=1 MiB)")
    for key, path in uploads.items():
        stack.upload(key, path, tags={"uploaded-by": "local-demo"})

    print("== running scanner worker on the bucket's notification queue (JSON logs on stderr)")
    worker = subprocess.Popen([os.path.join(BIN, "scanner"), "worker", "--queue-url", stack.scan_queue_url],
                              env=env, stdout=subprocess.DEVNULL)
    try:
        events = stack.collect_events(
            lambda evs: len({e["detail"]["s3ObjectDetails"]["objectKey"] for e in evs
                             if e["detail-type"] == "Object Scan Result"}) >= len(uploads), timeout=120)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    results = {e["detail"]["s3ObjectDetails"]["objectKey"]: e["detail"] for e in events
               if e["detail-type"] == "Object Scan Result"}
    print()
    print(f"{'object':32} {'verdict':12} {'action':12} {'tag now':12} event detail")
    for key in uploads:
        detail = results.get(key)
        if detail is None:
            print(f"{key:32} no event received")
            continue
        versions = stack.versions(key)
        tag = stack.tags(key).get("scan-status", "-") if versions else "(deleted)"
        why = ", ".join(t["name"] for t in detail["threats"]) or "; ".join(detail["statusReasons"]) or "-"
        print(f"{key:32} {detail['verdict']:12} {detail['action']:12} {tag:12} {why}")
    return 0 if len(results) == len(uploads) else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
