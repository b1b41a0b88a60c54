#!/usr/bin/env bash
# The one command that runs every check and test of the project (CI runs exactly this).
# It installs what the tests need when it is missing (Debian packages, the kube-apiserver
# build), then runs the format check, clippy with warnings as errors, and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v etcd >/dev/null || need_packages+=(etcd-server)
command -v protoc >/dev/null || need_packages+=(protobuf-compiler)
command -v containerd >/dev/null || need_packages+=(containerd)
command -v docker-registry >/dev/null || need_packages+=(docker-registry)
command -v promtool >/dev/null || need_packages+=(prometheus)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "==> installing ${need_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

echo "==> kube-apiserver for the tests (built once, cached)"
PREPULL_KUBE_BIN_DIR="$(tests/kube/build.sh)"
export PREPULL_KUBE_BIN_DIR
echo "==> containerd 1.7 for the image-pinning test (built once, cached)"
PREPULL_CONTAINERD_1_7_BINARY="$(tests/containerd/build.sh)"
export PREPULL_CONTAINERD_1_7_BINARY

echo "==> OpenKruise for the side-by-side tests (built once, cached)"
PREPULL_KRUISE_DIR="$(tests/kruise/build.sh)"
export PREPULL_KRUISE_DIR

echo "==> helm for the chart tests (built once, cached)"
PREPULL_HELM="$(tests/helm/build.sh)"
export PREPULL_HELM

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked --no-fail-fast
