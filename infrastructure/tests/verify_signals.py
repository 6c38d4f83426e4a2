#!/usr/bin/env python3
"""Checks that every alarm, every rule on the system's bus and every dashboard metric that
Terraform created can be triggered by what the real executables print and publish.

    verify_signals.py STATE.json BUCKET [PREFIX]

STATE.json is `terraform show -json` of the applied app with the worker and the rescan on,
a file_type_policy rule under BUCKET/PREFIX that does not allow text, and scan_filters
with an exclude_suffixes entry for BUCKET; BUCKET (and PREFIX) name a scanned bucket (and
its notification prefix) to upload test objects to.

Runs against the emulator that holds that stack (AWS_ENDPOINT_URL), each executable with
the environment Terraform gave it (read from the state):

- the scanner as the Lambda function (the runtime-api-server test tool stands in for the
  Runtime API): before any database exists (ERROR), with the updater's database (CLEAN,
  INFECTED, UNSCANNABLE, BLOCKED by the deployed FILE_TYPE_POLICY, and an object the
  deployed SCAN_FILTERS exclude, which must stay untagged), and with a manifest ten days
  old (Definitions Stale, the stale-definitions path end to end);
- the scanner as the ECS worker (the task definition's command and environment), on an
  object larger than the Lambda scanner's MAX_OBJECT_SIZE, which the Lambda scanner
  forwards to the worker's queue (LARGE_OBJECT_QUEUE_URL);
- the rescan: the updater's Definitions Updated, delivered by the rescan rule to the scan
  queue, given to the Lambda scanner, which must queue a listing of each RESCAN_BUCKETS
  entry on SCAN_QUEUE_URL;
- the updater (its function's environment, pointed at the test-mirror test tool instead of
  the ClamAV mirror): UPDATED, RATE_LIMITED, COOLDOWN and TOO_SOON.

It collects the embedded-metric-format lines they print on stdout and, through a catch-all
rule it adds to the bus, every event they publish, then fails unless:

- every alarm on the scanner's namespace names a metric, a dimension set and dimension
  values that a printed EMF document carries, and some printed value breaches it;
- every alarm on an AWS namespace watches a resource of the state with the dimension names
  AWS documents for that metric (those metrics come from AWS, not from our executables);
- every rule on the bus matches at least one published event (or, for the Lambda service's
  own failure events, the shape AWS documents), the events it matches reached its target
  queue, and no rule that raises an alarm matches a skipped update (COOLDOWN, TOO_SOON);
- every metric on the dashboard is one of the above.

Binaries: SCANNER_BIN and UPDATER_BIN (default: the repository's .build/debug), and the
test tools RUNTIME_API_SERVER and TEST_MIRROR_BIN (default: beside SCANNER_BIN).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

import boto3
from moto.events.models import EventPattern

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCANNER = os.environ.get("SCANNER_BIN", os.path.join(ROOT, ".build", "debug", "scanner"))
UPDATER = os.environ.get("UPDATER_BIN", os.path.join(ROOT, ".build", "debug", "definition-updater"))
# The Swift test tools (Tests/RuntimeAPIServer, Tests/TestMirror), by default beside the scanner.
RUNTIME_API_SERVER = os.environ.get("RUNTIME_API_SERVER", os.path.join(os.path.dirname(SCANNER), "runtime-api-server"))
TEST_MIRROR = os.environ.get("TEST_MIRROR_BIN", os.path.join(os.path.dirname(SCANNER), "test-mirror"))
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

# Dimension names AWS publishes its metrics with (CloudWatch user guides of each service);
# for EventBridge, EventBusName and RuleName together are the metrics of a custom bus's rule.
AWS_METRIC_DIMENSIONS = {
    ("AWS/Lambda", "Errors"): {"FunctionName"},
    ("AWS/Events", "MatchedEvents"): {"EventBusName", "RuleName"},
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): {"QueueName"},
    ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible"): {"QueueName"},
}

# What Lambda sends to an on-failure destination on a bus, as the Lambda developer guide
# shows it (asynchronous invocation, destinations): the executables cannot produce it.
LAMBDA_FAILURE_EVENT = {
    "version": "0", "source": "lambda", "detail-type": "Lambda Function Invocation Result - Failure",
    "account": "123456789012", "region": "eu-west-1", "resources": [],
    "detail": {"version": "1.0", "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
               "responsePayload": {"errorMessage": "..."}},
}

SKIPPED_UPDATE_REASONS = {"COOLDOWN", "TOO_SOON"}

# `scanner worker` long-polls its queue (ReceiveMessage with a wait time of up to 20 s, the
# SQS maximum); when it stops, the emulator keeps serving that request until the wait ends.
WORKER_RECEIVE_WAIT_SECONDS = 20
WORKER_LAST_STOP = [0.0]

failures = []


def check(condition, message):
    print(("  ok    " if condition else "  FAIL  ") + message)
    if not condition:
        failures.append(message)
    return condition


# --- The applied stack, from the state ------------------------------------------------------

def state_resources(path):
    with open(path) as file:
        state = json.load(file)

    def walk(module):
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    return list(walk(state["values"]["root_module"]))


class Stack:
    def __init__(self, resources):
        def of_type(kind):
            return [r for r in resources if r["type"] == kind and r["mode"] == "managed"]

        functions = {r["address"]: r["values"] for r in of_type("aws_lambda_function")}
        self.scanner = functions["module.scanner.aws_lambda_function.this"]
        self.updater = functions["module.updater.aws_lambda_function.this"]
        self.function_names = {f["function_name"] for f in functions.values()}
        tasks = of_type("aws_ecs_task_definition")
        if len(tasks) != 1:
            raise SystemExit("verify_signals: the state must hold the ECS worker (worker_enabled = true)")
        self.worker_container = json.loads(tasks[0]["values"]["container_definitions"])[0]
        self.bus = one(r["values"]["name"] for r in of_type("aws_cloudwatch_event_bus"))
        self.rules = {r["values"]["name"]: json.loads(r["values"]["event_pattern"])
                      for r in of_type("aws_cloudwatch_event_rule") if r["values"]["event_bus_name"] == self.bus}
        self.targets = {r["values"]["rule"]: r["values"]["arn"] for r in of_type("aws_cloudwatch_event_target")
                        if r["values"]["event_bus_name"] == self.bus}
        # The rescan rule feeds the scan queue; every other rule on the bus the events queue.
        self.rescan_rules = {r["values"]["name"] for r in of_type("aws_cloudwatch_event_rule") if r["address"].startswith("aws_cloudwatch_event_rule.rescan")}
        if not self.rescan_rules:
            raise SystemExit("verify_signals: the state must hold the rescan rule (rescan_on_definitions_update = true)")
        self.events_queue_arn = one(set(arn for rule, arn in self.targets.items() if rule not in self.rescan_rules))
        self.queues = {r["values"]["name"]: r["values"] for r in of_type("aws_sqs_queue")}
        self.alarms = [r["values"] for r in of_type("aws_cloudwatch_metric_alarm")]
        self.dashboards = [json.loads(r["values"]["dashboard_body"]) for r in of_type("aws_cloudwatch_dashboard")]
        environment = self.scanner["environment"][0]["variables"]
        self.environment = environment
        self.definitions_bucket = environment["DEFINITIONS_BUCKET"]
        self.definitions_prefix = environment["DEFINITIONS_PREFIX"]
        # Objects over the Lambda scanner's MAX_OBJECT_SIZE go to the worker's queue.
        self.max_object_size = int(environment["MAX_OBJECT_SIZE"])
        self.large_object_queue = environment.get("LARGE_OBJECT_QUEUE_URL")
        self.scan_queue = environment.get("SCAN_QUEUE_URL")
        if not self.large_object_queue or not self.scan_queue or "RESCAN_BUCKETS" not in environment:
            raise SystemExit("verify_signals: the scanner must have LARGE_OBJECT_QUEUE_URL, SCAN_QUEUE_URL and RESCAN_BUCKETS "
                             "(worker_enabled, rescan_on_definitions_update)")

    def queue_url(self, arn):
        name = arn.rsplit(":", 1)[1]
        return self.queues[name]["url"]

    def queue_arn(self, url):
        return one(q["arn"] for q in self.queues.values() if q["url"] == url)


def one(values):
    values = list(values)
    if len(values) != 1:
        raise SystemExit(f"verify_signals: expected exactly one, found {values}")
    return values[0]


# --- Running the executables ------------------------------------------------------------------

def aws_environment():
    """What the emulator needs, on top of what Terraform sets."""
    return {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"], "AWS_REGION": os.environ["AWS_REGION"],
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
    }


class Output:
    """Everything the executables printed: EMF documents (stdout) and logs (stderr)."""

    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    def files(self, name):
        self.count += 1
        base = os.path.join(self.folder, f"{self.count:02d}-{name}")
        return base + ".stdout", base + ".stderr"

    def emf(self):
        documents = []
        for name in sorted(os.listdir(self.folder)):
            if name.endswith(".stdout"):
                for line in open(os.path.join(self.folder, name), errors="replace"):
                    try:
                        document = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(document, dict) and "_aws" in document:
                        documents.append(document)
        return documents


def scanner_as_lambda(stack, output, work, records, name, event=None):
    """One cold Lambda instance of the scanner serving one S3 notification (or EVENT)."""
    event_file = os.path.join(work, f"{name}-event.json")
    result_file = os.path.join(work, f"{name}-result.json")
    with open(event_file, "w") as file:
        json.dump(event or {"Records": records}, file)
    # It prints its endpoint (127.0.0.1:PORT) on its first line, serves the event to the
    # first `next`, writes the answer and exits.
    api = subprocess.Popen([RUNTIME_API_SERVER, "--event", event_file, "--result", result_file, "--timeout", "120"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    endpoint = api.stdout.readline().strip()
    if not endpoint:
        raise SystemExit(f"verify_signals: {RUNTIME_API_SERVER} printed no endpoint")
    scratch = tempfile.mkdtemp(dir=work)
    env = {**stack.scanner["environment"][0]["variables"], **aws_environment(),
           "AWS_LAMBDA_FUNCTION_NAME": stack.scanner["function_name"],
           "AWS_LAMBDA_RUNTIME_API": endpoint, "TMPDIR": scratch}
    stdout, stderr = output.files(f"scanner-lambda-{name}")
    with open(stdout, "w") as out, open(stderr, "w") as err:
        scanner = subprocess.Popen([SCANNER], env=env, stdout=out, stderr=err)
        try:
            api.wait(timeout=150)
        finally:
            scanner.send_signal(signal.SIGTERM)
            try:
                scanner.wait(timeout=20)
            except subprocess.TimeoutExpired:
                scanner.kill()
                scanner.wait()
    if not os.path.exists(result_file):
        raise SystemExit(f"verify_signals: the scanner answered no invocation ({name}); its log: {stderr}\n" + open(stderr).read()[-3000:])
    with open(result_file) as file:
        return json.load(file)


def s3_record(bucket, key, version, size):
    obj = {"key": urllib.parse.quote_plus(key, safe="/"), "size": size}
    if version:
        obj["versionId"] = version
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": os.environ["AWS_REGION"],
            "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": obj}}


def run_updater(stack, output, work, mirror_url, name, **overrides):
    env = {**stack.updater["environment"][0]["variables"], **aws_environment(),
           "AWS_LAMBDA_FUNCTION_NAME": stack.updater["function_name"],
           # The ClamAV mirror is not reachable here: a local mirror serves one custom database.
           "CLAMAV_OFFICIAL_DATABASES": "false", "CLAMAV_CUSTOM_URLS": mirror_url, "FRESHCLAM_MAX_ATTEMPTS": "1",
           "UPDATER_WORK_DIRECTORY": tempfile.mkdtemp(dir=work), **overrides}
    env.pop("CLAMAV_DATABASE_MIRRORS", None)
    env.pop("CLAMAV_PRIVATE_MIRRORS", None)
    stdout, stderr = output.files(f"updater-{name}")
    with open(stdout, "w") as out, open(stderr, "w") as err:
        subprocess.run([UPDATER, "run"], env=env, stdout=out, stderr=err, timeout=300)
    text = open(stdout).read().strip()
    try:
        return json.loads(text.splitlines()[-1])["outcome"]
    except (ValueError, IndexError, KeyError):
        return None


class Mirror:
    """The test-mirror test tool serving custom.ndb (the EICAR body signature)."""

    def __init__(self, work):
        root = os.path.join(work, "mirror")
        os.makedirs(root)
        with open(os.path.join(root, "custom.ndb"), "w") as file:
            file.write("Test.EICAR.Body:0:*:" + EICAR.hex() + "\n")
        past = time.time() - 1000
        os.utime(os.path.join(root, "custom.ndb"), (past, past))
        self.root = root
        self.process = subprocess.Popen([TEST_MIRROR, "--root", root], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/custom.ndb"

    def mode(self, mode):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/control", method="POST",
                                         data=json.dumps({"mode": mode, "retry_after": 3600}).encode())
        urllib.request.urlopen(request).read()

    def change(self):
        with open(os.path.join(self.root, "custom.ndb"), "a") as file:
            file.write("# changed\n")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


# --- Events -----------------------------------------------------------------------------------

def drain(sqs, url, seconds):
    bodies = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def matches(pattern, event):
    # moto's implementation of EventBridge's pattern language: the matcher the emulator
    # routes with, so "matches" here and "delivered" on the emulator agree.
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


# --- The checks ---------------------------------------------------------------------------------

def metric_documents(emf, namespace, metric):
    """(dimension set, dimension values, value) for every printed document with the metric."""
    found = []
    for document in emf:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != namespace or metric not in [m["Name"] for m in directive["Metrics"]]:
                continue
            for dimension_set in directive["Dimensions"]:
                found.append((frozenset(dimension_set), {d: document.get(d) for d in dimension_set}, document.get(metric)))
    return found


def breaches(operator, value, threshold):
    return {
        "GreaterThanThreshold": value > threshold, "GreaterThanOrEqualToThreshold": value >= threshold,
        "LessThanThreshold": value < threshold, "LessThanOrEqualToThreshold": value <= threshold,
    }[operator]


def check_own_metric(emf, namespace, metric, dimensions, description, operator=None, threshold=None, each_value=False):
    """An alarm needs one printed document with exactly its dimension values; a dashboard
    line (each_value) only needs each of its values printed (the worker need not meet
    every verdict for its line of that verdict to be the right one)."""
    documents = metric_documents(emf, namespace, metric)
    wanted = frozenset(dimensions)
    same_set = [d for d in documents if d[0] == wanted]
    if each_value:
        same_values = [d for d in same_set if all(any(o[1][k] == v for o in same_set) for k, v in dimensions.items())]
    else:
        same_values = [d for d in same_set if d[1] == dimensions]
    ok = check(bool(same_set), f"{description}: {namespace}/{metric} is printed with the dimension set {sorted(wanted)} "
               f"(printed sets: {sorted({tuple(sorted(d[0])) for d in documents})})")
    ok = ok and check(bool(same_values), f"{description}: ... and the values {dimensions} "
                      f"(printed: {sorted({json.dumps(d[1], sort_keys=True) for d in same_set})})")
    if ok and operator:
        check(any(isinstance(d[2], (int, float)) and breaches(operator, d[2], threshold) for d in same_values),
              f"{description}: a printed value is {operator} {threshold} (printed: {sorted({d[2] for d in same_values})})")


def check_aws_metric(stack, namespace, metric, dimensions, description):
    expected = AWS_METRIC_DIMENSIONS.get((namespace, metric))
    if not check(expected is not None and set(dimensions) == expected,
                 f"{description}: {namespace}/{metric} with the dimensions AWS documents {sorted(expected or [])}, got {sorted(dimensions)}"):
        return
    resources = {"FunctionName": stack.function_names, "QueueName": set(stack.queues),
                 "RuleName": set(stack.rules), "EventBusName": {stack.bus}}
    for name, value in dimensions.items():
        check(value in resources[name], f"{description}: {name}={value} is a resource of this stack")


def check_alarms(stack, emf):
    print("alarms")
    for alarm in stack.alarms:
        description = alarm["alarm_name"]
        if alarm["metric_query"]:
            for query in alarm["metric_query"]:
                for metric in query["metric"]:
                    check_aws_metric(stack, metric["namespace"], metric["metric_name"], metric["dimensions"], description)
        elif alarm["namespace"].startswith("AWS/"):
            check_aws_metric(stack, alarm["namespace"], alarm["metric_name"], alarm["dimensions"], description)
        else:
            check_own_metric(emf, alarm["namespace"], alarm["metric_name"], alarm["dimensions"], description,
                             alarm["comparison_operator"], alarm["threshold"])


def check_dashboard(stack, emf):
    print("dashboard")
    check(len(stack.dashboards) == 1, "one dashboard (dashboard_enabled is on by default)")
    for dashboard in stack.dashboards:
        for widget in dashboard["widgets"]:
            for metric in widget["properties"]["metrics"]:
                namespace, name, rest = metric[0], metric[1], [m for m in metric[2:] if isinstance(m, str)]
                dimensions = dict(zip(rest[::2], rest[1::2], strict=False))
                description = f"dashboard \"{widget['properties']['title']}\""
                if namespace.startswith("AWS/"):
                    check_aws_metric(stack, namespace, name, dimensions, description)
                else:
                    check_own_metric(emf, namespace, name, dimensions, description, each_value=True)


def check_rules(stack, published, kept):
    """kept: the events that arrived in each target queue, by queue ARN."""
    print("rules on the bus")
    for name, pattern in sorted(stack.rules.items()):
        if pattern.get("source") == ["lambda"]:
            check(matches(pattern, LAMBDA_FAILURE_EVENT), f"{name}: matches Lambda's documented on-failure event")
            continue
        matched = [e for e in published if matches(pattern, e)]
        check(bool(matched), f"{name}: matches {len(matched)} published event(s) "
              f"{sorted({(e['detail-type'], e['detail'].get('verdict') or e['detail'].get('reason') or '') for e in matched})}")
        if name in stack.rescan_rules:
            check(stack.targets.get(name) == stack.queue_arn(stack.scan_queue), f"{name}: its target is the scan queue")
        else:
            check(stack.targets.get(name) == stack.events_queue_arn, f"{name}: its target is the events queue")
        delivered = {e["id"] for e in kept.get(stack.targets.get(name), [])}
        check(all(e["id"] in delivered for e in matched), f"{name}: every event it matches reached its target queue")
    alarmed = {a["dimensions"].get("RuleName") for a in stack.alarms if a["namespace"] == "AWS/Events"}
    skipped = [e for e in published if e["detail-type"] == "Definitions Update Failed" and e["detail"].get("reason") in SKIPPED_UPDATE_REASONS]
    check({e["detail"]["reason"] for e in skipped} == SKIPPED_UPDATE_REASONS,
          f"the updater published its skipped runs {sorted(SKIPPED_UPDATE_REASONS)}: {sorted({e['detail']['reason'] for e in skipped})}")
    for name in sorted(alarmed):
        check(not any(matches(stack.rules[name], e) for e in skipped), f"{name} (alarmed): matches no skipped update (COOLDOWN, TOO_SOON)")
    failed_updates = [e for e in published if e["detail-type"] == "Definitions Update Failed" and e["detail"].get("reason") not in SKIPPED_UPDATE_REASONS]
    check(bool(failed_updates) and all(any(matches(stack.rules[n], e) for n in alarmed) for e in failed_updates),
          f"every real update failure {sorted({e['detail'].get('reason') for e in failed_updates})} matches an alarmed rule")
    stale = [e for e in published if e["detail-type"] == "Definitions Stale"]
    check(bool(stale) and all(any(matches(stack.rules[n], e) for n in alarmed) for e in stale),
          "the stale-definitions event matches an alarmed rule")


# --- The scenario -------------------------------------------------------------------------------

def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    bucket, prefix = sys.argv[2], (sys.argv[3] if len(sys.argv) == 4 else "")
    for binary in (SCANNER, UPDATER, RUNTIME_API_SERVER, TEST_MIRROR):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"verify_signals: {binary} is not an executable "
                             "(build first, or set SCANNER_BIN/UPDATER_BIN/RUNTIME_API_SERVER/TEST_MIRROR_BIN)")
    stack = Stack(state_resources(sys.argv[1]))
    s3, sqs, events, lam = boto3.client("s3"), boto3.client("sqs"), boto3.client("events"), boto3.client("lambda")
    events_queue_url = stack.queue_url(stack.events_queue_arn)
    work = tempfile.mkdtemp(prefix="verify-signals-")
    output = Output(os.path.join(work, "output"))
    os.makedirs(output.folder)
    mirror = Mirror(work)

    # Every event published to the bus, whatever Terraform's rules match.
    capture_url = sqs.create_queue(QueueName=f"verify-signals-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    capture_arn = sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="verify-signals-capture", EventBusName=stack.bus, EventPattern=json.dumps({"source": ["s3-clamav-scanner"]}))
    events.put_targets(Rule="verify-signals-capture", EventBusName=stack.bus, Targets=[{"Id": "capture", "Arn": capture_arn}])
    drain(sqs, events_queue_url, 1)
    # moto hands the scan queue's messages to the function's event source mapping at once
    # (and "runs" it): pause it, so that what the rules deliver there can be read.
    mappings = lam.list_event_source_mappings(EventSourceArn=stack.queue_arn(stack.scan_queue))["EventSourceMappings"]
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    kept = {}
    try:
        run_scenario(stack, s3, sqs, output, work, mirror, bucket, prefix, kept)
        published = drain(sqs, capture_url, 3)
        kept[stack.events_queue_arn] = drain(sqs, events_queue_url, 3)
    finally:
        for mapping in mappings:
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
        mirror.stop()
        events.remove_targets(Rule="verify-signals-capture", EventBusName=stack.bus, Ids=["capture"])
        events.delete_rule(Name="verify-signals-capture", EventBusName=stack.bus)
        sqs.delete_queue(QueueUrl=capture_url)

    emf = output.emf()
    print(f"collected {len(emf)} EMF documents and {len(published)} events "
          f"({sorted({e['detail-type'] for e in published})})")
    check_alarms(stack, emf)
    check_rules(stack, published, kept)
    check_dashboard(stack, emf)
    if failures:
        print(f"{len(failures)} check(s) failed; the executables' output is in {output.folder}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("all checks passed")


def run_scenario(stack, s3, sqs, output, work, mirror, bucket, prefix, kept):
    # A fresh start: no database yet.
    for listed in s3.list_objects_v2(Bucket=stack.definitions_bucket, Prefix=stack.definitions_prefix).get("Contents", []):
        s3.delete_object(Bucket=stack.definitions_bucket, Key=listed["Key"])

    def upload(key, body):
        put = s3.put_object(Bucket=bucket, Key=prefix + key, Body=body)
        return s3_record(bucket, prefix + key, put.get("VersionId"), len(body))

    worker_queue = one(q["url"] for q in stack.queues.values() if q["url"] in stack.worker_container["command"])
    check(stack.large_object_queue == worker_queue, "the Lambda scanner's LARGE_OBJECT_QUEUE_URL is the queue the worker consumes")
    blocked_key, skipped_key = policy_samples(stack, bucket, prefix)

    print("scanner (Lambda, and the ECS worker) before any database: ERROR")
    scanner_as_lambda(stack, output, work, [upload("signals/error.txt", b"scanned before any database\n")], "no-database")
    # Without a database the Lambda scanner fails every record before it looks at sizes: the
    # worker gets its object as the Lambda scanner would hand it over (checked below).
    large = upload("signals/large-error.bin", b"e" * (stack.max_object_size + 1))
    sqs.send_message(QueueUrl=worker_queue, MessageBody=json.dumps({"Records": [large]}))
    run_worker(stack, output, work, worker_queue, "no-database")

    print("updater: UPDATED")
    check(run_updater(stack, output, work, mirror.url, "first", MIN_UPDATE_INTERVAL="0") == "UPDATED", "the updater published a database")

    print("scanner (Lambda): CLEAN, INFECTED, UNSCANNABLE, BLOCKED (file_type_policy), skipped (scan_filters)")
    encrypted = os.path.join(work, "encrypted.zip")
    with open(os.path.join(work, "secret.txt"), "w") as file:
        file.write("a secret\n")
    subprocess.run(["zip", "-q", "-j", "-P", "s3cret", encrypted, os.path.join(work, "secret.txt")], check=True)
    result = scanner_as_lambda(stack, output, work, [
        upload("signals/clean file.txt", b"an ordinary text file\n"),
        upload("signals/eicar.com", EICAR),
        upload("signals/encrypted.zip", open(encrypted, "rb").read()),
        upload(blocked_key, b"a text file where only other types are allowed\n"),
        upload(skipped_key, b"a file the filters exclude\n"),
    ], "verdicts")
    check(result["kind"] == "response", f"the scanner answered the invocation ({result['kind']})")
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=prefix + skipped_key)["TagSet"]}
    check(stack.environment["TAG_KEY_STATUS"] not in tags, f"an object SCAN_FILTERS excludes is left untagged ({prefix + skipped_key}: {tags})")

    print("rescan: Definitions Updated reaches the scan queue; the scanner asks itself to list RESCAN_BUCKETS")
    rescan(stack, sqs, output, work, kept)

    print("updater: TOO_SOON, RATE_LIMITED, COOLDOWN")
    # A cool-down is checked before MIN_UPDATE_INTERVAL: TOO_SOON first.
    check(run_updater(stack, output, work, mirror.url, "too-soon") == "TOO_SOON", "a run within the deployed MIN_UPDATE_INTERVAL is skipped: TOO_SOON")
    mirror.change()
    mirror.mode("429")
    check(run_updater(stack, output, work, mirror.url, "rate-limited", MIN_UPDATE_INTERVAL="0") == "RATE_LIMITED", "the mirror's 429 is a failed update")
    mirror.mode("normal")
    check(run_updater(stack, output, work, mirror.url, "cool-down", MIN_UPDATE_INTERVAL="0") == "COOLDOWN", "the next run is skipped: COOLDOWN")

    print("scanner (Lambda, and the ECS worker) with a manifest ten days old: Definitions Stale")
    key = stack.definitions_prefix + "manifest.json"
    manifest = json.loads(s3.get_object(Bucket=stack.definitions_bucket, Key=key)["Body"].read())
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 10 * 86400))
    manifest["publishedAt"] = old
    if manifest.get("databaseTime"):
        manifest["databaseTime"] = old
    s3.put_object(Bucket=stack.definitions_bucket, Key=key, Body=json.dumps(manifest).encode())
    large = upload("signals/large-stale.bin", b"s" * (stack.max_object_size + 1))
    # The ReceiveMessage the first worker had in flight when it stopped goes on in the
    # emulator for its wait time, and would take (and hide) the message handed over now.
    time.sleep(max(0.0, WORKER_LAST_STOP[0] + WORKER_RECEIVE_WAIT_SECONDS + 1 - time.time()))
    scanner_as_lambda(stack, output, work, [upload("signals/after ten days.txt", b"scanned with old definitions\n"), large], "stale")
    forwarded(stack, sqs, worker_queue, large, "stale")
    run_worker(stack, output, work, worker_queue, "stale")


def policy_samples(stack, bucket, prefix):
    """Keys (under PREFIX) that the deployed FILE_TYPE_POLICY blocks when they hold text, and
    that the deployed SCAN_FILTERS exclude."""
    rules = [rule.split("=", 1) for rule in stack.environment.get("FILE_TYPE_POLICY", "").split(";") if rule]
    under = [location.split("/", 1)[1] for location, types in rules
             if location.split("/", 1)[0] == bucket and "/" in location and location.split("/", 1)[1].startswith(prefix)
             and "TEXT" not in types.upper()]
    if not under:
        raise SystemExit(f"verify_signals: FILE_TYPE_POLICY needs a rule under {bucket}/{prefix} that does not allow text")
    suffixes = json.loads(stack.environment.get("SCAN_FILTERS", "{}")).get(bucket, {}).get("exclude_suffixes", [])
    if not suffixes:
        raise SystemExit(f"verify_signals: SCAN_FILTERS needs an exclude_suffixes entry for {bucket}")
    return under[0][len(prefix):] + "not-an-image.txt", "signals/skipped" + suffixes[0]


def forwarded(stack, sqs, worker_queue, record, name):
    """The Lambda scanner sent RECORD's object to the worker's queue (LARGE_OBJECT_QUEUE_URL).
    If it did not, the record goes there by hand, so that the worker's own signals are still
    checked; the check has failed either way."""
    attributes = sqs.get_queue_attributes(QueueUrl=worker_queue, AttributeNames=["All"])["Attributes"]
    waiting = int(attributes["ApproximateNumberOfMessages"])
    if not check(waiting >= 1, f"the Lambda scanner forwarded the object over its MAX_OBJECT_SIZE {stack.max_object_size} "
                 f"to the worker's queue ({name}: {waiting} message(s) waiting; {attributes})"):
        sqs.send_message(QueueUrl=worker_queue, MessageBody=json.dumps({"Records": [record]}))


def rescan(stack, sqs, output, work, kept):
    """The rescan rule delivered the updater's Definitions Updated to the scan queue; the
    Lambda scanner, given it as the event source mapping would, sends itself one Rescan
    Requested per RESCAN_BUCKETS entry on SCAN_QUEUE_URL."""
    scan_queue_arn = stack.queue_arn(stack.scan_queue)
    bodies = drain(sqs, stack.scan_queue, 3)
    updates = [b for b in bodies if b.get("detail-type") == "Definitions Updated"]
    kept[scan_queue_arn] = updates
    if not check(bool(updates), f"Definitions Updated arrived in the scan queue ({len(bodies)} message(s) there)"):
        return
    batch = {"Records": [{"messageId": "rescan-1", "receiptHandle": "rescan-1", "body": json.dumps(updates[0]), "attributes": {},
                          "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": scan_queue_arn,
                          "awsRegion": os.environ["AWS_REGION"]}]}
    scanner_as_lambda(stack, output, work, batch["Records"], "rescan", event=batch)
    requests = [b for b in drain(sqs, stack.scan_queue, 3) if b.get("detail-type") == "Rescan Requested"]
    requested = sorted(r["detail"]["bucket"] + ("/" + r["detail"]["prefix"] if r["detail"].get("prefix") else "") for r in requests)
    check(requested == sorted(stack.environment["RESCAN_BUCKETS"].split(",")),
          f"the scanner queued a listing of each of RESCAN_BUCKETS {stack.environment['RESCAN_BUCKETS']} on SCAN_QUEUE_URL: {requested}")


def run_worker(stack, output, work, queue_url, name):
    """`scanner worker` as the task definition runs it, until it has scanned one object."""
    container = stack.worker_container
    env = {**{e["name"]: e["value"] for e in container["environment"]}, **aws_environment(),
           "TMPDIR": tempfile.mkdtemp(dir=work)}
    stdout, stderr = output.files(f"scanner-worker-{name}")
    with open(stdout, "w") as out, open(stderr, "w") as err:
        worker = subprocess.Popen([SCANNER, *container["command"]], env=env, stdout=out, stderr=err)
        deadline = time.time() + 90
        try:
            while time.time() < deadline and not any("ObjectsScanned" in line for line in open(stdout, errors="replace")):
                time.sleep(1)
        finally:
            # SIGTERM, as ECS stops a task: the worker finishes what it holds and exits.
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
            WORKER_LAST_STOP[0] = time.time()
    check(any("ObjectsScanned" in line for line in open(stdout, errors="replace")),
          f"the worker scanned an object from its queue {queue_url.rsplit('/', 1)[1]} ({name})")


if __name__ == "__main__":
    main()
