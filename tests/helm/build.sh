#!/usr/bin/env bash
# Builds helm from the Go module helm.sh/helm/v4 (cmd/helm) at one pinned version with the
# machine's Go toolchain and module proxy, and caches the binary outside the repository.
# Prints the path of the helm binary on stdout (last line). Never downloads a prebuilt binary.
#
# Usage: build.sh               build when missing, print the binary's path
#        build.sh --cached-only print the path when the binary is cached, else fail
#
# Environment:
#   PREPULL_HELM_VERSION   override the pinned version (default below)
#   XDG_CACHE_HOME         cache root (default ~/.cache)
set -euo pipefail

version="${PREPULL_HELM_VERSION:-v4.3.2}"
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/prepull/helm/$version"
helm="$bin_dir/helm"

if [[ -x "$helm" ]]; then
    echo "$helm"
    exit 0
fi
if [[ "${1:-}" == "--cached-only" ]]; then
    echo "build.sh: helm $version is not built yet (expected at $helm; run tests/helm/build.sh)" >&2
    exit 1
fi
command -v go >/dev/null || {
    echo "build.sh: the Go toolchain is required (apt-get install golang, or put go on PATH)" >&2
    exit 1
}

export CGO_ENABLED=0
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export GOWORK=off

mkdir -p "$bin_dir"
gobin="$(mktemp -d "$bin_dir/.gobin.XXXXXX")"
trap 'rm -rf "$gobin"' EXIT
echo "build.sh: building helm $version with $(go version)" >&2
# helm's go.mod has no replace directives, so `go install module@version` builds it as
# released. The version is stamped as helm's own Makefile does.
GOBIN="$gobin" go install -trimpath \
    -ldflags "-X helm.sh/helm/v4/internal/version.version=$version" \
    "helm.sh/helm/v4/cmd/helm@$version" >&2
# Rename within one directory (atomic): no reader ever sees a partial binary.
mv -f "$gobin/helm" "$helm"
echo "$helm"
