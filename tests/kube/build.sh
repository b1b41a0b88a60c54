#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager from the Go module k8s.io/kubernetes at one
# pinned version, with the machine's Go toolchain and module proxy, and caches the binaries
# outside the repository. Prints the directory holding both binaries on stdout (last line).
#
# Fast path: when both binaries are already cached, it only prints the directory.
# Never downloads a prebuilt binary.
#
# Usage: build.sh               build when missing, print the directory
#        build.sh --cached-only print the directory when both binaries are cached, else fail
#
# Environment:
#   PREPULL_KUBE_VERSION   override the pinned version (default below)
#   XDG_CACHE_HOME         cache root (default ~/.cache)
set -euo pipefail

version="${PREPULL_KUBE_VERSION:-v1.35.4}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/prepull/kube"
bin_dir="$cache_root/$version"
binaries=(kube-apiserver kube-controller-manager)

all_present() {
    local b
    for b in "${binaries[@]}"; do
        [[ -x "$bin_dir/$b" ]] || return 1
    done
}

if all_present; then
    echo "$bin_dir"
    exit 0
fi
if [[ "${1:-}" == "--cached-only" ]]; then
    echo "build.sh: ${binaries[*]} $version are not built yet (expected in $bin_dir)" >&2
    exit 1
fi

command -v go >/dev/null || {
    echo "build.sh: the Go toolchain is required (apt-get install golang, or put go on PATH)" >&2
    exit 1
}

# Staging modules are published as k8s.io/<m> v0.<minor>.<patch> for kubernetes v1.<minor>.<patch>.
staging_version="v0.${version#v1.}"

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/prepull-kube-build.XXXXXX")"
trap 'rm -rf "$work_dir" "$bin_dir"/.*.partial.$$' EXIT
cd "$work_dir"

export CGO_ENABLED=0
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export GOWORK=off

echo "build.sh: building ${binaries[*]} $version with $(go version) in $work_dir" >&2

# kubernetes' own go.mod lists every staging module as `k8s.io/<m> => ./staging/src/k8s.io/<m>`;
# those local replaces do not apply to a dependent module, so this module replaces each one with
# the published release of the same version.
download_json="$(go mod download -json "k8s.io/kubernetes@$version")"
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" <<<"$download_json"; }
kube_mod="$(json_field GoMod)"
kube_info="$(json_field Info)"
[[ -f "$kube_mod" ]] || { echo "build.sh: could not download k8s.io/kubernetes@$version" >&2; exit 1; }
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#\1#p' "$kube_mod" | sort -u)
(( ${#staging[@]} > 0 )) || { echo "build.sh: found no staging modules in $kube_mod" >&2; exit 1; }

{
    echo "module prepull.invalid/kubebuild"
    echo
    # The same language version and GODEBUG defaults as a build inside the kubernetes repo.
    sed -n 's/^go \(.*\)$/go \1/p' "$kube_mod" | head -n1
    sed -n '/^godebug [^(]/p' "$kube_mod"
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    for m in "${staging[@]}"; do
        echo "	$m => $m $staging_version"
    done
    echo ")"
} > go.mod
# Stamp the version as Kubernetes' own build does (hack/lib/version.sh), so /version and
# `kubectl version` report it instead of v0.0.0-master. The build date is the release's commit
# time from the module proxy, which keeps builds reproducible.
minor="${version#v1.}"; minor="${minor%%.*}"
build_date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$kube_info")"
version_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    version_ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    version_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

mkdir -p "$bin_dir"
for b in "${binaries[@]}"; do
    # Build under a temporary name and rename (atomic within one directory), so neither an
    # interrupted build nor a concurrent reader ever sees a partial binary under the final name.
    partial="$bin_dir/.$b.partial.$$"
    go build -trimpath -ldflags "$version_ldflags" -o "$partial" "k8s.io/kubernetes/cmd/$b" >&2
    mv -f "$partial" "$bin_dir/$b"
done

echo "$bin_dir"
