#!/usr/bin/env bash
# Builds the Lambda runtime images without a Docker engine.
#
#   scripts/build-images.sh [--configuration release|debug] [--skip-swift-build]
#                           [--refresh-base] [--oci-dir DIR] [PRODUCT...]
#
# PRODUCT is scanner and/or definition-updater (default: both). For each product:
#
#   1. the binary is built natively, exactly as the Dockerfile's build stage does it
#      (swift build --static-swift-stdlib --product PRODUCT);
#   2. a Debian bookworm root file system comes from debootstrap (cached as a tarball
#      under $IMAGES_CACHE, ~/.cache/s3-clamav-scanner/images by default), with the
#      same apt sources as debian:bookworm-slim;
#   3. buildah runs lambda-images/install-runtime.sh with
#      lambda-images/PRODUCT/runtime-packages.txt inside it (the Dockerfile's RUN),
#      copies the binary to where the Dockerfile's COPY --from=build puts it, and takes
#      USER and ENTRYPOINT from the Dockerfile;
#   4. the result is committed as the OCI image localhost/s3-clamav-scanner/PRODUCT:TAG
#      (TAG from $IMAGE_TAG, default dev) in our own vfs storage, and with --oci-dir
#      also written as DIR/PRODUCT.oci.tar (oci-archive).
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

# --- 2. base root file system --------------------------------------------------------
base_tar=$images_cache/debian-$debian_suite-minbase.tar
if [ "$refresh_base" = true ] || [ ! -s "$base_tar" ]; then
    section "debootstrap --variant=minbase $debian_suite ($debian_mirror)"
    started=$SECONDS
    rootfs=$(mktemp -d "$images_cache/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase "$debian_suite" "$rootfs" "$debian_mirror" >"$rootfs.log" 2>&1 || {
        tail -n 30 "$rootfs.log" >&2
        exit 1
    }
    rm -f "$rootfs.log"
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
    tar --numeric-owner -C "$rootfs" -cf "$base_tar.tmp" .
    mv "$base_tar.tmp" "$base_tar"
    rm -rf "$rootfs"
    trap - EXIT
    echo "base root file system in $((SECONDS - started)) s: $base_tar"
else
    echo "base root file system: $base_tar (cached; --refresh-base to rebuild)"
fi

# --- 3./4. one image per product -----------------------------------------------------
# The value of the last INSTRUCTION line of the Dockerfile's final stage.
dockerfile_value() {
    awk -v instruction="$2" '
        toupper($1) == "FROM" { value = "" }
        toupper($1) == instruction { $1 = ""; sub(/^ +/, ""); value = $0 }
        END { print value }' "$1"
}

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
for product in "${products[@]}"; do
    dockerfile=lambda-images/$product/Dockerfile
    packages=lambda-images/$product/runtime-packages.txt
    binary=$bin_path/$product
    [ -x "$binary" ] || { echo "build-images: $binary is missing (build it, or drop --skip-swift-build)" >&2; exit 1; }

    user=$(dockerfile_value "$dockerfile" USER)
    entrypoint=$(dockerfile_value "$dockerfile" ENTRYPOINT)
    # Where the Dockerfile puts the binary: COPY --from=build SOURCE DESTINATION.
    destination=$(awk '$1 == "COPY" && $2 == "--from=build" { print $NF }' "$dockerfile" | tail -n 1)
    if [ -z "$user" ] || [ -z "$destination" ] ||
        ! python3 -c 'import json, sys; v = json.loads(sys.argv[1]); assert isinstance(v, list) and v' "$entrypoint" 2>/dev/null; then
        echo "build-images: $dockerfile needs USER, ENTRYPOINT [\"...\"] (exec form) and COPY --from=build in its final stage" >&2
        exit 1
    fi

    image=$(image_name "$product")
    section "buildah: $image"
    started=$SECONDS
    container=$(buildah_ from --quiet scratch)
    # shellcheck disable=SC2064 # expand now: the container of this iteration
    trap "buildah ${storage_flags[*]} rm $container >/dev/null 2>&1 || true" EXIT
    buildah_ add --quiet "$container" "$base_tar" /
    # debian:bookworm-slim's environment (a scratch image has none).
    buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$container"
    buildah_ copy --quiet "$container" lambda-images/install-runtime.sh "$packages" /tmp/image/
    echo "installing $packages (log: $images_cache/$product-install.log)"
    if ! buildah_ run --isolation chroot --network host "$container" -- \
        sh -c 'sh /tmp/image/install-runtime.sh /tmp/image/runtime-packages.txt && rm -rf /tmp/image' \
        >"$images_cache/$product-install.log" 2>&1; then
        tail -n 40 "$images_cache/$product-install.log" >&2
        echo "build-images: installing the runtime packages failed" >&2
        exit 1
    fi
    buildah_ copy --quiet --chmod 0755 "$container" "$binary" "$destination"
    buildah_ config \
        --user "$user" \
        --entrypoint "$entrypoint" \
        --workingdir / \
        --label "org.opencontainers.image.title=s3-clamav-scanner $product" \
        --label "org.opencontainers.image.revision=$revision" \
        --label "org.opencontainers.image.source=lambda-images/$product/Dockerfile" \
        "$container"
    buildah_ commit --quiet --format oci --rm "$container" "$image" >/dev/null
    trap - EXIT
    if [ -n "$oci_dir" ]; then
        mkdir -p "$oci_dir"
        rm -f "$oci_dir/$product.oci.tar"
        buildah_ push --quiet "$image" "oci-archive:$oci_dir/$product.oci.tar:$image"
        echo "wrote $oci_dir/$product.oci.tar"
    fi
    size=$(buildah_ images --format '{{.Size}}' "$image" | head -n 1)
    echo "built $image ($size) in $((SECONDS - started)) s: user $user, entrypoint $entrypoint"
done

# Images replaced by this build (same name and tag) are now dangling: remove them so
# that the vfs storage (full copies, no layer sharing) does not grow with every build.
buildah_ rmi --prune >/dev/null 2>&1 || true
