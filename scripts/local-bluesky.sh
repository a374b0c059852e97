#!/usr/bin/env bash
# A Bluesky of your own to try the bot on: the reference PDS the tests use (tests/pds), installed
# if needed, started on 127.0.0.1 with a demo account. Prints the lines to paste into another
# shell (BSKY_SERVICE, BSKY_HANDLE, BSKY_APP_PASSWORD and a DATABASE_URL of its own, so the demo
# never touches data/bot.db), then stays in the foreground until Ctrl-C. Everything it made (the
# PDS's repo, the demo database) is removed when it stops: each start is a fresh account.
#
#   bash scripts/local-bluesky.sh            # PDS on 127.0.0.1:2583, account bwrdemo.test
#   LOCAL_PDS_PORT=2600 LOCAL_PDS_HANDLE=me.test bash scripts/local-bluesky.sh
#
# Given a command, it runs that command with those variables set instead of waiting, then stops
# and cleans up; the command's exit status is the script's. One line posts the sample issue:
#
#   bash scripts/local-bluesky.sh .venv/bin/bwr-bot post --latest --feed examples/bwr-feed.xml
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${LOCAL_PDS_PORT:-2583}
HANDLE=${LOCAL_PDS_HANDLE:-bwrdemo.test}

say() { echo "local-bluesky: $*" >&2; }

# The same installer the tests use; quick when already installed. Its stdout is KEY=VALUE lines.
say "installing the reference PDS if needed (the first time: Node from PyPI, npm packages)"
PDS_NODE="" PDS_DIR=""
while IFS= read -r line; do
  case "$line" in
    PDS_NODE=*) PDS_NODE=${line#PDS_NODE=} ;;
    PDS_DIR=*) PDS_DIR=${line#PDS_DIR=} ;;
  esac
done < <(bash tests/pds/install.sh || true)
if [ -z "$PDS_NODE" ] || [ -z "$PDS_DIR" ]; then
  say "the PDS could not be installed; run 'bash tests/pds/install.sh' to see why"
  exit 1
fi

PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || PY=$(command -v python3)
if ! "$PY" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' \
  "$PORT" 2>/dev/null; then
  say "port $PORT is in use (another local Bluesky?); choose one with LOCAL_PDS_PORT=N"
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bwr-local-bluesky.XXXXXX")
chmod 700 "$WORK"
PDS_PID=""
stop() {
  trap - INT TERM EXIT
  if [ -n "$PDS_PID" ] && kill -0 "$PDS_PID" 2>/dev/null; then
    kill -TERM "$PDS_PID" 2>/dev/null || true
    wait "$PDS_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap 'say "stopping"; stop; exit 0' INT TERM
trap stop EXIT

say "starting the PDS on 127.0.0.1:$PORT (a few seconds)"
# stdin from /dev/null: start.mjs then runs until a signal (a pipe would tie it to ours).
(cd "$PDS_DIR" && exec "$PDS_NODE" start.mjs --pds-port "$PORT" --handle "$HANDLE") \
  </dev/null >"$WORK/ready.json" 2>"$WORK/pds.log" &
PDS_PID=$!

for _ in $(seq 1 900); do  # up to 90 s
  [ -s "$WORK/ready.json" ] && break
  if ! kill -0 "$PDS_PID" 2>/dev/null; then
    say "the PDS did not start; its log:"; tail -n 20 "$WORK/pds.log" >&2; exit 1
  fi
  sleep 0.1
done
if [ ! -s "$WORK/ready.json" ]; then
  say "the PDS did not start in 90 s; its log:"; tail -n 20 "$WORK/pds.log" >&2; exit 1
fi

mkdir -m 700 "$WORK/data"
"$PY" - "$WORK/ready.json" "$WORK/data/bot.db" "$WORK/env.sh" "$#" <<'EOF'
import json, shlex, sys

ready = json.loads(open(sys.argv[1]).readline())
db = f"sqlite:///{sys.argv[2]}"
url, did = ready["url"], ready["did"]
exports = (f"export BSKY_SERVICE={shlex.quote(url)} BSKY_HANDLE={shlex.quote(ready['handle'])} \\\n"
           f"  BSKY_APP_PASSWORD={shlex.quote(ready['app_password'])} DATABASE_URL={shlex.quote(db)}")
with open(sys.argv[3], "w") as env:  # for a command given on the command line
    env.write(exports + "\n")
if sys.argv[4] != "0":
    print(f"local-bluesky: {ready['handle']} ({did}) at {url}; running the command", file=sys.stderr)
    sys.exit(0)
print(f"""
A local Bluesky is running at {url} with the account {ready['handle']} ({did}).
Paste these lines into another shell, in the bot's folder:

{exports}

There is no bsky.app here. A post the bot shows as
  https://bsky.app/profile/{did}/post/RKEY
is, on this PDS,
  {url}/xrpc/com.atproto.repo.getRecord?repo={did}&collection=app.bsky.feed.post&rkey=RKEY
and all of the account's posts, newest first:
  {url}/xrpc/com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post

Ctrl-C stops it and removes the account, its posts and the demo database.
""", flush=True)
EOF

if [ "$#" -gt 0 ]; then
  # shellcheck disable=SC1091
  . "$WORK/env.sh"
  status=0
  "$@" || status=$?
  say "stopping"
  stop
  exit "$status"
fi

wait "$PDS_PID" || true
PDS_PID=""
say "the PDS stopped by itself; its log:"
tail -n 20 "$WORK/pds.log" >&2
exit 1
