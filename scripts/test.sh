#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: the Python env, the reference PDS (Node 22,
# tests/pds), a Postgres server, headless Chromium; then pytest. Extra arguments go to pytest.
# The first run installs what is missing: it needs root (apt-get) and the package registries
# (Debian's, PyPI, npm). A Postgres server this run started is stopped at the end; one that was
# already running is left running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
POSTGRES_STARTED=""
stop_postgres() {
  if [ -n "$POSTGRES_STARTED" ]; then
    bash scripts/postgres.sh stop "$POSTGRES_STARTED" || true
  fi
}
trap stop_postgres EXIT
for step in tests/pds/install.sh scripts/postgres.sh scripts/browser.sh; do
  if [ -f "$step" ]; then
    # Each step prints the environment variables the tests need (KEY=VALUE lines).
    while IFS= read -r line; do
      case "$line" in *=*) export "${line?}";; esac
    done < <(bash "$step")
  fi
done
status=0
.venv/bin/python -m pytest "$@" || status=$?
exit "$status"
