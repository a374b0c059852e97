#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: the Python env, the reference PDS (Node 22,
# tests/pds), a Postgres server, headless Chromium; then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for step in tests/pds/install.sh scripts/postgres.sh scripts/browser.sh; do
  if [ -f "$step" ]; then
    # Each step prints the environment variables the tests need (KEY=VALUE lines).
    while IFS= read -r line; do
      case "$line" in *=*) export "${line?}";; esac
    done < <(bash "$step")
  fi
done
exec .venv/bin/python -m pytest "$@"
