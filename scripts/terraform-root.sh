#!/usr/bin/env bash
# Runs Terraform in one root the way the deploy workflow does, for an environment
# ($DEPLOY_ENVIRONMENT): the state in S3 when the root has envs/<env>.s3.tfbackend
# (through backend_override.tf, see infrastructure/README.md), the workspace named
# like the environment, and envs/<env>.tfvars.
#
#   scripts/terraform-root.sh ROOT plan|apply [TERRAFORM OPTIONS...]
#   scripts/terraform-root.sh ROOT output [OPTIONS...] [NAME]
#
# Options after the command follow the var file, so `-var name=value` overrides it
# (pass the image URIs that way: TF_VAR_* variables lose against the var file). Only
# the command's own output goes to stdout (`output -raw NAME` can be captured);
# everything else to stderr.
set -euo pipefail

root=${1:?usage: terraform-root.sh ROOT plan|apply|output [OPTIONS...]}
command=${2:?usage: terraform-root.sh ROOT plan|apply|output [OPTIONS...]}
shift 2
environment=${DEPLOY_ENVIRONMENT:?DEPLOY_ENVIRONMENT names the environment (workspace, envs/<it>.tfvars)}
cd "$root"

var_file=envs/$environment.tfvars
backend_file=envs/$environment.s3.tfbackend
[ -f "$var_file" ] || { echo "terraform-root: $root/$var_file does not exist" >&2; exit 2; }

if [ ! -f .terraform/terraform.tfstate ]; then
    init=(terraform init -input=false)
    if [ -f "$backend_file" ]; then
        printf 'terraform {\n  backend "s3" {}\n}\n' >backend_override.tf
        init+=("-backend-config=$backend_file")
    fi
    "${init[@]}" >&2
fi
terraform workspace select -or-create "$environment" >&2

case "$command" in
plan) terraform plan -input=false -lock-timeout=5m -var-file="$var_file" "$@" >&2 ;;
apply) terraform apply -input=false -auto-approve -lock-timeout=5m -var-file="$var_file" "$@" >&2 ;;
output) terraform output "$@" ;;
*) echo "terraform-root: unknown command $command (plan, apply or output)" >&2; exit 2 ;;
esac
