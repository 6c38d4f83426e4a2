#!/usr/bin/env python3
"""Checks, through the AWS APIs of an emulator (AWS_ENDPOINT_URL), that the network and
the app that Terraform applied are wired as designed. Every check fails loudly when the
wiring is wrong.

    verify_wiring.py NETWORK_OUTPUTS.json APP_OUTPUTS.json              (direct trigger)
    verify_wiring.py --sqs NETWORK_OUTPUTS.json APP_OUTPUTS.json        (scan_trigger = "sqs")
    verify_wiring.py --worker NETWORK_OUTPUTS.json APP_OUTPUTS.json     (sqs and worker_enabled)
    verify_wiring.py --destroyed NETWORK_OUTPUTS.json APP_OUTPUTS.json

Every applied shape has rescan_on_definitions_update on, and scan_filters with
exempt_filtered_objects_from_protection on emu-uploads. The scanned buckets are emu-uploads
(protected; tmp/ and *.part excluded from scanning) and emu-partner-drop (prefix incoming/,
SSE-KMS with a customer-managed key, the bucket the test uploads to).
"""
import fnmatch
import json
import sys
import time
import uuid

import boto3
from botocore.exceptions import ClientError

failures = []


def check(condition, message):
    print(("  ok    " if condition else "  FAIL  ") + message)
    if not condition:
        failures.append(message)


def outputs(path):
    with open(path) as f:
        return {name: value["value"] for name, value in json.load(f).items()}


def as_list(value):
    return value if isinstance(value, list) else [value]


def statement_allows(statement, action, resource):
    """Whether an Allow statement grants action on resource (wildcards as IAM has them)."""
    if statement.get("Effect") != "Allow":
        return False
    actions = as_list(statement.get("Action", []))
    resources = as_list(statement.get("Resource", []))
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
        fnmatch.fnmatchcase(resource, r) for r in resources
    )


def role_statements(iam, role_name):
    statements = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        statements += as_list(document["Statement"])
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        document = version["PolicyVersion"]["Document"]
        if isinstance(document, str):
            document = json.loads(document)
        statements += as_list(document["Statement"])
    return statements


def receive_all(sqs, queue_url, wait_seconds=3):
    bodies = []
    deadline = time.time() + wait_seconds
    while time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def verify_applied(network, app):
    s3 = boto3.client("s3")
    ec2 = boto3.client("ec2")
    iam = boto3.client("iam")
    lam = boto3.client("lambda")
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    ecr = boto3.client("ecr")
    cloudwatch = boto3.client("cloudwatch")

    scanner_arn = app["scanner_function_arn"]
    updater_arn = app["updater_function_arn"]
    bus = app["event_bus_name"]
    definitions = app["definitions_bucket_name"]
    endpoint_id = network["s3_endpoint_id"]

    print("network")
    vpc_id = network["vpc_id"]
    subnets = ec2.describe_subnets(SubnetIds=network["private_subnet_ids"])["Subnets"]
    check(len({s["AvailabilityZone"] for s in subnets}) == 2, "two private subnets in two availability zones")
    check(all(not s["MapPublicIpOnLaunch"] and s["VpcId"] == vpc_id for s in subnets), "subnets are private and in the VPC")
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    check(not igws, "no internet gateway on the VPC")
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]).get("NatGateways", [])
    check(not [n for n in nats if n.get("State") != "deleted"], "no NAT gateway in the VPC")
    tables = ec2.describe_route_tables(RouteTableIds=network["private_route_table_ids"])["RouteTables"]
    default_routes = [r for t in tables for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    check(not default_routes, "private route tables have no default route")
    associated = {a.get("SubnetId") for t in tables for a in t.get("Associations", [])}
    check(set(network["private_subnet_ids"]) <= associated, "each private subnet is associated with a private route table")
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    check(endpoint["VpcEndpointType"].lower() == "gateway" and endpoint["ServiceName"].endswith(".s3"), "S3 endpoint is a gateway endpoint")
    check(set(endpoint.get("RouteTableIds", [])) == set(network["private_route_table_ids"]), "S3 endpoint is attached to both private route tables")
    endpoint_policy = json.loads(endpoint["PolicyDocument"])
    # The system's buckets; with the ECR endpoints a second statement names ECR's layer bucket (--worker).
    endpoint_resources = {r for s in as_list(endpoint_policy["Statement"]) if s.get("Sid") == "OnlyThisSystemsBuckets" for r in as_list(s["Resource"])}
    allowed_buckets = {r.split(":::")[1].split("/")[0] for r in endpoint_resources}
    check(allowed_buckets == set(network["s3_endpoint_bucket_names"]), f"S3 endpoint policy names exactly this system's buckets {sorted(allowed_buckets)}")
    check(not any("*" == r or r.endswith(":::*") for r in endpoint_resources), "S3 endpoint policy has no bucket wildcard")
    interface = ec2.describe_vpc_endpoints(VpcEndpointIds=list(network["interface_endpoint_ids"].values()))["VpcEndpoints"]
    check(any(e["ServiceName"].endswith(".events") and e["VpcEndpointType"].lower() == "interface" for e in interface), "EventBridge interface endpoint exists")

    groups = {g["GroupId"]: g for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]}
    scanner_group = groups[network["scanner_security_group_id"]]
    egress = scanner_group.get("IpPermissionsEgress", [])
    check(bool(egress) and all(p.get("FromPort") == 443 and p.get("ToPort") == 443 for p in egress), "scanner security group allows only HTTPS out")
    check(not any(r.get("CidrIp") == "0.0.0.0/0" for p in egress for r in p.get("IpRanges", [])), "scanner security group has no egress to 0.0.0.0/0")
    check({g["GroupId"] for p in egress for g in p.get("UserIdGroupPairs", [])} == {network["endpoints_security_group_id"]}, "scanner may reach the interface endpoints' security group")
    check({prefix["PrefixListId"] for p in egress for prefix in p.get("PrefixListIds", [])} == {endpoint["PrefixListId"]} if endpoint.get("PrefixListId") else bool(egress),
          "scanner may reach S3 through the endpoint's prefix list")
    default_group = [g for g in groups.values() if g["GroupName"] == "default"]
    check(bool(default_group) and not default_group[0].get("IpPermissions") and not default_group[0].get("IpPermissionsEgress"), "the VPC's default security group has no rules")

    print("functions")
    scanner = lam.get_function(FunctionName=app["scanner_function_name"])["Configuration"]
    updater = lam.get_function(FunctionName=app["updater_function_name"])["Configuration"]
    check(scanner.get("PackageType") == "Image" and updater.get("PackageType") == "Image", "both functions are image functions")
    check(set(scanner.get("VpcConfig", {}).get("SubnetIds", [])) == set(network["private_subnet_ids"]), "scanner runs in the private subnets")
    check(scanner.get("VpcConfig", {}).get("SecurityGroupIds") == [network["scanner_security_group_id"]], "scanner uses the scanner security group")
    check(not updater.get("VpcConfig", {}).get("SubnetIds"), "updater runs outside the VPC")
    check(scanner["MemorySize"] >= 3008 and scanner.get("EphemeralStorage", {}).get("Size", 0) >= 8026, "scanner sized for the full database and its worst-case disk")
    scanner_env = scanner.get("Environment", {}).get("Variables", {})
    updater_env = updater.get("Environment", {}).get("Variables", {})
    check(scanner_env == app["scanner_environment"], "scanner has exactly the environment Terraform rendered")
    check(updater_env == app["updater_environment"], "updater has exactly the environment Terraform rendered")
    check("SERVICE_NAME" not in scanner_env, "the Lambda scanner's metrics are named after the function (no SERVICE_NAME)")
    check("LARGE_OBJECT_QUEUE_URL" not in scanner_env, "without the worker, the scanner forwards nothing (objects over MAX_OBJECT_SIZE are UNSCANNABLE)")
    check(scanner_env.get("DEFINITIONS_BUCKET") == definitions and scanner_env.get("EVENT_BUS_NAME") == bus, "scanner points at the definitions bucket and the bus")
    check(updater_env.get("DEFINITIONS_BUCKET") == definitions and updater_env.get("EVENT_BUS_NAME") == bus, "updater points at the definitions bucket and the bus")
    check("MIN_UPDATE_INTERVAL" in updater_env and "CLAMAV_OFFICIAL_DATABASES" in updater_env, "updater has its ClamAV settings")
    for name in (app["scanner_function_name"], app["updater_function_name"]):
        config = lam.get_function_event_invoke_config(FunctionName=name)
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
        check(destination.endswith(f":event-bus/{bus}"), f"{name}: asynchronous failures go to the bus")

    print("triggers")
    for bucket in ("emu-uploads", "emu-partner-drop"):
        configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
        targets = [c["LambdaFunctionArn"] for c in configuration.get("LambdaFunctionConfigurations", [])]
        check(targets == [scanner_arn], f"{bucket}: notification targets the scanner")
        check(all("s3:ObjectCreated:*" in c["Events"] for c in configuration.get("LambdaFunctionConfigurations", [])), f"{bucket}: on ObjectCreated")
    policy = json.loads(lam.get_policy(FunctionName=app["scanner_function_name"])["Policy"])
    s3_sources = {s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"] if s["Principal"].get("Service") == "s3.amazonaws.com"}
    check(s3_sources == {"arn:aws:s3:::emu-uploads", "arn:aws:s3:::emu-partner-drop"}, "scanner may be invoked by exactly the scanned buckets")
    schedule = events.describe_rule(Name=app["updater_schedule_rule_name"])
    check(schedule.get("ScheduleExpression", "").startswith(("cron(", "rate(")), "updater schedule rule has a schedule")
    targets = events.list_targets_by_rule(Rule=app["updater_schedule_rule_name"])["Targets"]
    check([t["Arn"] for t in targets] == [updater_arn], "schedule targets the updater")
    policy = json.loads(lam.get_policy(FunctionName=app["updater_function_name"])["Policy"])
    check(any(s["Principal"].get("Service") == "events.amazonaws.com" for s in policy["Statement"]), "EventBridge may invoke the updater")

    print("rescan through the scan queue (with the direct trigger)")
    verify_rescan(app, direct=True)

    print("event bus")
    rules = {r["Name"]: r for r in events.list_rules(EventBusName=bus)["Rules"]}
    for key, name in app["event_rule_names"].items():
        check(name in rules, f"rule {key} exists on the bus")
        targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        check([t["Arn"].split(":")[-1] for t in targets] == [app["events_queue_url"].rsplit("/", 1)[-1]], f"rule {key} keeps its events in the events queue")
    check(set(app["event_rule_names"]) == {"scan-failures", "update-failures", "infected", "unscannable", "blocked", "invocation-failures"}, "the six rules")

    # Events through the bus: infected and failure events are kept, clean results are not.
    queue = app["events_queue_url"]
    receive_all(sqs, queue, wait_seconds=1)
    marker = str(uuid.uuid4())
    entries = [
        {"Source": "s3-clamav-scanner", "DetailType": "Object Scan Result", "EventBusName": bus,
         "Detail": json.dumps({"verdict": "INFECTED", "action": "DELETED", "marker": marker})},
        {"Source": "s3-clamav-scanner", "DetailType": "Object Scan Result", "EventBusName": bus,
         "Detail": json.dumps({"verdict": "CLEAN", "action": "TAGGED", "marker": marker})},
        {"Source": "s3-clamav-scanner", "DetailType": "Object Scan Result", "EventBusName": bus,
         "Detail": json.dumps({"verdict": "UNSCANNABLE", "action": "TAGGED", "marker": marker})},
        {"Source": "s3-clamav-scanner", "DetailType": "Object Scan Result", "EventBusName": bus,
         "Detail": json.dumps({"verdict": "BLOCKED", "action": "TAGGED", "fileType": "TEXT_ASCII", "marker": marker})},
        {"Source": "s3-clamav-scanner", "DetailType": "Definitions Stale", "EventBusName": bus,
         "Detail": json.dumps({"ageHours": 50, "marker": marker})},
        {"Source": "s3-clamav-scanner", "DetailType": "Definitions Update Failed", "EventBusName": bus,
         "Detail": json.dumps({"reason": "NETWORK", "marker": marker})},
        {"Source": "s3-clamav-scanner", "DetailType": "Definitions Update Failed", "EventBusName": bus,
         "Detail": json.dumps({"reason": "COOLDOWN", "marker": marker})},
    ]
    result = events.put_events(Entries=entries)
    check(result["FailedEntryCount"] == 0, "events accepted by the bus")
    kept = [b for b in receive_all(sqs, queue) if b.get("detail", {}).get("marker") == marker]
    kept_types = sorted((b["detail-type"], b["detail"].get("verdict", b["detail"].get("reason", ""))) for b in kept)
    check(kept_types == [("Definitions Stale", ""), ("Definitions Update Failed", "NETWORK"), ("Object Scan Result", "BLOCKED"),
                         ("Object Scan Result", "INFECTED"), ("Object Scan Result", "UNSCANNABLE")],
          f"bus keeps infected, unscannable, blocked and failure events, not clean results or a cool-down: {kept_types}")

    print("definitions bucket")
    bucket_policy = json.loads(s3.get_bucket_policy(Bucket=definitions)["Policy"])
    statements = {s.get("Sid"): s for s in bucket_policy["Statement"]}
    reads = statements.get("DenyReadsOutsideTheVpcEndpoint", {})
    check(reads.get("Effect") == "Deny" and reads.get("Condition", {}).get("StringNotEquals", {}).get("aws:SourceVpce") == endpoint_id,
          f"definitions bucket denies reads not through endpoint {endpoint_id}")
    writes = statements.get("DenyWritesExceptByTheUpdater", {})
    exempt = as_list(writes.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", []))
    check(writes.get("Effect") == "Deny" and exempt == [app["updater_role_arn"]], "definitions bucket denies writes by anyone but the updater's role")
    check(app["scanner_role_arn"] not in exempt, "the scanner's role is not exempt from the write deny")
    readers = as_list(statements.get("DenyReadsExceptByTheScannerAndTheUpdater", {}).get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", []))
    check(set(readers) == {app["scanner_role_arn"], app["updater_role_arn"]}, "only the scanner and the updater may read the definitions")
    check("DenyInsecureTransport" in statements, "definitions bucket denies plain HTTP")
    public = s3.get_public_access_block(Bucket=definitions)["PublicAccessBlockConfiguration"]
    check(all(public.values()), "definitions bucket blocks all public access")

    print("least privilege")
    scanner_role = app["scanner_role_arn"].split("/")[-1]
    updater_role = app["updater_role_arn"].split("/")[-1]
    scanner_statements = role_statements(iam, scanner_role)
    updater_statements = role_statements(iam, updater_role)
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging"):
        check(not any(statement_allows(s, action, f"arn:aws:s3:::{definitions}/clamav/main.cvd") for s in scanner_statements),
              f"scanner's role cannot {action} in the definitions bucket")
    check(any(statement_allows(s, "s3:GetObject", f"arn:aws:s3:::{definitions}/clamav/manifest.json") for s in scanner_statements), "scanner's role can read the definitions")
    check(not any(statement_allows(s, "s3:GetObject", f"arn:aws:s3:::{definitions}/elsewhere/x") for s in scanner_statements), "scanner's role cannot read outside the definitions prefix")
    check(any(statement_allows(s, "s3:PutObject", f"arn:aws:s3:::{definitions}/clamav/daily.cvd") for s in updater_statements), "updater's role can write the definitions")
    check(not any(statement_allows(s, "s3:GetObject", "arn:aws:s3:::emu-uploads/file") for s in updater_statements), "updater's role cannot read the scanned buckets")
    check(any(statement_allows(s, "s3:DeleteObjectVersion", "arn:aws:s3:::emu-uploads/a/b") for s in scanner_statements), "scanner's role can delete infected versions in a scanned bucket")
    check(not any(statement_allows(s, "s3:GetObject", "arn:aws:s3:::emu-partner-drop/other/x") for s in scanner_statements), "scanner's role is limited to the notification prefix")
    check(not any(statement_allows(s, "s3:GetObject", "arn:aws:s3:::some-other-bucket/x") for s in scanner_statements), "scanner's role cannot read other buckets")
    check(not any(statement_allows(s, "events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/default") for s in scanner_statements + updater_statements),
          "neither role can publish to the default bus")
    check(not any(s.get("Effect") == "Allow" and "*" in as_list(s.get("Action", [])) for s in scanner_statements + updater_statements), "no role allows Action *")
    check(any(statement_allows(s, "s3:ListBucketVersions", "arn:aws:s3:::emu-partner-drop") for s in scanner_statements),
          "scanner's role may list the versions of a scanned bucket (404, not 403, for a deleted object)")
    encryption = s3.get_bucket_encryption(Bucket="emu-partner-drop")["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    key = encryption.get("KMSMasterKeyID", "")
    check(encryption["SSEAlgorithm"] == "aws:kms" and key.startswith("arn:aws:kms:"), "emu-partner-drop encrypts with a customer-managed key (SSE-KMS)")
    decrypt = [s for s in scanner_statements if statement_allows(s, "kms:Decrypt", key)]
    check(len(decrypt) == 1 and as_list(decrypt[0]["Resource"]) == [key], "scanner's role may decrypt with exactly that bucket's key")
    check(not any(statement_allows(s, "kms:Decrypt", key) for s in updater_statements), "the updater may not use the scanned bucket's key")
    # moto keeps no KMS permissions, but it does encrypt: an object written under the key
    # comes back through the same API the scanner uses.
    s3.put_object(Bucket="emu-partner-drop", Key="incoming/kms-wiring-check.txt", Body=b"encrypted at rest")
    head = s3.head_object(Bucket="emu-partner-drop", Key="incoming/kms-wiring-check.txt")
    check(head.get("ServerSideEncryption") == "aws:kms" and head.get("SSEKMSKeyId") == key, "a new object in emu-partner-drop is encrypted with that key")

    print("download protection")
    protected = json.loads(s3.get_bucket_policy(Bucket="emu-uploads")["Policy"])
    deny = [s for s in protected["Statement"] if s.get("Sid") == "DenyDownloadsOfObjectsNotScannedClean"]
    check(len(deny) == 1 and deny[0]["Condition"]["StringNotEquals"].get("s3:ExistingObjectTag/scan-status") == "CLEAN"
          and deny[0]["Condition"]["ArnNotEquals"].get("aws:PrincipalArn") == app["scanner_role_arn"],
          "emu-uploads denies downloads not tagged CLEAN, scanner exempt")
    tag_writes = [s for s in protected["Statement"] if s.get("Sid") == "DenyWritingScanTags"]
    check(len(tag_writes) == 1 and set(as_list(tag_writes[0]["Condition"]["ForAnyValue:StringEquals"]["s3:RequestObjectTagKeys"])) ==
          {"scan-status", "scan-signature", "scan-time", "scan-definitions", "scan-proof", "scan-file-type"},
          "emu-uploads denies uploads and tag writes that name any of the six scan tags")
    check(len(protected["Statement"]) == 11, f"emu-uploads's policy has the 11 protection statements ({len(protected['Statement'])})")
    # exempt_filtered_objects_from_protection: what SCAN_FILTERS excludes by key is left out.
    check(len(deny) == 1 and "Resource" not in deny[0] and set(as_list(deny[0].get("NotResource", []))) == {"arn:aws:s3:::emu-uploads/tmp/*", "arn:aws:s3:::emu-uploads/*.part"},
          f"emu-uploads's download deny leaves out the keys scan_filters excludes (NotResource {deny[0].get('NotResource') if deny else None})")
    others = [s for s in protected["Statement"] if s.get("Sid") != "DenyDownloadsOfObjectsNotScannedClean"]
    check(all(as_list(s.get("Resource")) == ["arn:aws:s3:::emu-uploads/*"] for s in others), "... while every other protection still covers the whole bucket")
    check(json.loads(scanner_env.get("SCAN_FILTERS", "{}")).get("emu-uploads") == {"exclude_prefixes": ["tmp/"], "exclude_suffixes": [".part"], "min_size": 1},
          "the scanner skips exactly what the policy exempts (and the small objects, which stay protected)")
    try:
        s3.get_bucket_policy(Bucket="emu-partner-drop")
        check(False, "emu-partner-drop has no download protection (not requested)")
    except ClientError as error:
        check(error.response["Error"]["Code"] == "NoSuchBucketPolicy", "emu-partner-drop has no download protection (not requested)")

    print("repositories, buckets and alarms")
    for url in (app["scanner_repository_url"], app["updater_repository_url"]):
        repository = ecr.describe_repositories(repositoryNames=[url.split("/", 1)[1]])["repositories"][0]
        check(repository["imageTagMutability"] == "IMMUTABLE" and repository["imageScanningConfiguration"]["scanOnPush"], f"{repository['repositoryName']}: immutable tags, scan on push")
        check("rules" in json.loads(ecr.get_lifecycle_policy(repositoryName=repository["repositoryName"])["lifecyclePolicyText"]), f"{repository['repositoryName']}: lifecycle policy")
    logging = s3.get_bucket_logging(Bucket=definitions).get("LoggingEnabled", {})
    check(logging.get("TargetBucket") == app["access_log_bucket_name"], "definitions bucket logs to the access-log bucket")
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=app["access_log_bucket_name"])["Rules"]
    check(any("Expiration" in r for r in lifecycle), "access logs expire")
    check(app["quarantine_bucket_name"] in [b["Name"] for b in s3.list_buckets()["Buckets"]], "quarantine bucket exists")
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    by_metric = {(a["Namespace"], a["MetricName"]) for a in alarms}
    for metric in [("AWS/Lambda", "Errors"), ("S3ClamAVScanner", "DefinitionsAgeHours"), ("S3ClamAVScanner", "ScanErrors"), ("AWS/Events", "MatchedEvents")]:
        check(metric in by_metric, f"alarm on {metric[0]} {metric[1]}")
    stale = [a for a in alarms if a["MetricName"] == "DefinitionsAgeHours"]
    check(bool(stale) and stale[0]["Threshold"] == float(scanner_env.get("MAX_DEFINITIONS_AGE", -1)), "stale alarm threshold is MAX_DEFINITIONS_AGE")
    scan_errors = [a for a in alarms if a["MetricName"] == "ScanErrors"]
    check([d for a in scan_errors for d in a["Dimensions"]] == [{"Name": "Service", "Value": app["scanner_function_name"]}],
          "the ScanErrors alarm watches the dimension set [Service] = the function name")
    dashboards = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    check(app["dashboard_name"] in dashboards, f"dashboard {app['dashboard_name']} exists")


def verify_sqs_trigger(network, app):
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    lam = boto3.client("lambda")
    queue_url = app["scan_queue_url"]
    check(bool(queue_url), "scan queue exists")
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    queue_arn = queue["QueueArn"]
    redrive = json.loads(queue.get("RedrivePolicy", "{}"))
    check(redrive.get("deadLetterTargetArn", "").endswith("-scan-redrive"), "scan queue redrives to its redrive queue")
    policy = json.loads(queue.get("Policy", "{}"))
    sources = {str(s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")) for s in policy.get("Statement", [])}
    check(redrive.get("maxReceiveCount") >= 5, f"a message is received at least 5 times before the redrive queue ({redrive.get('maxReceiveCount')})")
    mappings = lam.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    check([m["FunctionArn"] for m in mappings] == [app["scanner_function_arn"]], "the scanner consumes the scan queue")
    check(all(m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"] for m in mappings), "the mapping reports failed records one by one (ReportBatchItemFailures)")
    reserved = lam.get_function_concurrency(FunctionName=app["scanner_function_name"]).get("ReservedConcurrentExecutions")
    check(all(m.get("ScalingConfig", {}).get("MaximumConcurrency") == reserved for m in mappings),
          f"the mapping's maximum concurrency is the reserved concurrency ({reserved})")
    check(any("emu-uploads" in source for source in sources), "scan queue accepts the scanned buckets' notifications")
    check(any(source.endswith(":rule/" + app["event_bus_name"] + "/" + app["rescan_rule_name"]) for source in sources),
          f"scan queue accepts the rescan rule's events {sorted(sources)}")
    for bucket in ("emu-uploads", "emu-partner-drop"):
        configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
        check([c["QueueArn"] for c in configuration.get("QueueConfigurations", [])] == [queue_arn], f"{bucket}: notification targets the scan queue")
        check(not configuration.get("LambdaFunctionConfigurations"), f"{bucket}: no direct invocation any more")
    try:
        policy = json.loads(lam.get_policy(FunctionName=app["scanner_function_name"])["Policy"])
        statements = policy.get("Statement", [])
    except lam.exceptions.ResourceNotFoundException:
        statements = []
    check(not [s for s in statements if s["Principal"].get("Service") == "s3.amazonaws.com"], "S3 may no longer invoke the scanner directly")
    # A new object reaches the queue (moto delivers S3 notifications to SQS at once). moto
    # hands queued messages to an enabled event source mapping at once (and its Lambda
    # "succeeds"), so pause the mapping to look at the message.
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    s3.put_object(Bucket="emu-partner-drop", Key="incoming/sqs-wiring-check.txt", Body=b"hello")
    bodies = receive_all(sqs, queue_url)
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    keys = [r["s3"]["object"]["key"] for b in bodies for r in b.get("Records", [])]
    check("incoming%2Fsqs-wiring-check.txt" in keys or "incoming/sqs-wiring-check.txt" in keys, f"an upload to emu-partner-drop arrives in the scan queue {keys}")
    verify_rescan(app)
    return queue_url, queue_arn, mappings


def verify_rescan(app, direct=False):
    """The rescan rule on the bus sends Definitions Updated to the scan queue, which the
    scanner consumes (with the direct trigger too) and may send to."""
    sqs = boto3.client("sqs")
    lam = boto3.client("lambda")
    events = boto3.client("events")
    iam = boto3.client("iam")
    queue_url, bus = app["scan_queue_url"], app["event_bus_name"]
    check(bool(queue_url) and bool(app["rescan_rule_name"]), "a scan queue and a rescan rule exist" + (" with the direct trigger" if direct else ""))
    if not queue_url or not app["rescan_rule_name"]:
        return
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = events.describe_rule(Name=app["rescan_rule_name"], EventBusName=bus)
    check(json.loads(rule["EventPattern"]) == {"source": ["s3-clamav-scanner"], "detail-type": ["Definitions Updated"]},
          f"the rescan rule matches Definitions Updated ({rule['EventPattern']})")
    targets = events.list_targets_by_rule(Rule=app["rescan_rule_name"], EventBusName=bus)["Targets"]
    check([t["Arn"] for t in targets] == [queue_arn], "the rescan rule's target is the scan queue")
    env = app["scanner_environment"]
    check(env.get("SCAN_QUEUE_URL") == queue_url and env.get("RESCAN_BUCKETS") == "emu-partner-drop/incoming/,emu-uploads",
          f"the scanner rescans the scanned buckets under their prefixes through the scan queue ({env.get('RESCAN_BUCKETS')})")
    mappings = lam.list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    check([m["FunctionArn"] for m in mappings] == [app["scanner_function_arn"]], "the scanner consumes the scan queue")
    statements = role_statements(iam, app["scanner_role_arn"].split("/")[-1])
    check(any(statement_allows(s, "sqs:SendMessage", queue_arn) for s in statements), "the scanner's role may send (its rescan messages) to the scan queue")
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    receive_all(sqs, queue_url, wait_seconds=1)
    marker = str(uuid.uuid4())
    events.put_events(Entries=[
        {"Source": "s3-clamav-scanner", "DetailType": "Definitions Updated", "EventBusName": bus, "Detail": json.dumps({"version": "custom:1", "marker": marker})},
        {"Source": "s3-clamav-scanner", "DetailType": "Definitions Update Failed", "EventBusName": bus, "Detail": json.dumps({"reason": "NETWORK", "marker": marker})},
    ])
    arrived = [b.get("detail-type") for b in receive_all(sqs, queue_url) if b.get("detail", {}).get("marker") == marker]
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    check(arrived == ["Definitions Updated"], f"Definitions Updated (only) arrives in the scan queue {arrived}")


def verify_worker(network, app):
    """sqs trigger plus the ECS worker: every object goes to the scan queue; the Lambda scanner
    forwards those over its MAX_OBJECT_SIZE to the worker's queue."""
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    lam = boto3.client("lambda")
    ec2 = boto3.client("ec2")
    ecs = boto3.client("ecs")
    iam = boto3.client("iam")
    events = boto3.client("events")
    autoscaling = boto3.client("application-autoscaling")
    cloudwatch = boto3.client("cloudwatch")

    print("network for the worker")
    interface = ec2.describe_vpc_endpoints(VpcEndpointIds=list(network["interface_endpoint_ids"].values()))["VpcEndpoints"]
    services = {e["ServiceName"].split(".", 3)[-1] for e in interface}
    check({"events", "sqs", "ecr.api", "ecr.dkr", "logs"} <= services, f"interface endpoints for the worker {sorted(services)}")
    for e in interface:
        service = e["ServiceName"].split(".", 3)[-1]
        actions = {a for s in as_list(json.loads(e["PolicyDocument"])["Statement"]) for a in as_list(s["Action"])}
        check(actions == {service.split(".")[0] + ":*"}, f"the {service} endpoint's policy names the service's IAM actions {sorted(actions)}")
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[network["s3_endpoint_id"]])["VpcEndpoints"][0]
    layers = [s for s in json.loads(endpoint["PolicyDocument"])["Statement"] if s.get("Sid") == "EcrImageLayers"]
    check(len(layers) == 1 and as_list(layers[0]["Resource"]) == ["arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*"],
          "the S3 endpoint lets Fargate pull image layers from ECR's bucket")

    print("large objects: the normal path, then the scanner's own forwarding")
    scan_queue_url, scan_queue_arn, mappings = verify_sqs_trigger(network, app)
    worker_queue = app["worker_queue_url"]
    worker_arn = sqs.get_queue_attributes(QueueUrl=worker_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env = app["scanner_environment"]
    check(env.get("LARGE_OBJECT_QUEUE_URL") == worker_queue, "the Lambda scanner forwards objects over its MAX_OBJECT_SIZE to the worker's queue")
    check("LARGE_OBJECT_QUEUE_URL" not in app["worker_environment"], "the worker forwards nothing")
    check(int(app["worker_environment"]["MAX_OBJECT_SIZE"]) > int(env["MAX_OBJECT_SIZE"]), "the worker takes larger objects than the Lambda scanner")
    statements = role_statements(iam, app["scanner_role_arn"].split("/")[-1])
    check(any(statement_allows(s, "sqs:SendMessage", worker_arn) for s in statements), "the scanner's role may send to the worker's queue")
    check(not sqs.get_queue_attributes(QueueUrl=worker_queue, AttributeNames=["Policy"]).get("Attributes", {}).get("Policy"),
          "the worker's queue has no resource policy: no service sends to it")
    prefix = app["scanner_function_name"].rsplit("-", 1)[0]
    check(not events.list_rules(NamePrefix=prefix + "-route-")["Rules"], "no routing rules by size on the default bus")
    for bucket in ("emu-uploads", "emu-partner-drop"):
        configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
        check([c["QueueArn"] for c in configuration.get("QueueConfigurations", [])] == [scan_queue_arn] and "EventBridgeConfiguration" not in configuration,
              f"{bucket}: every object is notified to the scan queue, none to EventBridge")
    # A large upload takes the normal path: whatever its size (over 5e9 too) it reaches the
    # Lambda scanner, which hands it over (the handing over is tested with the executables).
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    receive_all(sqs, worker_queue, wait_seconds=1)
    s3.put_object(Bucket="emu-partner-drop", Key="incoming/large-upload.bin", Body=b"l" * (int(env["MAX_OBJECT_SIZE"]) + 1000))
    in_scan_queue = [r["s3"]["object"]["key"] for b in receive_all(sqs, scan_queue_url) for r in b.get("Records", [])]
    in_worker_queue = receive_all(sqs, worker_queue)
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    check(any(k in ("incoming/large-upload.bin", "incoming%2Flarge-upload.bin") for k in in_scan_queue),
          f"an object over the Lambda scanner's limit lands in the scan queue, the normal path {in_scan_queue}")
    check(not in_worker_queue, "nothing reaches the worker's queue but what the scanner forwards")

    worker_role = app.get("worker_task_definition_arn") and ecs.describe_task_definition(taskDefinition=app["worker_task_definition_arn"])["taskDefinition"]["taskRoleArn"].split("/")[-1]
    if worker_role:
        worker_statements = role_statements(iam, worker_role)
        check(any(statement_allows(s, "sqs:SendMessage", scan_queue_arn) for s in worker_statements),
              "the worker's role may send to the scan queue (a backfill as a one-off task)")
        check(not any(statement_allows(s, "sqs:SendMessage", worker_arn) for s in worker_statements), "... but not to its own queue")
    check(json.loads(app["worker_run_task_network_configuration"])["awsvpcConfiguration"]["subnets"] == network["private_subnet_ids"],
          "the one-off task's network configuration names the private subnets")

    print("ECS worker")
    cluster = app["worker_cluster_name"]
    service = ecs.describe_services(cluster=cluster, services=[app["worker_service_name"]])["services"][0]
    check(service.get("launchType") == "FARGATE" and service.get("desiredCount") == 0, "a Fargate service, idle until there is work")
    vpc = service["networkConfiguration"]["awsvpcConfiguration"]
    check(set(vpc["subnets"]) == set(network["private_subnet_ids"]) and vpc["securityGroups"] == [network["scanner_security_group_id"]]
          and vpc.get("assignPublicIp") == "DISABLED", "in the private subnets, with the scanner's security group, no public address")
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    check(service["taskDefinition"] == app["worker_task_definition_arn"], "the task definition the service runs is an output (for one-off tasks)")
    container = task["containerDefinitions"][0]
    check(container["command"] == ["worker", "--queue-url", worker_queue], "the task runs `scanner worker` on its queue")
    check({e["name"]: e["value"] for e in container["environment"]} == app["worker_environment"], "the task has exactly the environment Terraform rendered")
    check(container.get("readonlyRootFilesystem") is True, "read-only root filesystem")
    check(task.get("ephemeralStorage", {}).get("sizeInGiB", 0) >= 21, f"ephemeral storage {task.get('ephemeralStorage')}")
    task_role = task["taskRoleArn"].split("/")[-1]
    statements = role_statements(iam, task_role)
    check(any(statement_allows(s, "sqs:ReceiveMessage", worker_arn) for s in statements), "the task role consumes the worker's queue")
    check(not any(statement_allows(s, "sqs:ReceiveMessage", scan_queue_arn) for s in statements), "... and not the Lambda scanner's")
    check(not any(statement_allows(s, "s3:PutObject", f"arn:aws:s3:::{app['definitions_bucket_name']}/clamav/daily.cvd") for s in statements),
          "the task role cannot write the definitions")
    check(any(statement_allows(s, "s3:DeleteObjectVersion", "arn:aws:s3:::emu-partner-drop/incoming/x") for s in statements),
          "the task role acts on the scanned objects like the Lambda scanner")
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    mine = [t for t in targets if t["ResourceId"] == f"service/{cluster}/{app['worker_service_name']}"]
    check(len(mine) == 1 and mine[0]["MinCapacity"] == 0 and mine[0]["MaxCapacity"] >= 1, "autoscaling between zero and worker_max_tasks")
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=f"service/{cluster}/{app['worker_service_name']}")["ScalingPolicies"]
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    for policy in policies:
        watching = [a for a in alarms.values() if policy["PolicyARN"] in a.get("AlarmActions", [])]
        check(len(watching) == 1, f"scaling policy {policy['PolicyName']} is driven by an alarm on the queue")
    check(len(policies) == 2, "two scaling policies: out on a backlog, to zero when idle")


def verify_destroyed(network, app):
    lam = boto3.client("lambda")
    ec2 = boto3.client("ec2")
    s3 = boto3.client("s3")
    events = boto3.client("events")
    functions = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    check(app["scanner_function_name"] not in functions and app["updater_function_name"] not in functions, "functions are gone")
    check(not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [network["vpc_id"]]}])["Vpcs"], "VPC is gone")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    check(app["definitions_bucket_name"] not in buckets and app["access_log_bucket_name"] not in buckets, "the system's buckets are gone")
    check({"emu-uploads", "emu-partner-drop"} <= buckets, "the scanned buckets (not owned by Terraform) remain")
    for bucket in ("emu-uploads", "emu-partner-drop"):
        configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
        check(not configuration.get("LambdaFunctionConfigurations") and not configuration.get("QueueConfigurations"), f"{bucket}: notification removed")
    check(app["event_bus_name"] not in [b["Name"] for b in events.list_event_buses()["EventBuses"]], "event bus is gone")


def main():
    arguments = sys.argv[1:]
    mode = verify_applied
    if arguments[:1] == ["--destroyed"]:
        mode, arguments = verify_destroyed, arguments[1:]
    elif arguments[:1] == ["--sqs"]:
        mode, arguments = verify_sqs_trigger, arguments[1:]
    elif arguments[:1] == ["--worker"]:
        mode, arguments = verify_worker, arguments[1:]
    network, app = outputs(arguments[0]), outputs(arguments[1])
    mode(network, app)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
