#!/usr/bin/env bash
# The side-by-side benchmark (see bench/README.md): kube-apiserver with the three kinds as CRDs
# and Prepull's API server, each on its own etcd, the same load from one generator, figures to
# bench/results/<date>.{json,md} and two PNG charts. Arguments go to prepull-bench
# (`bench/run.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v etcd >/dev/null || need_packages+=(etcd-server)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_packages+=(fonts-dejavu-core)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "==> installing ${need_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

echo "==> kube-apiserver (built once, cached)"
PREPULL_KUBE_BIN_DIR="$(tests/kube/build.sh)"
export PREPULL_KUBE_BIN_DIR

echo "==> release build of prepull-apiserver and prepull-bench"
cargo build --release --locked -p prepull-apiserver -p prepull-bench

echo "==> benchmark"
exec target/release/prepull-bench "$@"
