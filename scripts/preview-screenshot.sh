#!/usr/bin/env bash
# Re-makes docs/preview.png, the README's picture of the seed issue's preview page: runs
# `preview --html` on the seed feed (offline, as a dry run) and has headless Chromium photograph
# the top of the page. Usage: bash scripts/preview-screenshot.sh [OUT.png] [HEIGHT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/preview.png}
height=${2:-1480}
eval "$(bash scripts/browser.sh)"  # sets CHROMIUM
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
env -u BSKY_HANDLE -u BSKY_APP_PASSWORD .venv/bin/python -m bot preview \
  --feed examples/bwr-feed.xml --latest --html "$work/preview.html" >/dev/null
mkdir -p "$(dirname "$out")"
# The flags keep Chromium from reaching out at start, which the closed network refuses.
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --hide-scrollbars --window-size="680,$height" \
  --screenshot="$(realpath -m "$out")" "file://$work/preview.html" 2>"$work/chromium.log" \
  || { cat "$work/chromium.log" >&2; exit 1; }
echo "wrote $out" >&2
