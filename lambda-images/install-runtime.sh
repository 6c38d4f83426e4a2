#!/bin/sh
# Prepares a Debian bookworm root file system as the runtime of one Lambda image:
# installs the packages named in a list file and creates the non-root user.
#
#   install-runtime.sh PACKAGE_LIST
#
# Both Dockerfiles run it (RUN, on debian:bookworm-slim), so the two images are
# prepared the same way.
set -eu

list=${1:?usage: install-runtime.sh PACKAGE_LIST}

# One package per line; '#' starts a comment. Versions are deliberately not pinned:
# Debian removes superseded versions from the archive (a pin breaks on the next
# security update), and the package names carry what must match the build stage, e.g.
# libclamav12 is the SONAME libclamav.so.12 that the binary was linked against.
packages=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")
if [ -z "$packages" ]; then
    echo "install-runtime: $list names no packages" >&2
    exit 1
fi

# Maintainer scripts must not start daemons (clamav-freshclam ships one) while the
# image is built; policy-rc.d answering 101 forbids it. Removed again below when we
# created it.
created_policy=false
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    created_policy=true
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # one word per package, split on purpose
apt-get install -y -qq --no-install-recommends $packages
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log

if [ "$created_policy" = true ]; then
    rm -f /usr/sbin/policy-rc.d
fi

# The functions run as this user (Lambda itself also never runs images as root).
# A fixed UID/GID so that file ownership in volumes and tests is predictable.
# (Not --system: system IDs end at 999 on Debian.)
groupadd --gid 10001 app
useradd --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin app
