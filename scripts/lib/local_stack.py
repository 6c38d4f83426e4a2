#!/usr/bin/env python3
"""A local stand-in for the deployed stack, on moto_server: the buckets, the notification
queue, the event bus with a rule that copies every scanner event to a queue and one that sends
Definitions Updated to the scan queue (the rescan), and the environment the scanner and the
updater run with. Used by scripts/run-local.sh and the end-to-end tests.

    local_stack.py ENDPOINT setup PREFIX              print the environment as KEY=VALUE lines
    local_stack.py ENDPOINT upload PREFIX KEY FILE [TAGGING [BUCKET [CONTENT_TYPE]]]
                                                      upload to PREFIX-uploads (or BUCKET), with
                                                      tags (k=v&k=v) and a declared content type,
                                                      print the version ID
    local_stack.py ENDPOINT tags PREFIX KEY           print the current version's tags as JSON
    local_stack.py ENDPOINT manifest PREFIX           print the published manifest.json
    local_stack.py ENDPOINT put-definition PREFIX NAME FILE
                                                      overwrite one database file (as the updater
                                                      does before it writes the next manifest)
    local_stack.py ENDPOINT kms-bucket PREFIX         create PREFIX-kms, encrypted by default with a
                                                      KMS key (SSE-KMS), print its name
    local_stack.py ENDPOINT queue PREFIX NAME         create a queue without a redrive policy,
                                                      print its URL
    local_stack.py ENDPOINT events PREFIX [SECONDS]   print the scanner events on the bus so far,
                                                      one JSON line each (waits SECONDS, default 2)
"""
import json
import sys
import time

import boto3

REGION = "us-east-1"


def client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


class Stack:
    """Names and clients of one stack; `prefix` keeps several stacks apart on one moto."""

    def __init__(self, endpoint, prefix):
        self.endpoint = endpoint
        self.prefix = prefix
        self.uploads = f"{prefix}-uploads"
        self.definitions = f"{prefix}-definitions"
        self.quarantine = f"{prefix}-quarantine"
        self.bus = f"{prefix}-bus"
        self.s3 = client(endpoint, "s3")
        self.sqs = client(endpoint, "sqs")
        self.events = client(endpoint, "events")
        self.scan_queue_url = None
        self.events_queue_url = None

    def create(self):
        for bucket in (self.uploads, self.definitions, self.quarantine):
            self.s3.create_bucket(Bucket=bucket)
        # Versioned, as deployed: the manifest names the versions of its database files.
        for bucket in (self.uploads, self.definitions):
            self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.scan_queue_url = self.queue_with_redrive("scan")
        scan_queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.scan_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.s3.put_bucket_notification_configuration(Bucket=self.uploads, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": scan_queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
        self.events_queue_url = self.sqs.create_queue(QueueName=f"{self.prefix}-events")["QueueUrl"]
        events_queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.events_queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.create_event_bus(Name=self.bus)
        self.events.put_rule(Name=f"{self.prefix}-all", EventBusName=self.bus,
                             EventPattern=json.dumps({"source": ["s3-clamav-scanner"]}))
        self.events.put_targets(Rule=f"{self.prefix}-all", EventBusName=self.bus,
                                Targets=[{"Id": "keep", "Arn": events_queue_arn}])
        # As deployed with the rescan on: new definitions reach the scanner through its queue.
        self.events.put_rule(Name=f"{self.prefix}-rescan", EventBusName=self.bus, EventPattern=json.dumps(
            {"source": ["s3-clamav-scanner"], "detail-type": ["Definitions Updated"]}))
        self.events.put_targets(Rule=f"{self.prefix}-rescan", EventBusName=self.bus,
                                Targets=[{"Id": "scan", "Arn": scan_queue_arn}])
        return self

    def queue_with_redrive(self, name):
        """A queue from which a message that keeps failing moves to NAME-redrive after 5 receives
        (as deployed); returns its URL."""
        redrive_url = self.sqs.create_queue(QueueName=f"{self.prefix}-{name}-redrive")["QueueUrl"]
        redrive_arn = self.sqs.get_queue_attributes(QueueUrl=redrive_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return self.sqs.create_queue(QueueName=f"{self.prefix}-{name}", Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": redrive_arn, "maxReceiveCount": "5"})})["QueueUrl"]

    def environment(self, **overrides):
        env = {
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "DEFINITIONS_BUCKET": self.definitions, "EVENT_BUS_NAME": self.bus,
            "QUARANTINE_BUCKET": self.quarantine,
            "SCAN_QUEUE_URL": self.scan_queue_url, "EVENTS_QUEUE_URL": self.events_queue_url,
        }
        env.update({key: str(value) for key, value in overrides.items()})
        return env

    def upload(self, key, path, tags=None, bucket=None, content_type=None):
        if isinstance(tags, dict):
            tags = "&".join(f"{k}={v}" for k, v in tags.items())
        extra = {"Tagging": tags} if tags else {}
        if content_type:
            extra["ContentType"] = content_type
        with open(path, "rb") as body:
            return self.s3.put_object(Bucket=bucket or self.uploads, Key=key, Body=body, **extra).get("VersionId", "")

    def kms_bucket(self):
        key_id = client(self.endpoint, "kms").create_key(Description=f"{self.prefix} uploads")["KeyMetadata"]["KeyId"]
        bucket = f"{self.prefix}-kms"
        self.s3.create_bucket(Bucket=bucket)
        self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]})
        return bucket

    def tags(self, key, version=None, bucket=None):
        extra = {"VersionId": version} if version else {}
        tag_set = self.s3.get_object_tagging(Bucket=bucket or self.uploads, Key=key, **extra)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def versions(self, key, bucket=None):
        listed = self.s3.list_object_versions(Bucket=bucket or self.uploads, Prefix=key)
        return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]

    def collect_events(self, want, timeout=90):
        """Scanner events from the bus's queue, until `want(events)` is true or the time is up."""
        events = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not want(events):
            messages = self.sqs.receive_message(QueueUrl=self.events_queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=1).get("Messages", [])
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return events


def main(argv):
    command = argv[2] if len(argv) > 2 else None
    if command == "setup" and len(argv) == 4:
        stack = Stack(argv[1], argv[3]).create()
        for key, value in stack.environment().items():
            print(f"{key}={value}")
    elif command == "upload" and len(argv) in (6, 7, 8, 9):
        tags, bucket, content_type = (argv[6:] + [None, None, None])[:3]
        print(Stack(argv[1], argv[3]).upload(argv[4], argv[5], tags=tags or None, bucket=bucket or None,
                                              content_type=content_type or None))
    elif command == "manifest" and len(argv) == 4:
        stack = Stack(argv[1], argv[3])
        print(stack.s3.get_object(Bucket=stack.definitions, Key="clamav/manifest.json")["Body"].read().decode())
    elif command == "put-definition" and len(argv) == 6:
        stack = Stack(argv[1], argv[3])
        with open(argv[5], "rb") as body:
            stack.s3.put_object(Bucket=stack.definitions, Key=f"clamav/{argv[4]}", Body=body)
    elif command == "kms-bucket" and len(argv) == 4:
        print(Stack(argv[1], argv[3]).kms_bucket())
    elif command == "queue" and len(argv) == 5:
        print(Stack(argv[1], argv[3]).sqs.create_queue(QueueName=f"{argv[3]}-{argv[4]}")["QueueUrl"])
    elif command == "events" and len(argv) in (4, 5):
        stack = Stack(argv[1], argv[3])
        stack.events_queue_url = stack.sqs.get_queue_url(QueueName=f"{argv[3]}-events")["QueueUrl"]
        wait = float(argv[4]) if len(argv) == 5 else 2
        for event in stack.collect_events(lambda events: False, timeout=wait):
            print(json.dumps(event, sort_keys=True))
    elif command == "tags" and len(argv) == 5:
        print(json.dumps(Stack(argv[1], argv[3]).tags(argv[4]), sort_keys=True))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
