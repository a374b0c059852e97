"""`bash scripts/local-bluesky.sh`, as the README's "Try it on a local Bluesky" walks through it:
start it, paste the lines it prints, `post --latest` the sample feed, stop it with Ctrl-C."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BWR_FEED, ROOT

pytestmark = pytest.mark.pds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _exports(proc: subprocess.Popen[str]) -> tuple[dict[str, str], str]:
    """The variables of the `export …` lines the script prints once the PDS is up, and all it
    printed."""
    assert proc.stdout is not None
    text = ""
    while True:  # bounded by the script: it prints these lines or exits
        line = proc.stdout.readline()
        if not line:
            break
        text += line
        if line.startswith("Ctrl-C stops it"):
            break
    match = re.search(r"^export (.*?\n(?:  .*\n)?)", text, re.M)
    assert match, f"no export lines in:\n{text}"
    words = shlex.split(match.group(1).replace("\\\n", " "))
    return dict(w.split("=", 1) for w in words), text


def test_local_bluesky_prints_what_to_paste_and_takes_a_thread(tmp_path):
    """The printed lines are enough to post the sample issue; Ctrl-C stops it and cleans up."""
    port = _free_port()
    env = {**os.environ, "LOCAL_PDS_PORT": str(port)}
    with (tmp_path / "script.log").open("w") as log:
        proc = subprocess.Popen(
            ["bash", "scripts/local-bluesky.sh"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        exports, text = _exports(proc)
        assert exports["BSKY_SERVICE"] == f"http://localhost:{port}"
        assert exports["BSKY_HANDLE"] == "bwrdemo.test"
        assert exports["BSKY_APP_PASSWORD"]
        db = Path(exports["DATABASE_URL"].removeprefix("sqlite:///"))
        assert "/xrpc/com.atproto.repo.getRecord?repo=did:" in text  # bsky.app's local form

        bot_env = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "FEED_"))}
        # The root card's page is on the internet: a closed loopback proxy makes it fail at once
        # (the card keeps the feed's data) instead of leaving the machine.
        bot_env.update(exports, HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                       NO_PROXY="localhost,127.0.0.1", BACKFILL_HOURS="48")
        posted = subprocess.run(
            [sys.executable, "-m", "bot", "post", "--latest", "--feed", str(BWR_FEED)],
            cwd=ROOT, env=bot_env, capture_output=True, text=True, timeout=120,
        )
        assert posted.returncode == 0, posted.stderr
        assert posted.stdout.startswith(
            "Posted https://aablanco.substack.com/p/russias-eroding-influence-in-the: 17 posts\n")
        assert db.exists()

        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=60) == 0
        assert not db.parent.exists()  # the demo database went with the account
        with socket.socket() as sock:  # nothing listens there any more: the PDS stopped too
            assert sock.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        if proc.stdout:
            proc.stdout.close()
