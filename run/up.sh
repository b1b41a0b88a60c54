#!/usr/bin/env bash
# Brings up a local Prepull system on this machine and prints how to use it:
# the API server (standalone, embedded store), a registry with a demo image on
# 127.0.0.1:5000, and two nodes (node-1, node-2), each with its own containerd and
# node agent. Installs the Debian packages it needs when missing. Stop it with run/down.sh.
#
# Usage: run/up.sh            (state and logs in ./.prepull-local, or $PREPULL_LOCAL_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${PREPULL_LOCAL_DIR:-$PWD/.prepull-local}
target=${CARGO_TARGET_DIR:-$PWD/target}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
  echo "Prepull is already running (pid $(cat "$dir/pid")):"
  cat "$dir/ready" 2>/dev/null || true
  echo "Stop it with: run/down.sh"
  exit 0
fi

missing=()
[ -x /usr/bin/containerd ] || missing+=(containerd)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
[ -x /usr/bin/kubectl ] || [ -x /usr/local/bin/kubectl ] || echo "note: kubectl is not installed; you need it to use the system"
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} (Debian packages)..."
  as_root apt-get update -qq
  as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "Building prepull-apiserver, prepull-nodeagent and the launcher..."
cargo build -q -p prepull-apiserver -p prepull-nodeagent --bins --example local_system

mkdir -p "$dir"
rm -f "$dir/ready"
# containerd runs as root here (its snapshots and mounts need it), like in the test bed.
launcher=("$target/debug/examples/local_system" "$dir")
if [ "$(id -u)" != 0 ]; then launcher=(sudo "${launcher[@]}"); fi
setsid nohup "${launcher[@]}" >"$dir/local-system.log" 2>&1 </dev/null &
echo $! >"$dir/pid"

for _ in $(seq 1 240); do
  if [ -f "$dir/ready" ]; then
    echo
    cat "$dir/ready"
    echo "Stop it with: run/down.sh"
    exit 0
  fi
  if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "The local system failed to start; its log ($dir/local-system.log):" >&2
    tail -n 40 "$dir/local-system.log" >&2
    rm -f "$dir/pid"
    exit 1
  fi
  sleep 0.5
done
echo "The local system did not come up within 2 minutes; see $dir/local-system.log" >&2
exit 1
