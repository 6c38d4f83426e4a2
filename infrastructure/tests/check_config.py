#!/usr/bin/env python3
"""Starts each executable's configuration on exactly the environment Terraform gives it,
so that Terraform never accepts a value the executables refuse at start-up.

    check_config.py SHOW.json...

Each SHOW.json is `terraform show -json` of a plan or of a state of the app root. Its
outputs scanner_environment, updater_environment and worker_environment (null without the
worker) are the variables Terraform sets (in a plan, values known only after apply, the
queue URLs, are stand-ins of the same form); the platform adds its own (Lambda: region,
credentials, function name; Fargate: region and the container credentials endpoint).
`scanner check-config` / `definition-updater check-config` must exit 0 for each, and the
configuration they print must carry every value Terraform set, so a variable that is
silently ignored (misspelt, or no longer read) fails too. On an applied state, the scan tag
keys the protective bucket policies forbid others to write must be exactly the keys the
scanner says it writes (check-config's tagKeys).

Binaries: SCANNER_BIN and UPDATER_BIN (default: the repository's .build/debug).
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCANNER = os.environ.get("SCANNER_BIN", os.path.join(ROOT, ".build", "debug", "scanner"))
UPDATER = os.environ.get("UPDATER_BIN", os.path.join(ROOT, ".build", "debug", "definition-updater"))

# The region is immaterial to the checks; the platform always sets one.
LAMBDA_PLATFORM = {
    "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example", "AWS_SESSION_TOKEN": "example",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_EXECUTION_ENV": "AWS_Lambda_Image", "LAMBDA_TASK_ROOT": "/var/task", "TZ": ":UTC",
}
FARGATE_PLATFORM = {
    "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/00000000-0000-0000-0000-000000000000",
    "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/00000000",
}


def integer(value):
    return int(value)


def boolean(value):
    return value == "true"


def text(value):
    return value


def listed(value):
    return value.split(",")


def file_type_policy(value):
    """FILE_TYPE_POLICY as check-config prints it (sorted here): BUCKET/PREFIX=TYPE,TYPE with
    the types upper-case and sorted (a rule without a prefix ends in /)."""
    rules = []
    for rule in value.split(";"):
        location, types = rule.split("=", 1)
        location = location if "/" in location else location + "/"
        rules.append(f"{location}={','.join(sorted(t.strip().upper() for t in types.split(',')))}")
    return sorted(rules)


def scan_filters(value):
    """SCAN_FILTERS as check-config prints it: every field, the unset ones empty."""
    empty = {"include_prefixes": [], "exclude_prefixes": [], "include_suffixes": [], "exclude_suffixes": [], "min_size": 0}
    return {bucket: {**empty, **fields} for bucket, fields in json.loads(value).items()}


# Every variable Terraform sets, and where the printed configuration shows it. A variable
# Terraform sets that is missing here fails the test: add it (and what shows it).
SCANNER_FIELDS = {
    "DEFINITIONS_BUCKET": (("definitions", "bucket"), text),
    "DEFINITIONS_PREFIX": (("definitions", "prefix"), text),
    "EVENT_BUS_NAME": (("eventBusName",), text),
    "INFECTED_ACTION": (("infectedAction",), text),
    "BLOCKED_ACTION": (("blockedAction",), text),
    "FILE_TYPE_POLICY": (("fileTypePolicy",), file_type_policy),
    "SCAN_FILTERS": (("filters",), scan_filters),
    "SCAN_QUEUE_URL": (("scanQueueURL",), text),
    "RESCAN_BUCKETS": (("rescanBuckets",), listed),
    "RESCAN_WINDOW": (("rescanWindowHours",), integer),
    "LARGE_OBJECT_QUEUE_URL": (("largeObjectQueueURL",), text),
    "QUARANTINE_BUCKET": (("quarantineBucket",), text),
    "PUBLISH_CLEAN_RESULTS": (("publishCleanResults",), boolean),
    "DEFINITIONS_CHECK_INTERVAL": (("definitionsCheckInterval",), integer),
    "MAX_DEFINITIONS_AGE": (("maxDefinitionsAgeHours",), integer),
    "SCAN_CONCURRENCY": (("scanConcurrency",), integer),
    "MAX_OBJECT_SIZE": (("maxObjectSize",), integer),
    "MAX_SCAN_SIZE": (("maxScanSize",), integer),
    "MAX_SCAN_TIME": (("maxScanTimeMilliseconds",), integer),
    "SERVICE_NAME": (("serviceName",), text),
    "TAG_KEY_STATUS": (("tagKeys", "status"), text),
    "TAG_KEY_SIGNATURE": (("tagKeys", "signature"), text),
    "TAG_KEY_TIME": (("tagKeys", "time"), text),
    "TAG_KEY_DEFINITIONS": (("tagKeys", "definitions"), text),
    "TAG_KEY_PROOF": (("tagKeys", "proof"), text),
    "TAG_KEY_FILE_TYPE": (("tagKeys", "fileType"), text),
    "AWS_REGION": (None, text),  # the worker's; the SDK's own setting, not in the configuration
}
UPDATER_FIELDS = {
    "DEFINITIONS_BUCKET": (("definitions", "bucket"), text),
    "DEFINITIONS_PREFIX": (("definitions", "prefix"), text),
    "EVENT_BUS_NAME": (("eventBusName",), text),
    "CLAMAV_OFFICIAL_DATABASES": (("officialDatabases",), boolean),
    "CLAMAV_DATABASE_MIRRORS": (("databaseMirrors",), listed),
    "CLAMAV_PRIVATE_MIRRORS": (("privateMirrors",), listed),
    "CLAMAV_CUSTOM_URLS": (("customURLs",), listed),
    "MIN_UPDATE_INTERVAL": (("minUpdateInterval",), integer),
}

failures = []
unshown = set()


def check(condition, message):
    print(("  ok    " if condition else "  FAIL  ") + message)
    if not condition:
        failures.append(message)
    return condition


def field(configuration, path):
    for part in path:
        if not isinstance(configuration, dict) or part not in configuration:
            return None
        configuration = configuration[part]
    return configuration


def start(label, binary, terraform_env, platform, fields, expected=None):
    env = {"PATH": "/usr/bin:/bin", **platform, **terraform_env}
    done = subprocess.run([binary, "check-config"], env=env, capture_output=True, text=True, timeout=60)
    if not check(done.returncode == 0, f"{label}: check-config accepts what Terraform sets (exit {done.returncode}) {done.stderr.strip()}"):
        return None
    configuration = json.loads(done.stdout)
    for name, value in sorted(terraform_env.items()):
        if name not in fields:
            check(False, f"{label}: {name} is set by Terraform but unknown to this test: add it to the fields")
            continue
        path, convert = fields[name]
        if path is None:
            continue
        shown = field(configuration, path)
        if shown is None:
            unshown.add(f"{os.path.basename(binary)} {name}")
            continue
        if convert is file_type_policy:
            shown = sorted(shown)
        check(shown == convert(value), f"{label}: {name}={value!r} is read ({'.'.join(path)} = {shown!r})")
    for path, value in (expected or {}).items():
        check(field(configuration, path) == value, f"{label}: {'.'.join(path)} is {value!r} (got {field(configuration, path)!r})")
    return configuration


def protected_tag_keys(show):
    """The scan tag keys the applied bucket policies forbid others to write (DenyWritingScanTags),
    by bucket; empty for a plan (the policies are not known before apply)."""
    if "values" not in show:
        return {}

    def walk(module):
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    found = {}
    for resource in walk(show["values"]["root_module"]):
        if resource["type"] == "aws_s3_bucket_policy" and resource["address"].startswith("aws_s3_bucket_policy.scanned"):
            for statement in json.loads(resource["values"]["policy"])["Statement"]:
                if statement.get("Sid") == "DenyWritingScanTags":
                    keys = statement["Condition"]["ForAnyValue:StringEquals"]["s3:RequestObjectTagKeys"]
                    found[resource["values"]["bucket"]] = sorted(keys if isinstance(keys, list) else [keys])
    return found


def known_after_apply(value, unknown, name):
    """A plan's output with the values known only after apply (queue URLs) filled in with
    stand-ins of the same form."""
    if unknown is True:
        return f"https://sqs.eu-west-1.amazonaws.com/123456789012/{name.lower().replace('_', '-')}-known-after-apply"
    if isinstance(unknown, dict):
        value = dict(value or {})
        for key, inner in unknown.items():
            value[key] = known_after_apply(value.get(key), inner, key)
    return value


def outputs(show):
    if "planned_values" in show:
        return {name: known_after_apply(change.get("after"), change.get("after_unknown"), name)
                for name, change in show.get("output_changes", {}).items()}
    return {name: output.get("value") for name, output in show["values"].get("outputs", {}).items()}


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        with open(path) as file:
            show = json.load(file)
        values = outputs(show)
        label = os.path.basename(path)
        print(label)
        scanner_function = values["scanner_function_name"]
        configuration = start(f"{label} scanner (Lambda)", SCANNER, values["scanner_environment"],
                              {**LAMBDA_PLATFORM, "AWS_LAMBDA_FUNCTION_NAME": scanner_function}, SCANNER_FIELDS,
                              # Without SERVICE_NAME in Lambda, the metrics' Service is the function's name.
                              {("serviceName",): scanner_function})
        # Every tag the scanner writes is one the protective bucket policy keeps others from writing.
        for bucket, keys in protected_tag_keys(show).items():
            written = sorted((configuration or {}).get("tagKeys", {}).values())
            check(keys == written, f"{label}: {bucket}'s policy protects exactly the tag keys the scanner writes {written}: {keys}")
        start(f"{label} definition-updater (Lambda)", UPDATER, values["updater_environment"],
              {**LAMBDA_PLATFORM, "AWS_LAMBDA_FUNCTION_NAME": values["updater_function_name"]}, UPDATER_FIELDS)
        if values.get("worker_environment"):
            start(f"{label} scanner (ECS worker)", SCANNER, values["worker_environment"], FARGATE_PLATFORM, SCANNER_FIELDS)
    if unshown:
        print("not shown by check-config, so only accepted, not proven read: " + ", ".join(sorted(unshown)))
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
