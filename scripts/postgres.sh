#!/usr/bin/env bash
# A Postgres server for the test suite, on loopback only, with its data in .cache/pg (ignored).
# Installs Debian's `postgresql` package if no server binaries exist, initialises the cluster once,
# starts it if it is not running, and makes a `bot` role and database. Idempotent.
# stdout: DATABASE_URL_POSTGRES=postgresql+psycopg://..., and POSTGRES_STARTED=DATA_DIR when this
# run started the server (scripts/test.sh then stops it: `bash scripts/postgres.sh stop DATA_DIR`);
# progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"; return 0
  fi
  return 1
}

if [ "${1:-}" = stop ]; then  # stop the server of this data dir (one that test.sh started)
  BIN=$(find_bindir)
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$BIN/pg_ctl" -D "$2" -m fast -w stop >&2
  else
    "$BIN/pg_ctl" -D "$2" -m fast -w stop >&2
  fi
  exit 0
fi

BIN=$(find_bindir || true)
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "no Postgres server binaries and not root: install Debian's postgresql package first"; exit 1
  fi
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y postgresql >&2
  BIN=$(find_bindir) || { log "postgresql installed but no server binaries found"; exit 1; }
fi
log "server binaries in $BIN"

# root cannot run initdb or postgres: run them as the postgres user (or as ourselves when not root).
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  as_pg() { runuser -u postgres -- "$@"; }
  OWNER=postgres
else
  as_pg() { "$@"; }
  OWNER=$(id -un)
fi

# The cluster lives in the checkout's ignored .cache/pg when the server's user can reach it there;
# otherwise (a checkout under a private home) in /var/tmp, keyed by the checkout's path.
BASE="$ROOT/.cache/pg"
mkdir -p "$BASE"
chown "$OWNER" "$BASE"
if ! as_pg test -w "$BASE"; then
  BASE="/var/tmp/bwr-bot-pg-$(echo -n "$ROOT" | sha256sum | cut -c1-12)"
  mkdir -p "$BASE" && chown "$OWNER" "$BASE" && chmod 700 "$BASE"
  log "checkout not reachable by $OWNER; cluster in $BASE"
fi
DATA="$BASE/data"
SOCK="$BASE/run"
as_pg mkdir -p "$SOCK"

# A password for the loopback login, made once and kept beside the cluster.
PWFILE="$BASE/bot.password"
if [ ! -s "$PWFILE" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PWFILE")
fi
PASSWORD=$(cat "$PWFILE")

# A port chosen once (a fixed one when free) and kept, so the URL is stable between runs.
PORTFILE="$BASE/port"
port_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}
if [ ! -s "$PORTFILE" ]; then
  PORT=54329
  while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
  echo "$PORT" >"$PORTFILE"
fi
PORT=$(cat "$PORTFILE")

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "initialising a cluster in $DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >&2 2>&1 || as_pg "$BIN/initdb" -D "$DATA" -U postgres \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >&2
  # A throwaway test server: durability is not needed, speed is.
  cat <<EOF | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
fi

if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "server already running on 127.0.0.1:$PORT"
else
  if ! port_free "$PORT"; then
    # Taken while this server was stopped (test.sh stops what it started): choose another.
    old_port=$PORT
    while ! port_free "$PORT"; do PORT=$((PORT + 1)); done
    echo "$PORT" >"$PORTFILE"
    log "port $old_port is taken by something else; using $PORT"
  fi
  log "starting the server on 127.0.0.1:$PORT"
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$BASE/server.log" -o "-p $PORT" -w -t 60 start >&2
  echo "POSTGRES_STARTED=$DATA"
fi

psql_pg() { as_pg "$BIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'bot'")" != 1 ]; then
  psql_pg -c "CREATE ROLE bot LOGIN CREATEDB PASSWORD '$PASSWORD'" >&2
else
  psql_pg -c "ALTER ROLE bot LOGIN CREATEDB PASSWORD '$PASSWORD'" >&2
fi
if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'bot'")" != 1 ]; then
  psql_pg -c "CREATE DATABASE bot OWNER bot" >&2
fi

echo "DATABASE_URL_POSTGRES=postgresql+psycopg://bot:$PASSWORD@127.0.0.1:$PORT/bot"
