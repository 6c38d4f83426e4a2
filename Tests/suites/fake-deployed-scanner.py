#!/usr/bin/env python3
"""Stands in for the deployed scanner while Tests/suites/deploy-check.sh tests
scripts/e2e-deployed.sh against moto_server: it polls a bucket prefix and, for each new
object version, does what the real stack does, or one of the ways it could go wrong:

  --mode working        EICAR: delete that version and put its `Object Scan Result`
                        INFECTED event (action DELETED) into the events queue, as the bus
                        rule `infected` would; an encrypted zip: tag it UNSCANNABLE and put
                        its event; anything else: tag that version scan-status=CLEAN.
  --mode silent         the same actions, but no events.
  --mode wrong-version  the same, but the events name another version of the object.
  --mode lying          the INFECTED event says DELETED, but nothing is deleted.

Not a scanner: EICAR is recognised by its exact bytes, an encrypted zip by the flag of
its first entry. Event shape: docs/design.md ("Events").
"""

import argparse
import hashlib
import json
import struct
import time

import boto3

EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"


def verdict_of(body: bytes) -> str:
    if hashlib.sha256(body).hexdigest() == EICAR_SHA256:
        return "INFECTED"
    # A zip local file header whose general-purpose flag has bit 0 (encrypted) set.
    if body[:4] == b"PK\x03\x04" and struct.unpack("<H", body[6:8])[0] & 1:
        return "UNSCANNABLE"
    return "CLEAN"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--mode", choices=["working", "silent", "wrong-version", "lying"], default="working")
    arguments = parser.parse_args()
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    done = set()
    while True:
        listing = s3.list_object_versions(Bucket=arguments.bucket, Prefix=arguments.prefix)
        for item in listing.get("Versions", []):
            key, version = item["Key"], item["VersionId"]
            if (key, version) in done:
                continue
            done.add((key, version))
            body = s3.get_object(Bucket=arguments.bucket, Key=key, VersionId=version)["Body"].read()
            verdict = verdict_of(body)
            action = "TAGGED"
            if verdict == "INFECTED":
                action = "DELETED"
                if arguments.mode != "lying":
                    s3.delete_object(Bucket=arguments.bucket, Key=key, VersionId=version)
            else:
                s3.put_object_tagging(Bucket=arguments.bucket, Key=key, VersionId=version,
                                      Tagging={"TagSet": [{"Key": "scan-status", "Value": verdict}]})
            print(f"{verdict} {key} {version}", flush=True)
            if verdict == "CLEAN" or arguments.mode == "silent":
                continue
            event = {
                "version": "0", "source": "s3-clamav-scanner", "detail-type": "Object Scan Result",
                "detail": {
                    "schemaVersion": "1.0", "scanStatus": "COMPLETED" if verdict == "INFECTED" else "SKIPPED",
                    "verdict": verdict, "action": action,
                    "s3ObjectDetails": {"bucketName": arguments.bucket, "objectKey": key, "size": len(body),
                                        "versionId": "another-version" if arguments.mode == "wrong-version" else version},
                    "threats": [{"name": "Win.Test.EICAR_HDB-1"}] if verdict == "INFECTED" else [], "statusReasons": [],
                },
            }
            # Unrelated events first: the check must skip them and leave them in the queue.
            sqs.send_message(QueueUrl=arguments.queue_url, MessageBody=json.dumps(
                {"source": "s3-clamav-scanner", "detail-type": "Definitions Stale", "detail": {}}))
            sqs.send_message(QueueUrl=arguments.queue_url, MessageBody=json.dumps(
                {**event, "detail": {**event["detail"], "s3ObjectDetails": {**event["detail"]["s3ObjectDetails"], "versionId": "of-an-older-upload"}}}))
            sqs.send_message(QueueUrl=arguments.queue_url, MessageBody=json.dumps(event))
        time.sleep(1)


if __name__ == "__main__":
    main()
