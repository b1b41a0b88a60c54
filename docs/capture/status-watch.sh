#!/usr/bin/env bash
# Makes docs/status-watch.png: a frame that `kubectl prepull status --watch` printed in the
# middle of a real pull (the plugin's test with real agents: three nodes with containerd, a
# 4 MiB layer behind a 1 MiB/s link), drawn as a terminal window.
# Needs what the tests need, plus Pillow (installed into a cached venv) and DejaVu fonts.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${XDG_CACHE_HOME:-$HOME/.cache}/prepull/capture-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import PIL' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'pillow>=10,<12'
fi
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ]; then
  apt-get install -y -qq fonts-dejavu-core >/dev/null
fi
frame="$(mktemp)"
trap 'rm -f "$frame"' EXIT
PREPULL_CAPTURE_FRAME="$frame" cargo test -q -p prepull-kubectl-plugin --test with_real_agents >/dev/null
"$venv/bin/python" docs/capture/render.py "$frame" docs/status-watch.png \
  "kubectl prepull status big -n apps --watch"
echo "wrote docs/status-watch.png"
