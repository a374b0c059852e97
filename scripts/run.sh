#!/usr/bin/env bash
# Sets everything up and runs the bot's daemon. Without BSKY_HANDLE/BSKY_APP_PASSWORD (in the
# environment or .env) it runs as a dry run: it reads the feed and composes, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m bot run "$@"
