"""The definition updater end to end: real freshclam against a local mirror (custom URLs,
official databases off), its state kept in a definitions bucket on moto, and the scanner
picking up what it publishes. Needs the debug build and MOTO_ENDPOINT (scripts/test.sh)."""
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest

from test_scanner_e2e import BIN, ROOT, Worker, endpoint, new_stack, results_by_key  # noqa: F401

EICAR_HEX = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".encode().hex()


class Mirror:
    """scripts/test-mirror.py serving custom.ndb, stopped by PID."""

    def __init__(self):
        self.root = tempfile.mkdtemp()
        self.write("Test.EICAR.Body:0:*:" + EICAR_HEX + "\n")
        self.process = subprocess.Popen(["python3", os.path.join(ROOT, "scripts/test-mirror.py"), "--root", self.root],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/custom.ndb"

    def write(self, text):
        path = os.path.join(self.root, "custom.ndb")
        with open(path, "w") as file:
            file.write(text)
        # The first version is old; an edit is stamped now, after the updater's last download
        # (If-Modified-Since has one-second resolution, hence the pause).
        if getattr(self, "edited", False):
            time.sleep(1.1)
            stamp = time.time()
        else:
            stamp = time.time() - 1000
        os.utime(path, (stamp, stamp))
        self.edited = True

    def control(self, **settings):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/control", data=json.dumps(settings).encode(), method="POST")
        return json.loads(urllib.request.urlopen(request).read())

    def requests(self):
        return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/control").read())["requests"]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


@pytest.fixture
def mirror():
    served = Mirror()
    yield served
    served.stop()


def run_updater(stack, mirror, **settings):
    """One `definition-updater run` in a fresh working folder (as a cold Lambda container)."""
    env = {**os.environ, **stack.environment(
        CLAMAV_OFFICIAL_DATABASES="false", CLAMAV_CUSTOM_URLS=mirror.url, MIN_UPDATE_INTERVAL=0,
        FRESHCLAM_MAX_ATTEMPTS=1, UPDATER_WORK_DIRECTORY=tempfile.mkdtemp(), **settings)}
    done = subprocess.run([os.path.join(BIN, "definition-updater"), "run"], env=env, capture_output=True, text=True, timeout=300)
    summary = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, summary, done.stderr


def manifest(stack):
    return stack.s3.get_object(Bucket=stack.definitions, Key="clamav/manifest.json")["Body"].read()


def test_first_run_publishes_second_uploads_only_state_change_republishes(endpoint, mirror):
    stack = new_stack(endpoint)
    status, summary, errors = run_updater(stack, mirror)
    assert (status, summary["outcome"]) == (0, "UPDATED"), errors
    assert "custom.ndb" in summary["uploaded"]
    first = json.loads(manifest(stack))
    assert [f["name"] for f in first["files"]] == ["custom.ndb"]
    assert first["version"] == summary["publishedVersion"]
    updated = stack.collect_events(lambda evs: any(e["detail-type"] == "Definitions Updated" for e in evs), timeout=20)
    assert any(e["detail-type"] == "Definitions Updated" and e["detail"]["version"] == first["version"] for e in updated)

    status, summary, errors = run_updater(stack, mirror)
    assert (status, summary["outcome"]) == (0, "UP_TO_DATE"), errors
    assert "custom.ndb" not in summary["uploaded"], "nothing new is uploaded"
    assert json.loads(manifest(stack)) == first

    mirror.write("Test.EICAR.Body:0:*:" + EICAR_HEX + "\nTest.Other:0:*:" + b"ANOTHER-TEST-MARKER".hex() + "\n")
    status, summary, errors = run_updater(stack, mirror)
    assert (status, summary["outcome"]) == (0, "UPDATED"), errors
    second = json.loads(manifest(stack))
    assert second["version"] != first["version"]
    assert second["files"][0]["sha256"] != first["files"][0]["sha256"]


@pytest.mark.parametrize("answer, reason", [("429", "RATE_LIMITED"), ("403", "BLOCKED")])
def test_rate_limit_starts_a_cool_down_that_survives_a_fresh_container(endpoint, mirror, answer, reason):
    stack = new_stack(endpoint)
    assert run_updater(stack, mirror)[1]["outcome"] == "UPDATED"
    published = manifest(stack)
    mirror.write("Test.EICAR.Body:0:*:" + EICAR_HEX + "\n# changed\n")
    mirror.control(mode=answer, retry_after=3600)
    status, summary, errors = run_updater(stack, mirror)
    assert (status, summary["outcome"]) == (1, reason), errors
    assert manifest(stack) == published

    mirror.control(mode="normal", reset=True)
    status, summary, errors = run_updater(stack, mirror)
    assert (status, summary["outcome"]) == (3, "COOLDOWN"), errors
    assert mirror.requests() == 0, "no request reaches the mirror during the cool-down"
    failed = stack.collect_events(lambda evs: sum(e["detail-type"] == "Definitions Update Failed" for e in evs) >= 2, timeout=20)
    assert {e["detail"]["reason"] for e in failed if e["detail-type"] == "Definitions Update Failed"} == {reason, "COOLDOWN"}


def test_corrupt_or_undetecting_database_is_not_published(endpoint, mirror):
    stack = new_stack(endpoint)
    assert run_updater(stack, mirror)[1]["outcome"] == "UPDATED"
    published = manifest(stack)

    mirror.write("Test.EICAR.Body:0:*:" + EICAR_HEX + "\n# corrupt next\n")
    mirror.control(mode="corrupt")
    status, summary, errors = run_updater(stack, mirror)
    assert (status, summary["outcome"]) == (1, "VALIDATION_FAILED"), errors
    assert manifest(stack) == published

    mirror.control(mode="normal")
    mirror.write("Test.Unrelated:0:*:" + b"NOT-THE-CANARY".hex() + "\n")
    status, summary, errors = run_updater(stack, mirror)
    assert (status, summary["outcome"]) == (1, "VALIDATION_FAILED"), errors
    assert manifest(stack) == published


def test_published_signature_reaches_the_running_scanner(endpoint, mirror):
    stack = new_stack(endpoint)
    assert run_updater(stack, mirror)[1]["outcome"] == "UPDATED"
    marker = "A-SAMPLE-THE-FIRST-DATABASE-CALLS-CLEAN-" + uuid.uuid4().hex
    sample = os.path.join(tempfile.mkdtemp(), "sample.txt")
    with open(sample, "w") as file:
        file.write(marker)
    worker = Worker(stack, DEFINITIONS_CHECK_INTERVAL=0)
    try:
        stack.upload("before.txt", sample)
        events = stack.collect_events(lambda evs: "before.txt" in results_by_key(evs))
        assert results_by_key(events)["before.txt"]["detail"]["verdict"] == "CLEAN"

        mirror.write("Test.EICAR.Body:0:*:" + EICAR_HEX + "\nTest.NewMarker:0:*:" + marker.encode().hex() + "\n")
        assert run_updater(stack, mirror)[1]["outcome"] == "UPDATED"
        stack.upload("after.txt", sample)
        events = stack.collect_events(lambda evs: "after.txt" in results_by_key(evs))
        after = results_by_key(events)["after.txt"]["detail"]
        assert (after["verdict"], after["threats"]) == ("INFECTED", [{"name": "Test.NewMarker.UNOFFICIAL"}])
        assert worker.process.poll() is None, "the same worker process, never restarted"
    finally:
        worker.stop()
