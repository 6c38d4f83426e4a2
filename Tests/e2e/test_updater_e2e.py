"""The definition updater and the scanner wired together on moto: real freshclam against the
test mirror publishes a signature, and the running worker picks it up. The updater's own
behaviour (cool-downs, validation, publication) is tested in Swift
(Tests/UpdaterCoreTests/UpdaterServiceTests.swift). Needs the debug build and MOTO_ENDPOINT
(scripts/test.sh)."""
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

import pytest
from test_scanner_e2e import BIN, Worker, endpoint, new_stack, results_by_key  # noqa: F401

EICAR_HEX = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".hex()


class Mirror:
    """The test mirror (the test-mirror executable) serving custom.ndb, stopped by PID."""

    def __init__(self):
        self.root = tempfile.mkdtemp()
        self.write("Test.EICAR.Body:0:*:" + EICAR_HEX + "\n")
        self.process = subprocess.Popen([os.path.join(BIN, "test-mirror"), "--root", self.root],
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
