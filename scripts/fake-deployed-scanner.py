#!/usr/bin/env python3
"""Stands in for the deployed scanner while scripts/test-e2e-script.sh tests
scripts/e2e-deployed.sh against moto_server: it polls a bucket prefix and does what the
real stack does for each new object, tags it scan-status=CLEAN, or, for the EICAR test
file, deletes it and puts the `Object Scan Result` INFECTED event (the shape of
docs/DESIGN.md) into the events queue, as the bus rule `infected` would.

Not a scanner: EICAR is recognised by its exact bytes.
"""

import argparse
import hashlib
import json
import time

import boto3

EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--queue-url", required=True)
    arguments = parser.parse_args()
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    done = set()
    while True:
        listing = s3.list_objects_v2(Bucket=arguments.bucket, Prefix=arguments.prefix)
        for item in listing.get("Contents", []):
            key = item["Key"]
            if key in done:
                continue
            done.add(key)
            body = s3.get_object(Bucket=arguments.bucket, Key=key)["Body"].read()
            if hashlib.sha256(body).hexdigest() == EICAR_SHA256:
                s3.delete_object(Bucket=arguments.bucket, Key=key)
                event = {
                    "version": "0", "source": "s3-clamav-scanner", "detail-type": "Object Scan Result",
                    "detail": {
                        "schemaVersion": "1.0", "scanStatus": "COMPLETED", "verdict": "INFECTED",
                        "action": "DELETED",
                        "s3ObjectDetails": {"bucketName": arguments.bucket, "objectKey": key, "size": len(body)},
                        "threats": [{"name": "Win.Test.EICAR_HDB-1"}], "statusReasons": [],
                    },
                }
                # An unrelated event first: the check must skip it.
                sqs.send_message(QueueUrl=arguments.queue_url, MessageBody=json.dumps(
                    {"source": "s3-clamav-scanner", "detail-type": "Definitions Stale", "detail": {}}))
                sqs.send_message(QueueUrl=arguments.queue_url, MessageBody=json.dumps(event))
                print(f"INFECTED {key}", flush=True)
            else:
                s3.put_object_tagging(Bucket=arguments.bucket, Key=key,
                                      Tagging={"TagSet": [{"Key": "scan-status", "Value": "CLEAN"}]})
                print(f"CLEAN {key}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main()
