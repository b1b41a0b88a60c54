#!/usr/bin/env bash
# Builds OpenKruise's kruise-manager and kruise-daemon from the Go module
# github.com/openkruise/kruise at one pinned version, with the machine's Go toolchain and module
# proxy, and caches the binaries, the CRDs (config/crd/bases) and the rendered webhook
# configurations (config/webhook) outside the repository. Prints the cache directory on stdout
# (last line). Nothing of Kruise is ever committed to this repository.
#
# Fast path: when everything is already cached, it only prints the directory.
# Never downloads a prebuilt binary.
#
# Usage: build.sh               build when missing, print the directory
#        build.sh --cached-only print the directory when everything is cached, else fail
#
# Environment:
#   PREPULL_KRUISE_VERSION override the pinned version (default below)
#   XDG_CACHE_HOME         cache root (default ~/.cache)
set -euo pipefail

version="${PREPULL_KRUISE_VERSION:-v1.9.0}"
module="github.com/openkruise/kruise"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/prepull/kruise"
out_dir="$cache_root/$version"
# The last thing written; its presence means the whole directory is complete.
complete_marker="$out_dir/webhooks.yaml"

if [[ -x "$out_dir/kruise-manager" && -x "$out_dir/kruise-daemon" \
      && -d "$out_dir/crds" && -f "$complete_marker" ]]; then
    echo "$out_dir"
    exit 0
fi
if [[ "${1:-}" == "--cached-only" ]]; then
    echo "build.sh: OpenKruise $version is not built yet (expected in $out_dir)" >&2
    exit 1
fi

command -v go >/dev/null || {
    echo "build.sh: the Go toolchain is required (apt-get install golang, or put go on PATH)" >&2
    exit 1
}
command -v kubectl >/dev/null || {
    echo "build.sh: kubectl is required (its built-in kustomize renders config/webhook)" >&2
    exit 1
}

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/prepull-kruise-build.XXXXXX")"
trap 'chmod -R u+w "$work_dir" 2>/dev/null; rm -rf "$work_dir" "$out_dir"/.*.partial.$$' EXIT

export CGO_ENABLED=0
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export GOWORK=off

echo "build.sh: building OpenKruise $version with $(go version) in $work_dir" >&2

# The module source from the module proxy (the same tree as the git tag). Kruise's go.mod has
# replace directives, which only apply to the main module: so build inside a writable copy of
# the module rather than as a dependency.
download_json="$(cd "$work_dir" && go mod download -json "$module@$version")"
module_dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$download_json")"
for needed in main.go cmd/daemon config/crd/bases config/webhook; do
    [[ -e "$module_dir/$needed" ]] || {
        echo "build.sh: $module@$version has no $needed (module dir: '$module_dir')" >&2
        exit 1
    }
done
src="$work_dir/src"
cp -r "$module_dir" "$src"
chmod -R u+w "$src"
cd "$src"

mkdir -p "$out_dir"
build() { # name package
    local partial="$out_dir/.$1.partial.$$"
    go build -trimpath -o "$partial" "$2" >&2
    mv -f "$partial" "$out_dir/$1"
}
build kruise-manager .
build kruise-daemon ./cmd/daemon

rm -rf "$out_dir/crds" "$out_dir/.crds.partial.$$"
mkdir "$out_dir/.crds.partial.$$"
cp config/crd/bases/*.yaml "$out_dir/.crds.partial.$$/"
mv "$out_dir/.crds.partial.$$" "$out_dir/crds"

# The webhook configurations as `config/default` names them (its namePrefix is `kruise-`):
# kruise-manager looks them up by these names to fill in their clientConfig.
kubectl kustomize config/webhook 2>/dev/null \
    | sed -e 's/^  name: mutating-webhook-configuration$/  name: kruise-mutating-webhook-configuration/' \
          -e 's/^  name: validating-webhook-configuration$/  name: kruise-validating-webhook-configuration/' \
    > "$out_dir/.webhooks.yaml.partial.$$"
grep -q 'name: kruise-validating-webhook-configuration' "$out_dir/.webhooks.yaml.partial.$$" || {
    echo "build.sh: rendering config/webhook gave no kruise-validating-webhook-configuration" >&2
    exit 1
}
mv -f "$out_dir/.webhooks.yaml.partial.$$" "$complete_marker"

echo "$out_dir"
