#!/usr/bin/env bash
# Stops the local system run/up.sh started (server, agents, containerds, registry) and
# removes their temporary directories. The server's data stays in ./.prepull-local.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${PREPULL_LOCAL_DIR:-$PWD/.prepull-local}
pidfile="$dir/pid"
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "Prepull is not running."
  rm -f "$pidfile"
  exit 0
fi
pid=$(cat "$pidfile")
if [ "$(id -u)" = 0 ]; then kill -TERM "$pid"; else sudo kill -TERM "$pid"; fi
for _ in $(seq 1 60); do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pidfile"
    echo "Prepull stopped."
    exit 0
  fi
  sleep 0.5
done
echo "Prepull (pid $pid) did not stop within 30 s; kill it with: kill -KILL $pid" >&2
exit 1
