#!/usr/bin/env bash
# Builds containerd (cmd/containerd, with its CRI plugin) from the Go module
# github.com/containerd/containerd at one pinned 1.7 release, with the machine's Go toolchain and
# module proxy, and caches the binary outside the repository. Prints the binary's path on stdout
# (last line). Debian 12 ships containerd 1.6, whose CRI ignores the `io.cri-containerd.pinned`
# label; the pinning test needs a containerd that reports pinned images to kubelet (1.7+).
#
# Fast path: when the binary is cached, it only prints its path. Never downloads a prebuilt
# binary.
#
# Environment:
#   PREPULL_CONTAINERD_VERSION  override the pinned version (default below)
#   XDG_CACHE_HOME              cache root (default ~/.cache)
set -euo pipefail

version="${PREPULL_CONTAINERD_VERSION:-v1.7.29}"
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/prepull/containerd/$version"
binary="$bin_dir/containerd"

if [[ -x "$binary" ]]; then
    echo "$binary"
    exit 0
fi
command -v go >/dev/null || {
    echo "build.sh: the Go toolchain is required (apt-get install golang, or put go on PATH)" >&2
    exit 1
}

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/prepull-containerd-build.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT
cd "$work_dir"
# `go install ...@version` refuses the module (its go.mod has an exclude directive); a private
# main module requiring it, with the same exclude, builds it.
cat > go.mod <<MOD
module prepull.io/containerd-build

go 1.21

require github.com/containerd/containerd $version

exclude github.com/mitchellh/osext v0.0.0-20151018003038-5e2d6d41470f
MOD
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
echo "build.sh: building containerd $version (once; cached in $bin_dir)" >&2
go mod download github.com/containerd/containerd >&2
mkdir -p "$bin_dir"
go build -trimpath -tags "no_btrfs no_devmapper no_zfs no_aufs" \
    -o "$binary.partial.$$" github.com/containerd/containerd/cmd/containerd >&2
mv "$binary.partial.$$" "$binary"
echo "$binary"
