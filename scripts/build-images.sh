#!/usr/bin/env bash
# Builds the Lambda images from lambda-images/PRODUCT/Dockerfile with buildah, without
# a Docker engine and without pulling any image.
#
#   scripts/build-images.sh [--configuration release|debug] [--skip-swift-build]
#                           [--refresh-base] [--oci-dir DIR] [PRODUCT...]
#
# PRODUCT is scanner and/or definition-updater (default: both).
#
#   1. The binaries are built natively, as the Dockerfile's build stage builds them
#      (swift build -c release --static-swift-stdlib --product PRODUCT), because the
#      swift:6.3-bookworm image of that stage cannot be pulled here.
#   2. debian:bookworm-slim, the base of the Dockerfile's runtime stage, is made with
#      debootstrap --variant=minbase (same release, same apt sources) and stored under
#      that name in our own buildah storage; later builds reuse it (--refresh-base
#      makes it again).
#   3. buildah bud builds the Dockerfile itself with --build-arg BINARY_SOURCE=prebuilt
#      and the binaries folder as the build context "binaries": every instruction of
#      the runtime stage runs as written (COPY, RUN install-runtime.sh, USER,
#      ENTRYPOINT); only the Swift build stage is skipped.
#   4. The result is localhost/s3-clamav-scanner/PRODUCT:TAG (TAG from $IMAGE_TAG,
#      default dev) in that storage (~/.cache/s3-clamav-scanner/images/storage), and
#      with --oci-dir also DIR/PRODUCT.oci.tar (oci-archive).
#
# Needs root (debootstrap, buildah with vfs storage) and network access to the Debian
# mirror ($DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/containers.sh
source scripts/lib/containers.sh

configuration=release
skip_swift_build=false
refresh_base=false
oci_dir=
products=()
while (($#)); do
    case "$1" in
    --configuration) configuration=${2:?--configuration needs release or debug}; shift 2 ;;
    --skip-swift-build) skip_swift_build=true; shift ;;
    --refresh-base) refresh_base=true; shift ;;
    --oci-dir) oci_dir=${2:?--oci-dir needs a directory}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-images: unknown option $1" >&2; exit 2 ;;
    *) products+=("$1"); shift ;;
    esac
done
((${#products[@]})) || products=("${all_products[@]}")
case "$configuration" in
release | debug) ;;
*) echo "build-images: --configuration must be release or debug" >&2; exit 2 ;;
esac
for product in "${products[@]}"; do
    [ -f "lambda-images/$product/Dockerfile" ] || {
        echo "build-images: no lambda-images/$product/Dockerfile" >&2
        exit 2
    }
done

debian_suite=bookworm
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
debian_security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
mkdir -p "$images_cache"

# --- 1. native binaries ---------------------------------------------------------------
# Release builds share .build-release with the other release builds of the project;
# debug builds with a static standard library get their own scratch path.
scratch_path=.build-release
[ "$configuration" = release ] || scratch_path=.build-static-$configuration
swift_build=(swift build -c "$configuration" --static-swift-stdlib --scratch-path "$scratch_path")
if [ "$skip_swift_build" = false ]; then
    for product in "${products[@]}"; do
        section "swift build -c $configuration --static-swift-stdlib --product $product"
        started=$SECONDS
        # Two cores are shared by everyone on the build machine: one Swift build at a time.
        flock /tmp/swift-build.lock "${swift_build[@]}" --product "$product"
        echo "built $product in $((SECONDS - started)) s (including waiting for the build lock)"
    done
fi
bin_path=$("${swift_build[@]}" --show-bin-path)

# --- 2. debian:bookworm-slim ------------------------------------------------------------
# The name the Dockerfiles' FROM resolves to; buildah finds it in its storage and, with
# --pull=never below, never asks a registry.
if [ "$refresh_base" = true ] || ! buildah_ inspect --type image "$base_image" >/dev/null 2>&1; then
    section "$base_image from debootstrap --variant=minbase $debian_suite ($debian_mirror)"
    started=$SECONDS
    rootfs=$(mktemp -d "$images_cache/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
    debootstrap --variant=minbase "$debian_suite" "$rootfs" "$debian_mirror" >"$rootfs.log" 2>&1 || {
        tail -n 30 "$rootfs.log" >&2
        exit 1
    }
    # The apt sources of debian:bookworm-slim (release, updates, security), so that the
    # runtime packages come in the same versions as in the Docker build.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $debian_mirror
Suites: $debian_suite $debian_suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $debian_security_mirror
Suites: $debian_suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    container=$(buildah_ from --quiet scratch)
    buildah_ add --quiet "$container" "$rootfs" /
    # The configuration of debian:bookworm-slim (a scratch image has none).
    buildah_ config \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd '["bash"]' \
        --label "org.opencontainers.image.description=debootstrap --variant=minbase $debian_suite by scripts/build-images.sh, standing in for debian:bookworm-slim" \
        "$container"
    buildah_ commit --quiet --format oci --rm "$container" "$base_image" >/dev/null
    rm -rf "$rootfs" "$rootfs.log"
    trap - EXIT
    echo "$base_image made in $((SECONDS - started)) s"
else
    echo "$base_image: made $(buildah_ inspect --type image --format '{{.OCIv1.Created}}' "$base_image" | cut -d. -f1) (--refresh-base to make it again)"
fi

# --- 3./4. one image per product: the Dockerfile, the binary from the build context ------
# Only the binaries go into the "binaries" context, not the scratch path's build files.
binaries=$(mktemp -d "$images_cache/binaries.XXXXXX")
trap 'rm -rf "$binaries"' EXIT
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
for product in "${products[@]}"; do
    [ -x "$bin_path/$product" ] || { echo "build-images: $bin_path/$product is missing (build it, or drop --skip-swift-build)" >&2; exit 1; }
    cp "$bin_path/$product" "$binaries/"
done
for product in "${products[@]}"; do
    image=$(image_name "$product")
    section "buildah bud -f lambda-images/$product/Dockerfile: $image"
    started=$SECONDS
    containers_before=$(buildah_ containers --quiet --notruncate | sort)
    # --network host: the RUN steps reach the Debian mirror (chroot isolation has no
    # network namespace of its own anyway).
    status=0
    buildah_ bud --pull=never --network host --format oci \
        --build-arg BINARY_SOURCE=prebuilt --build-context "binaries=$binaries" \
        --label "org.opencontainers.image.revision=$revision" \
        -f "lambda-images/$product/Dockerfile" -t "$image" . >"$images_cache/$product-build.log" 2>&1 || status=$?
    # buildah 1.28 leaves a working container behind for the "binary" stage (a FROM with
    # no instructions); remove the ones this build made, or each build pins a copy of the
    # binary in the vfs storage.
    comm -13 <(echo "$containers_before") <(buildah_ containers --quiet --notruncate | sort) |
        xargs -r buildah "${storage_flags[@]}" rm >/dev/null
    if [ "$status" != 0 ]; then
        tail -n 40 "$images_cache/$product-build.log" >&2
        echo "build-images: buildah bud -f lambda-images/$product/Dockerfile failed (log: $images_cache/$product-build.log)" >&2
        exit 1
    fi
    if [ -n "$oci_dir" ]; then
        mkdir -p "$oci_dir"
        rm -f "$oci_dir/$product.oci.tar"
        buildah_ push --quiet "$image" "oci-archive:$oci_dir/$product.oci.tar:$image"
        echo "wrote $oci_dir/$product.oci.tar"
    fi
    size=$(buildah_ images --format '{{.Size}}' "$image" | head -n 1)
    echo "built $image ($size) in $((SECONDS - started)) s (log: $images_cache/$product-build.log)"
done

# Images replaced by this build (same name and tag) and the intermediate stages are now
# dangling: remove them so that the vfs storage (full copies, no layer sharing) does not
# grow with every build.
buildah_ rmi --prune >/dev/null || echo "build-images: warning: dangling images were not removed" >&2
