# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are for the scripts that source this file
# Shared by scripts/build-images.sh and Tests/suites/images.sh: where images and
# containers live, and the buildah/podman settings that work without a Docker engine
# (see docs/images.md): vfs storage, chroot isolation, runc with cgroupfs.

images_cache=${IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s3-clamav-scanner/images}
# Our own storage, so that these images never mix with other users' containers.
containers_root=${CONTAINERS_ROOT:-$images_cache/storage}
# podman refuses a runroot longer than 50 characters, so it does not follow TMPDIR (which
# scripts/test.sh points into its own, longer, work folder).
containers_runroot=${CONTAINERS_RUNROOT:-/tmp/s3-clamav-scanner-containers-$(id -u)}

# Images are named localhost/s3-clamav-scanner/PRODUCT:TAG.
image_repository=${IMAGE_REPOSITORY:-localhost/s3-clamav-scanner}
image_tag=${IMAGE_TAG:-dev}
# The base of the Dockerfiles' runtime stage, under the name their FROM resolves to;
# scripts/build-images.sh makes it with debootstrap (no image can be pulled).
base_image=docker.io/library/debian:bookworm-slim
# The products, each with lambda-images/PRODUCT/{Dockerfile,runtime-packages.txt}.
all_products=(scanner definition-updater)

storage_flags=(--root "$containers_root" --runroot "$containers_runroot" --storage-driver vfs)

export BUILDAH_ISOLATION=chroot

buildah_() { buildah "${storage_flags[@]}" "$@"; }

# crun fails here (cgroups); runc with cgroupfs works. nofile/nproc limits are set
# explicitly because the defaults are taken from a host limit that runc may refuse.
podman_() {
    podman "${storage_flags[@]}" --cgroup-manager cgroupfs --events-backend file \
        --runtime runc "$@"
}

# Options of every container we run: host network (servers on 127.0.0.1 are
# reachable), explicit limits.
run_options=(--network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

podman_run() { podman_ run --rm "${run_options[@]}" "$@"; }

image_name() { echo "$image_repository/$1:$image_tag"; }

section() { printf '\n== %s\n' "$*"; }
