#!/usr/bin/env bash
# Makes sure Debian's headless Chromium is installed, for the browser tests (tests/test_browser.py).
# Prints only `CHROMIUM=/usr/bin/chromium` on stdout (scripts/test.sh exports it); progress goes to
# stderr. Another step may be using apt at the same time, so apt is retried while dpkg is locked.
set -euo pipefail
CHROMIUM=/usr/bin/chromium

apt_retry() {
  # apt-get waits on the lock itself for a while (DPkg::Lock::Timeout); retry a few times beyond it.
  local try
  for try in 1 2 3 4 5 6; do
    if apt-get -o DPkg::Lock::Timeout=120 "$@" >&2; then
      return 0
    fi
    echo "browser.sh: apt-get $* failed (try $try), retrying in 10 s" >&2
    sleep 10
  done
  return 1
}

if [ ! -x "$CHROMIUM" ]; then
  echo "browser.sh: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_retry update -q
  apt_retry install -y -q --no-install-recommends chromium fonts-dejavu-core fonts-noto-color-emoji
fi
"$CHROMIUM" --version >&2
echo "CHROMIUM=$CHROMIUM"
