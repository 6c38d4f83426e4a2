"""Every object, on moto through the real binaries: a backfill of two thousand objects with
`scanner enqueue` (some already scanned, one with a forged verdict; killed part-way and
resumed); the rescan after new definitions (the updater's Definitions Updated, the bus rule
to the scan queue, the worker listing the bucket and scanning again); an object over the
Lambda scanner's limit handed to the worker and scanned there in windows; a quarantine by
multipart copy. Sizes are scaled down by configuration (MAX_OBJECT_SIZE, MAX_FILE_SIZE,
MULTIPART_COPY_THRESHOLD); bench/ runs the full sizes. Needs the debug build and
MOTO_ENDPOINT (scripts/test.sh)."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote_plus, unquote_plus

from test_scanner_e2e import BIN, Worker, endpoint, new_stack, publish, results_by_key, samples  # noqa: F401

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def fill(stack, bucket, prefix, count):
    """Uploads `count` small distinct objects; returns their keys and sizes."""
    keys = {f"{prefix}{index:05d} é+.txt": f"object {index}\n".encode() for index in range(count)}
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda item: stack.s3.put_object(Bucket=bucket, Key=item[0], Body=item[1]), keys.items()))
    return {key: len(body) for key, body in keys.items()}


def drain(stack, queue_url):
    """Every message on the queue (received, left invisible for the rest of the test)."""
    bodies = []
    empty = 0
    while empty < 3:
        messages = stack.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=3600).get("Messages", [])
        empty = 0 if messages else empty + 1
        bodies += [message["Body"] for message in messages]
    return bodies


def scanner(stack, *arguments, **settings):
    return [os.path.join(BIN, "scanner"), *arguments], {**os.environ, **stack.environment(**settings)}


def invoke(stack, event, **settings):
    command, env = scanner(stack, "invoke", "--event", "-", **settings)
    done = subprocess.run(command, input=json.dumps(event), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def s3_event(bucket, keys):
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/")}}}
                        for key in keys]}


def queued_count(stack, queue_url):
    attributes = stack.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_backfill_queues_what_is_not_proven_scanned_and_resumes_after_a_kill(endpoint, samples, tmp_path):
    stack = new_stack(endpoint)
    publish(stack, f"{samples}/db")
    # A bucket of its own, versioned, without notifications (moto slows down when each upload
    # also sends one).
    bucket = f"{stack.prefix}-existing"
    stack.s3.create_bucket(Bucket=bucket)
    stack.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sizes = fill(stack, bucket, "bf/", 2000)
    # Scanned already, by the scanner itself (each carries its proof) ...
    scanned = sorted(sizes)[:5]
    report = invoke(stack, s3_event(bucket, scanned))
    assert [unit["objects"][0]["verdict"] for unit in report["units"]] == ["CLEAN"] * 5, report
    # ... and EICAR under a verdict an uploader forged.
    stack.s3.put_object(Bucket=bucket, Key="bf/0000-forged.com", Body=EICAR, Tagging="scan-status=CLEAN")
    sizes["bf/0000-forged.com"] = len(EICAR)
    expected = set(sizes) - set(scanned)

    def enqueue(*arguments, prefix="bf/"):
        command, env = scanner(stack, "enqueue", "--bucket", bucket, "--prefix", prefix, "--only", "unscanned", "--json", *arguments)
        return command, env

    command, env = enqueue("--dry-run")
    dry = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stderr
    counts = json.loads(dry.stdout)
    assert (counts["listed"], counts["queued"], counts["skipped"]) == (2001, len(expected), 5), counts
    assert counts["bytes"] == sum(sizes[key] for key in expected)

    # Killed (no chance to clean up) once the first page is checkpointed, then resumed.
    queue = stack.sqs.create_queue(QueueName=f"{stack.prefix}-backfill")["QueueUrl"]
    checkpoint = tmp_path / "position.json"
    command, env = enqueue("--queue-url", queue, "--checkpoint", str(checkpoint))
    slow = subprocess.Popen(command + ["--max-rate", "400"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and slow.poll() is None:
        if checkpoint.exists() and json.loads(checkpoint.read_text())["progress"]["listed"] >= 1000:
            break
        time.sleep(0.05)
    assert slow.poll() is None, "the slowed run ended before it could be killed"
    slow.send_signal(signal.SIGKILL)
    slow.communicate()
    first = json.loads(checkpoint.read_text())["progress"]
    assert not first["finished"] and first["listed"] == 1000, first
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert final["finished"] and (final["listed"], final["queued"]) == (2001, len(expected)), final
    # Every object is on the queue; at most what the killed run sent after its checkpoint twice.
    # (Draining thousands of messages from moto takes minutes: the exact keys of a resumed run
    # are checked in Tests/ScannerCoreTests/CoverageTests.swift, and exactly on a prefix below.)
    assert len(expected) <= queued_count(stack, queue) <= len(expected) + 1000

    exact = stack.sqs.create_queue(QueueName=f"{stack.prefix}-backfill-exact")["QueueUrl"]
    command, env = enqueue("--queue-url", exact, prefix="bf/0000")
    assert subprocess.run(command, env=env, capture_output=True, text=True, timeout=600).returncode == 0
    bodies = drain(stack, exact)
    records = [json.loads(body)["Records"][0] for body in bodies]
    assert {record["eventName"] for record in records} == {"ObjectCreated:Backfill"}
    queued = [unquote_plus(record["s3"]["object"]["key"]) for record in records]
    assert sorted(queued) == sorted(key for key in expected if key.startswith("bf/0000")), "keys are form-encoded as S3 encodes them"

    # The messages are what the scanner consumes: the forged CLEAN is found and deleted.
    forged = next(body for body in bodies if "forged.com" in body)
    batch = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": forged}]}
    unit = invoke(stack, batch)["units"][0]["objects"][0]
    assert (unit["verdict"], unit["action"]) == ("INFECTED", "DELETED"), unit
    events = stack.collect_events(lambda evs: "bf/0000-forged.com" in results_by_key(evs))
    assert results_by_key(events)["bf/0000-forged.com"]["detail"]["trigger"] == "backfill"


def test_new_definitions_rescan_recent_clean_objects(endpoint, samples, tmp_path):
    stack = new_stack(endpoint)
    publish(stack, f"{samples}/db")
    threat = b"a threat the first definitions do not know\n"
    (tmp_path / "threat.bin").write_bytes(threat)
    (tmp_path / "clean.txt").write_bytes(b"an ordinary text\n")
    stack.upload("rs/threat.bin", str(tmp_path / "threat.bin"))
    stack.upload("rs/clean.txt", str(tmp_path / "clean.txt"))
    # The manifest is checked only hourly: the rescan records themselves make the worker load
    # the new definitions.
    worker = Worker(stack, RESCAN_BUCKETS=stack.uploads, RESCAN_WINDOW=24, DEFINITIONS_CHECK_INTERVAL=3600)
    try:
        first = stack.collect_events(lambda evs: {"rs/threat.bin", "rs/clean.txt"} <= set(results_by_key(evs)))
        assert {key: e["detail"]["verdict"] for key, e in results_by_key(first).items()} == {
            "rs/threat.bin": "CLEAN", "rs/clean.txt": "CLEAN"}

        database = tmp_path / "db2"
        shutil.copytree(f"{samples}/db", database)
        (database / "rescan.ndb").write_text("Test.Rescan.Threat:0:*:" + threat.hex() + "\n")
        publish(stack, str(database))

        def rescanned(events):
            return [e for e in events if e["detail-type"] == "Object Scan Result" and e["detail"].get("trigger") == "rescan"]
        events = stack.collect_events(lambda evs: len(rescanned(evs)) >= 2, timeout=180)
    finally:
        status, errors = worker.stop()
    assert status == 0, errors
    results = {e["detail"]["s3ObjectDetails"]["objectKey"]: e["detail"] for e in rescanned(events)}
    assert set(results) == {"rs/threat.bin", "rs/clean.txt"}, errors
    threat_result = results["rs/threat.bin"]
    assert (threat_result["verdict"], threat_result["action"]) == ("INFECTED", "DELETED"), threat_result
    assert threat_result["threats"] == [{"name": "Test.Rescan.Threat.UNOFFICIAL"}]
    assert results["rs/clean.txt"]["verdict"] == "CLEAN"
    assert results["rs/clean.txt"]["definitions"]["version"] != results_by_key(first)["rs/clean.txt"]["detail"]["definitions"]["version"]
    assert stack.versions("rs/threat.bin") == [], "the infected version is gone"


def test_object_over_the_lambda_limit_is_handed_to_the_worker_and_scanned_in_windows(endpoint, samples, tmp_path):
    stack = new_stack(endpoint)
    publish(stack, f"{samples}/db")
    large_queue = stack.queue_with_redrive("large")
    body = os.urandom(5 << 20) + EICAR  # the threat at the very end of the last window
    (tmp_path / "large.bin").write_bytes(body)
    version = stack.upload("big/large.bin", str(tmp_path / "large.bin"))

    # The Lambda scanner (1 MiB of disk, say) hands it over instead of calling it UNSCANNABLE.
    report = invoke(stack, {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": stack.uploads}, "object": {"key": "big/large.bin", "versionId": version}}}]},
        MAX_OBJECT_SIZE=1 << 20, LARGE_OBJECT_QUEUE_URL=large_queue)
    handed = report["units"][0]["objects"][0]
    assert (handed["action"], handed.get("verdict")) == ("HANDED_OVER", None), handed
    assert stack.tags("big/large.bin") == {}, "no verdict until the worker has scanned it"

    # The worker, whose libclamav takes 1 MiB at once (2 GiB in production), scans it in windows.
    worker = Worker(stack, queue_url=large_queue, MAX_OBJECT_SIZE=64 << 20, MAX_FILE_SIZE=1 << 20)
    try:
        events = stack.collect_events(lambda evs: "big/large.bin" in results_by_key(evs))
    finally:
        status, errors = worker.stop()
    assert status == 0, errors
    detail = results_by_key(events)["big/large.bin"]["detail"]
    assert (detail["verdict"], detail["action"]) == ("INFECTED", "DELETED"), detail
    assert detail["s3ObjectDetails"]["versionId"] == version and detail["s3ObjectDetails"]["size"] == len(body)
    assert version not in stack.versions("big/large.bin")


def test_quarantine_above_the_copy_threshold_is_a_multipart_copy(endpoint, samples, tmp_path):
    stack = new_stack(endpoint)
    publish(stack, f"{samples}/db")
    body = EICAR + os.urandom(12 << 20)
    (tmp_path / "infected.bin").write_bytes(body)
    version = stack.upload("mq/infected.bin", str(tmp_path / "infected.bin"))
    worker = Worker(stack, INFECTED_ACTION="quarantine", MULTIPART_COPY_THRESHOLD=5 << 20)
    try:
        events = stack.collect_events(lambda evs: "mq/infected.bin" in results_by_key(evs))
    finally:
        status, errors = worker.stop()
    assert status == 0, errors
    assert results_by_key(events)["mq/infected.bin"]["detail"]["action"] == "QUARANTINED"
    copied = stack.s3.get_object(Bucket=stack.quarantine, Key="mq/infected.bin")
    assert re.search(r"-[0-9]+$", copied["ETag"].strip('"')), "a multipart copy's entity tag ends in -<parts>"
    assert copied["Body"].read() == body
    assert stack.tags("mq/infected.bin", bucket=stack.quarantine)["scan-status"] == "INFECTED"
    assert version not in stack.versions("mq/infected.bin")
