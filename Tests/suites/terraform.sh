#!/usr/bin/env bash
# Tests the Terraform under infrastructure/: formatting, validation, checkov, the mock
# provider tests, then a real apply of the network and the app against moto_server in
# three shapes (direct trigger; SQS trigger; SQS and the ECS worker; each with the rescan,
# a file-type policy and filters), a check of the wiring
# through the AWS APIs after each, and on the last one: the policies' effect with an IAM
# policy evaluator, every alarm and rule against what the real executables print and
# publish, and each executable's configuration started on the environment Terraform sets
# (also for the example var files); then a destroy of both roots.
#
# Needs what scripts/setup.sh installs (terraform with the provider in /opt/tf-plugins,
# moto, boto3, checkov and principalmapper in their own virtual environments) and the
# debug build of the executables: SCANNER_BIN and UPDATER_BIN, by default .build/debug/,
# and the test tools RUNTIME_API_SERVER and TEST_MIRROR_BIN, by default beside SCANNER_BIN.
# Writes nothing into the repository: every root is copied to a temporary directory first.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
started=$(date +%s)

checkov_venv=${CHECKOV_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/s3-clamav-scanner/checkov-venv}
pmapper_venv=${PMAPPER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/s3-clamav-scanner/pmapper-venv}
SCANNER_BIN=${SCANNER_BIN:-$repo/.build/debug/scanner}
UPDATER_BIN=${UPDATER_BIN:-$repo/.build/debug/definition-updater}
RUNTIME_API_SERVER=${RUNTIME_API_SERVER:-$(dirname "$SCANNER_BIN")/runtime-api-server}
TEST_MIRROR_BIN=${TEST_MIRROR_BIN:-$(dirname "$SCANNER_BIN")/test-mirror}
export SCANNER_BIN UPDATER_BIN RUNTIME_API_SERVER TEST_MIRROR_BIN
for binary in "$SCANNER_BIN" "$UPDATER_BIN" "$RUNTIME_API_SERVER" "$TEST_MIRROR_BIN"; do
    [ -x "$binary" ] || { echo "terraform suite: $binary is missing: swift build first (or set SCANNER_BIN/UPDATER_BIN/RUNTIME_API_SERVER/TEST_MIRROR_BIN)" >&2; exit 1; }
done
roots=(network apps/s3-clamav-scanner)

work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-tf.XXXXXX")
cleanup() {
    status=$?
    scripts/lib/moto-server.sh stop "$work/moto" || true
    rm -rf "$work"
    if [ "$status" -ne 0 ]; then
        echo
        echo "==== terraform suite: FAILED (exit $status) after $(($(date +%s) - started)) s"
    fi
}
trap cleanup EXIT

section() { printf '\n==== %s\n' "$*"; }

# Providers come only from the local filesystem mirror.
cat >"$work/cli.tfrc" <<'CLI'
provider_installation {
  filesystem_mirror {
    path    = "/opt/tf-plugins"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/*/*"]
  }
}
CLI
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

# A private copy of the Terraform, so that .terraform/, lock files and state stay out of
# the repository.
cp -r "$repo/infrastructure" "$work/infrastructure"
find "$work/infrastructure" \( -name .terraform -o -name '.terraform.lock.hcl' -o -name '*.tfstate*' \) -prune -exec rm -rf {} +

section "terraform fmt -check"
terraform fmt -check -recursive -diff infrastructure

section "terraform init + validate"
for root in "${roots[@]}"; do
    echo "-- $root"
    terraform -chdir="$work/infrastructure/$root" init -backend=false -input=false -no-color >"$work/init.log" || { cat "$work/init.log"; exit 1; }
    terraform -chdir="$work/infrastructure/$root" validate -no-color
done

section "checkov"
"$checkov_venv/bin/checkov" --quiet --compact --skip-download --framework terraform \
    --directory infrastructure

section "terraform test (mock provider)"
for root in "${roots[@]}"; do
    if compgen -G "$work/infrastructure/$root/tests/*.tftest.hcl" >/dev/null; then
        echo "-- $root"
        terraform -chdir="$work/infrastructure/$root" test -no-color
    fi
done

section "moto_server"
# With the shims of infrastructure/tests/moto_shims (what moto 5.2 lacks or gets wrong).
moto_url=$(scripts/lib/moto-server.sh start "$work/moto" PYTHONPATH="$repo/infrastructure/tests/moto_shims")
echo "moto at $moto_url (pid $(cat "$work/moto/moto.pid"))"
# Lambda functions are stored but not run: the deploy-time invocation of the updater
# gets a canned JSON answer.
curl -sf -X POST "$moto_url/moto-api/config" -H 'Content-Type: application/json' \
    -d '{"lambda": {"use_docker": false}}' >/dev/null
curl -sf -X POST "$moto_url/moto-api/static/lambda-simple/response" -H 'Content-Type: application/json' \
    -d '{"results": ["{\"status\": \"UPDATED\"}"], "region": "eu-west-1"}' >/dev/null

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1
unset AWS_PROFILE AWS_SESSION_TOKEN || true
export AWS_ENDPOINT_URL="$moto_url"

# The scanned buckets exist before the app (the app takes existing buckets by name), both
# versioned; emu-partner-drop encrypts with a customer-managed KMS key.
scanned=(emu-uploads emu-partner-drop)
for bucket in "${scanned[@]}"; do
    aws s3api create-bucket --bucket "$bucket" --create-bucket-configuration LocationConstraint=eu-west-1 >/dev/null
    aws s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
done
kms_key=$(aws kms create-key --description "emu-partner-drop objects" --query KeyMetadata.Arn --output text)
aws s3api put-bucket-encryption --bucket emu-partner-drop --server-side-encryption-configuration \
    "{\"Rules\": [{\"ApplyServerSideEncryptionByDefault\": {\"SSEAlgorithm\": \"aws:kms\", \"KMSMasterKeyID\": \"$kms_key\"}}]}"

network_dir="$work/infrastructure/network"
app_dir="$work/infrastructure/apps/s3-clamav-scanner"

cat >"$work/network.tfvars" <<VARS
aws_endpoint_url = "$moto_url"
aws_region       = "eu-west-1"
environment      = "emu"
s3_endpoint_bucket_names = ["emu-clamav-definitions", "emu-clamav-quarantine", "emu-uploads", "emu-partner-drop"]
interface_endpoint_services = ["events", "sqs", "ecr.api", "ecr.dkr", "logs"]
VARS

cat >"$work/app.tfvars" <<VARS
aws_endpoint_url = "$moto_url"
aws_region       = "eu-west-1"
environment      = "emu"
network_state = {
  backend = "local"
  config  = { path = "$network_dir/terraform.tfstate" }
}
definitions_bucket_name = "emu-clamav-definitions"
access_log_bucket_name  = "emu-clamav-access-logs"
quarantine_bucket_name  = "emu-clamav-quarantine"
infected_action         = "quarantine"
scanned_buckets = {
  "emu-uploads"      = { deny_unscanned_downloads = true }
  "emu-partner-drop" = { filter_prefix = "incoming/" }
}
scanned_bucket_kms_key_arns = ["$kms_key"]
# moto has no Cloud Control API, which the versioning check reads through.
scanned_bucket_versioning_check = "off"
# The Lambda scanner takes objects up to 1 KiB; with the worker on it forwards larger ones.
max_object_size_bytes = 1024
# Every shape: the rescan (with the direct trigger it creates the scan queue), a file-type
# policy and filters (the verdict BLOCKED, and skipped objects the protection exempts).
rescan_on_definitions_update = true
file_type_policy = { "emu-partner-drop/incoming/signals/images/" = ["PNG", "JPEG"] }
scan_filters = {
  "emu-uploads"      = { exclude_prefixes = ["tmp/"], exclude_suffixes = [".part"], min_size = 1 }
  "emu-partner-drop" = { exclude_suffixes = [".tmp"] }
}
exempt_filtered_objects_from_protection = true
scanner_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-clamav-scanner-emu/scanner:0123456789abcdef0123456789abcdef01234567"
updater_image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/s3-clamav-scanner-emu/definition-updater:0123456789abcdef0123456789abcdef01234567"
force_destroy     = true
VARS

apply() { # DIR VARFILE [TERRAFORM ARGUMENTS...]
    local dir=$1 varfile=$2
    shift 2
    terraform -chdir="$dir" init -input=false -no-color >"$work/init.log" || { cat "$work/init.log"; exit 1; }
    terraform -chdir="$dir" apply -auto-approve -input=false -no-color -compact-warnings -var-file="$varfile" "$@" >"$work/apply.log" 2>&1 || { cat "$work/apply.log"; exit 1; }
    grep -E '^Apply complete' "$work/apply.log"
    slowest "$work/apply.log"
}

slowest() { # LOG: the resources that took longest, to see where the time goes
    grep -oE '^[^ ]+: (Creation|Destruction) complete after [0-9hms]+' "$1" |
        awk '{t = $NF; s = 0; if (t ~ /m/) { split(t, p, "m"); s = p[1] * 60; t = p[2] } sub("s", "", t); print s + t "s", $1}' |
        sort -rn | awk 'NR <= 3 { print "   slowest: " $0 }' # reads it all: head would SIGPIPE sort
}

destroy() { # DIR VARFILE [TERRAFORM ARGUMENTS...]
    terraform -chdir="$1" destroy -auto-approve -input=false -no-color -compact-warnings -var-file="$2" "${@:3}" >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log"; exit 1; }
    grep -E '^Destroy complete' "$work/destroy.log"
    slowest "$work/destroy.log"
    left=$(terraform -chdir="$1" state list)
    if [ -n "$left" ]; then
        echo "resources left in the state of $1 after destroy:" >&2
        echo "$left" >&2
        exit 1
    fi
}

section "S3 backend against moto (init, workspace, locked plan)"
# The roots keep local state unless backend_override.tf selects S3 (README); show that
# the S3 backend with workspaces and S3-native locking works.
aws s3api create-bucket --bucket emu-terraform-state --create-bucket-configuration LocationConstraint=eu-west-1 >/dev/null
s3_root="$work/s3-backend/network"
mkdir -p "$(dirname "$s3_root")"
cp -r "$work/infrastructure/network" "$s3_root"
printf 'terraform {\n  backend "s3" {}\n}\n' >"$s3_root/backend_override.tf"
cat >"$work/emu.s3.tfbackend" <<BACKEND
bucket                      = "emu-terraform-state"
key                         = "s3-clamav-scanner/network.tfstate"
region                      = "eu-west-1"
workspace_key_prefix        = "env"
use_lockfile                = true
use_path_style              = true
skip_credentials_validation = true
skip_requesting_account_id  = true
skip_metadata_api_check     = true
skip_region_validation      = true
endpoints = {
  s3 = "$moto_url"
}
BACKEND
terraform -chdir="$s3_root" init -input=false -no-color -backend-config="$work/emu.s3.tfbackend" >"$work/init.log" || { cat "$work/init.log"; exit 1; }
terraform -chdir="$s3_root" workspace new emu -no-color >/dev/null
terraform -chdir="$s3_root" plan -lock=true -input=false -no-color -var-file="$work/network.tfvars" >"$work/plan.log" || { cat "$work/plan.log"; exit 1; }
grep -E '^Plan:' "$work/plan.log"
aws s3api head-object --bucket emu-terraform-state --key env/emu/s3-clamav-scanner/network.tfstate >/dev/null
echo "workspace state at s3://emu-terraform-state/env/emu/s3-clamav-scanner/network.tfstate"
if aws s3api head-object --bucket emu-terraform-state --key env/emu/s3-clamav-scanner/network.tfstate.tflock >/dev/null 2>&1; then
    echo "the plan's lock was not released" >&2
    exit 1
fi

section "apply network against moto"
t0=$(date +%s)
apply "$network_dir" "$work/network.tfvars"
terraform -chdir="$network_dir" output -json >"$work/network-outputs.json"
echo "network applied in $(($(date +%s) - t0)) s"

section "apply app against moto"
t0=$(date +%s)
apply "$app_dir" "$work/app.tfvars"
terraform -chdir="$app_dir" output -json >"$work/app-outputs.json"
echo "app applied in $(($(date +%s) - t0)) s"

section "verify the wiring through the AWS APIs"
python3 infrastructure/tests/verify_wiring.py "$work/network-outputs.json" "$work/app-outputs.json"

section "switch the app to the SQS trigger and verify"
t0=$(date +%s)
apply "$app_dir" "$work/app.tfvars" -var scan_trigger=sqs
terraform -chdir="$app_dir" output -json >"$work/app-outputs-sqs.json"
python3 infrastructure/tests/verify_wiring.py --sqs "$work/network-outputs.json" "$work/app-outputs-sqs.json"
echo "switched in $(($(date +%s) - t0)) s"

section "add the ECS worker (the scanner forwards large objects to it) and verify"
t0=$(date +%s)
apply "$app_dir" "$work/app.tfvars" -var scan_trigger=sqs -var worker_enabled=true
terraform -chdir="$app_dir" output -json >"$work/app-outputs-worker.json"
terraform -chdir="$app_dir" show -json >"$work/app-state.json"
terraform -chdir="$network_dir" show -json >"$work/network-state.json"
python3 infrastructure/tests/verify_wiring.py --worker "$work/network-outputs.json" "$work/app-outputs-worker.json"
echo "switched in $(($(date +%s) - t0)) s"

section "policies: intended effect per principal and request (Principal Mapper's evaluator)"
"$pmapper_venv/bin/python" infrastructure/tests/policy_effects.py --exempt-filtered "$work/app-state.json" "$work/network-state.json"

section "alarms, rules and dashboard against the real scanner and updater"
t0=$(date +%s)
python3 infrastructure/tests/verify_signals.py "$work/app-state.json" emu-partner-drop incoming/
echo "checked in $(($(date +%s) - t0)) s"

section "the executables accept every variable Terraform sets"
# The applied stack, then the example var files and the limits, each planned (not
# applied) against the emulator with a stand-in for the network's state.
# A clean copy (the modules beside it, no state of the applies above).
mkdir -p "$work/render"
cp -r "$repo/infrastructure" "$work/render/infrastructure"
find "$work/render/infrastructure" \( -name .terraform -o -name '.terraform.lock.hcl' -o -name '*.tfstate*' \) -prune -exec rm -rf {} +
render_dir="$work/render/infrastructure/apps/s3-clamav-scanner"
terraform -chdir="$render_dir" init -input=false -no-color >"$work/init.log" || { cat "$work/init.log"; exit 1; }
render() { # NAME APP_VARFILE NETWORK_VARFILE: terraform show -json of a plan, in $work/render/NAME.json
    python3 - "$3" >"$work/render/$1-network.tfstate" <<'PYTHON'
# A local state with the network root's outputs, the buckets and endpoints from its var file.
import json, re, sys
text = open(sys.argv[1]).read()
def names(variable, default):
    found = re.search(variable + r"\s*=\s*\[(.*?)\]", text, re.S)
    return re.findall(r'"([^"]+)"', found.group(1)) if found else default
outputs = {
    "vpc_id": "vpc-0aaaaaaaaaaaaaaaa",
    "private_subnet_ids": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
    "scanner_security_group_id": "sg-0aaaaaaaaaaaaaaaa",
    "s3_endpoint_id": "vpce-0aaaaaaaaaaaaaaaa",
    "s3_endpoint_bucket_names": names("s3_endpoint_bucket_names", []),
    "interface_endpoint_ids": {s: "vpce-0" + str(i) * 16 for i, s in enumerate(names("interface_endpoint_services", ["events"]))},
}
types = {"interface_endpoint_ids": ["map", "string"], "private_subnet_ids": ["list", "string"], "s3_endpoint_bucket_names": ["list", "string"]}
print(json.dumps({"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "render", "resources": [],
                  "outputs": {k: {"value": v, "type": types.get(k, "string")} for k, v in outputs.items()}}))
PYTHON
    terraform -chdir="$render_dir" plan -input=false -no-color -lock=false -var-file="$2" -var "aws_endpoint_url=$moto_url" \
        -var "network_state={backend = \"local\", config = {path = \"$work/render/$1-network.tfstate\"}}" \
        -var scanned_bucket_versioning_check=off -out="$work/render/$1.plan" >"$work/render/$1.log" 2>&1 || { cat "$work/render/$1.log"; exit 1; }
    terraform -chdir="$render_dir" show -json "$work/render/$1.plan" >"$work/render/$1.json"
}
render dev "$render_dir/envs/dev.tfvars" "$work/render/infrastructure/network/envs/dev.tfvars"
render prod "$render_dir/envs/prod.tfvars" "$work/render/infrastructure/network/envs/prod.tfvars"
render limits "$work/render/infrastructure/tests/limits/app.tfvars" "$work/render/infrastructure/tests/limits/network.tfvars"
python3 infrastructure/tests/check_config.py "$work/app-state.json" "$work/render/dev.json" "$work/render/prod.json" "$work/render/limits.json"

section "destroy app, then network"
t0=$(date +%s)
destroy "$app_dir" "$work/app.tfvars" -var scan_trigger=sqs -var worker_enabled=true
destroy "$network_dir" "$work/network.tfvars"
python3 infrastructure/tests/verify_wiring.py --destroyed "$work/network-outputs.json" "$work/app-outputs.json"
echo "destroyed in $(($(date +%s) - t0)) s"

section "terraform suite: PASSED in $(($(date +%s) - started)) s"
