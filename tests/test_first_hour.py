"""The first hour of a newcomer, without surprises: a wrong input is said before the database is
touched, a dry run logs no database upgrade, and an error about a feed names where the feed came
from (the bots file and its bot, not FEED_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import BWR_FEED, ROOT


def _bot(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("BSKY_", "FEED_URL", "BOTS_FILE", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp,
                          env={**base, "PYTHONPATH": str(ROOT), "CARDS": "off", **env},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_post_with_a_missing_feed_file_says_so_before_making_a_database(tmp_path):
    db = tmp_path / "bot.db"
    done = _bot(tmp_path, "post", "--latest", "--feed", "nope.xml",
                DATABASE_URL=f"sqlite:///{db}", BSKY_HANDLE="a.test", BSKY_APP_PASSWORD="x-y")
    assert done.returncode == 1
    assert done.stderr == "Error: feed file nope.xml does not exist: check --feed\n"
    assert not db.exists()


def test_a_dry_run_logs_no_database_upgrade(tmp_path):
    """A dry run's store is in memory: nothing is upgraded, and nothing says so."""
    done = _bot(tmp_path, "poll", FEED_URL=str(BWR_FEED), DATABASE_URL=f"sqlite:///{tmp_path}/b.db")
    assert done.returncode == 0, done.stderr
    assert "dry run" in done.stdout + done.stderr
    assert "db.upgraded" not in done.stderr
    assert not (tmp_path / "b.db").exists()


def test_a_feed_error_names_the_bots_file_and_its_bot_not_feed_url(tmp_path):
    bots = tmp_path / "bots.toml"
    bots.write_text('[[bots]]\nname = "bwr"\nfeed_url = "missing.xml"\nhandle = "bwr.test"\n'
                    'app_password_env = "PW"\n', encoding="utf-8")
    done = _bot(tmp_path, "post", "--latest", BOTS_FILE=str(bots), PW="abcd-efgh-ijkl-mnop",
                DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"Error: feed file missing.xml does not exist: check feed_url of bot 'bwr' in {bots}")
    assert not (tmp_path / "bot.db").exists()


def test_status_check_after_a_refused_password_says_each_problem_once_in_a_sentence(tmp_path):
    """The first pass was refused: one sentence that no pass has succeeded, one that Bluesky
    refused the credentials — the refusal not repeated as "the last error"."""
    from bot.service.health import check
    from bot.store.api import Store

    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", bot=None)
    store.upgrade()
    refused = "Bluesky refused the app password of bwr.test (AuthenticationRequired)"
    try:
        store.leases.record_pass("bwr", interval=300, error=refused, auth_error=refused)
        health = check(store.for_bot("bwr"), "bwr", store.now())
    finally:
        store.close()
    assert not health.ok
    assert health.line == (f"bwr: no pass has succeeded yet; Bluesky refused the credentials: "
                           f"{refused}")


def test_poll_names_the_bots_file_and_its_bot_when_their_feed_is_missing(tmp_path):
    """`poll` of a bots file whose bot reads a missing file: the error points at that bot's
    feed_url in that file, not at FEED_URL (which is not set)."""
    bots = tmp_path / "bots.toml"
    bots.write_text('[[bots]]\nname = "bwr"\nfeed_url = "missing.xml"\nhandle = "bwr.test"\n'
                    'app_password_env = "PW"\n', encoding="utf-8")
    done = _bot(tmp_path, "poll", BOTS_FILE=str(bots), DATABASE_URL=f"sqlite:///{tmp_path}/b.db")
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert last.startswith("Error: feed file missing.xml does not exist"), last
    assert last.endswith(f"check feed_url of bot 'bwr' in {bots}"), last


def test_approve_without_a_password_says_so_before_making_a_database(tmp_path):
    db = tmp_path / "bot.db"
    done = _bot(tmp_path, "approve", "--entry", "https://x.test/p/a",
                DATABASE_URL=f"sqlite:///{db}")
    assert done.returncode == 2
    assert done.stderr == ("Error: BSKY_HANDLE and BSKY_APP_PASSWORD are needed to post (or see "
                           "the thread with preview --entry LINK)\n")
    assert not db.exists()


def test_a_feed_option_without_https_says_to_add_it(tmp_path):
    done = _bot(tmp_path, "post", "--latest", "--feed", "aablanco.substack.com/feed",
                DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}")
    assert done.returncode == 1
    assert done.stderr == ("Error: aablanco.substack.com/feed is a web address without its "
                           "scheme: add https:// (https://aablanco.substack.com/feed); check "
                           "--feed\n")
