"""End to end on moto: S3 notifications to SQS, the real `scanner worker`, the bus rule to a
queue. Needs the debug build (.build/debug) and moto; scripts/test.sh provides both."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
from local_stack import Stack  # noqa: E402

BIN = os.path.join(ROOT, ".build", "debug")
CORPUS = "/usr/share/clamav-testfiles"


@pytest.fixture(scope="module")
def endpoint():
    url = os.environ.get("MOTO_ENDPOINT")
    if not url:
        pytest.fail("MOTO_ENDPOINT is not set: run scripts/test.sh, which starts moto")
    return url


@pytest.fixture(scope="module")
def samples():
    folder = tempfile.mkdtemp()
    subprocess.run([os.path.join(ROOT, "Tests/fixtures/make-test-signatures.sh"), f"{folder}/db"], check=True)
    subprocess.run([os.path.join(ROOT, "Tests/fixtures/make-test-files.sh"), f"{folder}/files"], check=True)
    return folder


def new_stack(endpoint):
    return Stack(endpoint, "e2e-" + uuid.uuid4().hex[:8]).create()


def publish(stack, database):
    subprocess.run([os.path.join(BIN, "definition-updater"), "publish", "--database", database],
                   env={**os.environ, **stack.environment()}, check=True, capture_output=True)


class Worker:
    """The real worker, stopped with SIGTERM."""

    def __init__(self, stack, queue_url=None, **settings):
        env = {**os.environ, **stack.environment(**settings)}
        self.process = subprocess.Popen([os.path.join(BIN, "scanner"), "worker", "--queue-url", queue_url or stack.scan_queue_url],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        _, errors = self.process.communicate(timeout=60)
        return self.process.returncode, errors


def results_by_key(events):
    return {e["detail"]["s3ObjectDetails"]["objectKey"]: e for e in events if e["detail-type"] == "Object Scan Result"}


def test_verdicts_actions_and_events(endpoint, samples):
    stack = new_stack(endpoint)
    publish(stack, f"{samples}/db")
    eicar_version = stack.upload("in/eicar test.com", f"{samples}/files/eicar.com")
    zip_version = stack.upload("in/clam.zip", f"{CORPUS}/clam.zip")
    stack.upload("in/clean+file é.txt", f"{samples}/files/clean.txt", tags={"owner": "team-a", "project": "x"})
    stack.upload("in/big.bin", f"{samples}/files/random-2MiB.bin")
    worker = Worker(stack, MAX_OBJECT_SIZE=1048576)
    try:
        events = stack.collect_events(lambda evs: len(results_by_key(evs)) >= 4)
    finally:
        status, errors = worker.stop()
    assert status == 0, errors
    results = results_by_key(events)
    assert set(results) == {"in/eicar test.com", "in/clam.zip", "in/clean+file é.txt", "in/big.bin"}, errors

    assert eicar_version not in stack.versions("in/eicar test.com"), "the exact infected version is deleted"
    assert zip_version not in stack.versions("in/clam.zip")
    for key, signature in [("in/eicar test.com", "Test.EICAR.Body.UNOFFICIAL"), ("in/clam.zip", "Test.ClamExe.Hash.UNOFFICIAL")]:
        detail = results[key]["detail"]
        assert (detail["verdict"], detail["action"], detail["threats"]) == ("INFECTED", "DELETED", [{"name": signature}])
        assert results[key]["source"] == "s3-clamav-scanner"
    assert results["in/eicar test.com"]["detail"]["s3ObjectDetails"]["versionId"] == eicar_version

    clean = stack.tags("in/clean+file é.txt")
    assert clean["scan-status"] == "CLEAN"
    assert (clean["owner"], clean["project"]) == ("team-a", "x"), "existing tags are kept"
    assert clean["scan-definitions"].startswith("custom:")
    assert results["in/clean+file é.txt"]["detail"]["verdict"] == "CLEAN"

    big = stack.tags("in/big.bin")
    assert big["scan-status"] == "UNSCANNABLE"
    assert results["in/big.bin"]["detail"]["scanStatus"] == "SKIPPED"
    assert "MAX_OBJECT_SIZE" in results["in/big.bin"]["detail"]["statusReasons"][0]


def test_quarantine_moves_the_infected_object(endpoint, samples):
    stack = new_stack(endpoint)
    publish(stack, f"{samples}/db")
    version = stack.upload("q/eicar.com", f"{samples}/files/eicar.com")
    worker = Worker(stack, INFECTED_ACTION="quarantine")
    try:
        events = stack.collect_events(lambda evs: "q/eicar.com" in results_by_key(evs))
    finally:
        worker.stop()
    assert results_by_key(events)["q/eicar.com"]["detail"]["action"] == "QUARANTINED"
    assert version not in stack.versions("q/eicar.com")
    moved = stack.s3.get_object(Bucket=stack.quarantine, Key="q/eicar.com")["Body"].read()
    assert moved == open(f"{samples}/files/eicar.com", "rb").read()
    tags = stack.tags("q/eicar.com", bucket=stack.quarantine)
    assert (tags["scan-status"], tags["scan-signature"]) == ("INFECTED", "Test.EICAR.Body.UNOFFICIAL")


def test_without_definitions_every_object_ends_in_error(endpoint, samples):
    stack = new_stack(endpoint)
    stack.upload("e/clean.txt", f"{samples}/files/clean.txt")
    worker = Worker(stack)
    try:
        events = stack.collect_events(lambda evs: any(e["detail-type"] == "Object Scan Failed" for e in evs))
    finally:
        worker.stop()
    failed = [e for e in events if e["detail-type"] == "Object Scan Failed"]
    assert failed and failed[0]["detail"]["verdict"] == "ERROR"
    assert "no usable ClamAV database" in failed[0]["detail"]["statusReasons"][0]
    assert stack.tags("e/clean.txt")["scan-status"] == "ERROR", "never CLEAN without a database"
    assert any(e["detail-type"] == "Definitions Update Failed" for e in events)
    # The message stays on the queue for a retry.
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.scan_queue_url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"]) >= 1


def test_invoke_handles_one_event_and_skips_a_duplicate(endpoint, samples):
    stack = new_stack(endpoint)
    publish(stack, f"{samples}/db")
    version = stack.upload("dup/clean file.txt", f"{samples}/files/clean.txt")
    event = ('{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"%s"},'
             '"object":{"key":"dup/clean+file.txt","versionId":"%s"}}}]}') % (stack.uploads, version)
    env = {**os.environ, **stack.environment()}

    def invoke():
        done = subprocess.run([os.path.join(BIN, "scanner"), "invoke", "--event", "-"], input=event, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["units"][0]["objects"][0]

    first = invoke()
    assert (first["verdict"], first["action"], first["skipped"]) == ("CLEAN", "TAGGED", False)
    scanned_at = stack.tags("dup/clean file.txt")["scan-time"]
    second = invoke()
    assert second["skipped"] is True and "already CLEAN" in second["reasons"][0]
    assert stack.tags("dup/clean file.txt")["scan-time"] == scanned_at, "a duplicate event is not scanned again"


def test_invoke_rejects_an_unreadable_event_file(endpoint):
    stack = new_stack(endpoint)
    done = subprocess.run([os.path.join(BIN, "scanner"), "invoke", "--event", "/nonexistent/event.json"],
                          env={**os.environ, **stack.environment()}, capture_output=True, text=True)
    assert done.returncode != 0
    assert "/nonexistent/event.json" in done.stderr
