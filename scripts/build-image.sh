#!/usr/bin/env bash
# Build the dgbox container image with podman, from a Debian bookworm base made here with
# debootstrap: no container registry is needed, only Debian's mirror and PyPI.
#
#   scripts/build-image.sh            (or `make image`)
#
# Idempotent and cached: the base is debootstrapped only when localhost/debian-base:bookworm
# is missing, and podman reuses every layer whose inputs did not change. Settings (environment):
#   IMAGE             tag of the image built (default localhost/dgbox:latest)
#   BASE_IMAGE        tag of the Debian base (default localhost/debian-base:bookworm)
#   IMAGE_NO_CACHE=1  rebuild every layer (a first build's time, for bench/image.py)
#   DEBIAN_MIRROR     mirror for debootstrap (default: the one apt already uses, else
#                     http://deb.debian.org/debian)
# podman needs runc (`--runtime runc`: crun fails on the test machines' cgroups) and the
# containers.conf that `make image-deps` writes (docs/deployment/container.md).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-localhost/dgbox:latest}"
BASE="${BASE_IMAGE:-localhost/debian-base:bookworm}"
LOCK=requirements/runtime.txt
HOST_CA=/etc/ssl/certs/ca-certificates.crt

step() { printf '\n==> %s\n' "$*"; }

apt_mirror() {
    # The first Debian (not security) URI apt is configured with, in either sources format.
    local uri
    uri=$(grep -hoE '^(URIs:|deb)[[:space:]]+\S+' /etc/apt/sources.list.d/*.sources \
            /etc/apt/sources.list 2>/dev/null | awk '{print $2}' \
          | grep -E '/debian/?$' | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

make_base() {
    local mirror rootfs
    mirror="${DEBIAN_MIRROR:-$(apt_mirror)}"
    rootfs=$(mktemp -d /var/tmp/dgbox-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' RETURN
    step "debootstrap bookworm (minbase) from $mirror (about a minute)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    # Security updates reach the image: the Containerfile runs `apt-get upgrade` on this base.
    cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian*}/debian-security bookworm-security main
SOURCES
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    step "importing the root filesystem as $BASE"
    tar -C "$rootfs" -c . | podman import - "$BASE"
}

command -v podman >/dev/null || { echo "podman is missing: run \`make image-deps\` (root)" >&2; exit 1; }
[ -f "$LOCK" ] || { echo "$LOCK is missing: see docs/deployment/container.md" >&2; exit 1; }

if podman image exists "$BASE"; then
    step "base $BASE exists (not debootstrapped again)"
else
    make_base
fi

step "building $IMAGE (unchanged layers come from podman's cache)"
start=$(date +%s)
cache=(--layers)
[ "${IMAGE_NO_CACHE:-0}" = 1 ] && cache+=(--no-cache)
podman build --runtime runc --network host "${cache[@]}" \
    -v "$HOST_CA:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt \
    --build-arg BASE="$BASE" -f Containerfile -t "$IMAGE" .
step "built $IMAGE in $(( $(date +%s) - start )) s, $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
