"""Nothing written where it should not be: a dry run writes no file at all; the store (which
holds the saved Bluesky session) and the folders the bot makes are its owner's alone; an editor
command goes to no feed the editor did not name."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from conftest import ROOT
from drivers.newsletter_feed import NewsletterServer

from bot.cards import CardFetcher
from bot.cli.app import cli
from bot.store.api import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_dry_run_daemon_writes_nothing_at_all(tmp_path):
    """`run` without credentials reads and composes a new issue, and leaves no database, card
    cache or any other file behind."""
    (tmp_path / "data").mkdir()
    before = _files(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BSKY_")}
    with NewsletterServer() as nl:
        nl.add("fresh", published=datetime.now(UTC) - timedelta(hours=1))
        env.update(FEED_URL=nl.feed_url, DATABASE_URL=f"sqlite:///{tmp_path / 'data' / 'bot.db'}",
                   PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stderr is not None
            lines = []
            for line in proc.stderr:  # until the first pass is done (or the daemon exits)
                lines.append(line)
                if " poll.done " in line:
                    break
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        assert nl.counts["/p/fresh"] == 1  # the card's page was fetched: composing happened
    assert any("dry run: would post" in ln for ln in lines), "".join(lines)
    assert _files(tmp_path) == before


def test_the_store_is_readable_by_its_owner_only(tmp_path):
    """A new SQLite store and its -wal and -shm files are 0600, a folder made for it 0700."""
    folder = tmp_path / "wiped" / "data"  # e.g. data/ gone with a wiped disk
    store = Store(f"sqlite:///{folder / 'bot.db'}")
    try:
        store.upgrade()
        assert store.issues.all() == []  # an open reader keeps the -wal and -shm files
        names = {p.name: _mode(p) for p in folder.iterdir()}
        assert names == {"bot.db": 0o600, "bot.db-wal": 0o600, "bot.db-shm": 0o600}
        assert _mode(folder) == 0o700
        assert _mode(folder.parent) == 0o700
    finally:
        store.close()


def test_a_store_others_can_read_is_warned_about_once(tmp_path, caplog):
    """An existing database readable by others: one warning at start-up saying how to fix it,
    not one per connection or per Store."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    Store(url).close()
    (tmp_path / "bot.db").touch()
    (tmp_path / "bot.db").chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="bot.store.engine"):
        for _ in range(2):
            store = Store(url)
            store.upgrade()
            store.close()
    warned = [r.getMessage() for r in caplog.records if "db.readable_by_others" in r.getMessage()]
    assert len(warned) == 1
    assert "mode=0644" in warned[0] and f"chmod 600 {tmp_path / 'bot.db'}" in warned[0]
    assert _mode(tmp_path / "bot.db") == 0o644  # the owner's file: told, not changed
    db = tmp_path / "bot.db"
    assert f"chmod 600 {db} {db}-wal {db}-shm" in warned[0]  # the hint names all three


def test_the_wal_and_shm_beside_a_database_others_can_read_are_owner_only(tmp_path):
    """SQLite gives -wal and -shm the database's mode; they hold the same session: 0600."""
    import sqlite3

    db = tmp_path / "bot.db"
    sqlite3.connect(db).close()  # made by hand, before the bot
    db.chmod(0o644)
    store = Store(f"sqlite:///{db}")
    try:
        store.upgrade()
        store.now()
        sides = [tmp_path / "bot.db-wal", tmp_path / "bot.db-shm"]
        assert all(p.exists() for p in sides)
        assert [_mode(p) for p in sides] == [0o600, 0o600]
    finally:
        store.close()


def test_the_card_cache_is_readable_by_its_owner_only(tmp_path):
    """The card cache folder the bot makes beside the store is 0700."""
    fetcher = CardFetcher(tmp_path / "data" / "cache")
    fetcher.close()
    assert _mode(tmp_path / "data" / "cache") == 0o700
    assert _mode(tmp_path / "data") == 0o700


def test_an_editor_command_on_an_unknown_issue_fetches_nothing_without_feed(tmp_path):
    """`skip` of an issue the database has not seen, without --feed: it says so at once and
    fetches no feed; with --feed it reads that feed and skips the issue."""
    with NewsletterServer() as nl:
        nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
        env = {"FEED_URL": nl.feed_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
               "BSKY_HANDLE": "", "BSKY_APP_PASSWORD": ""}
        for command in ("skip", "retry", "mark-posted"):
            result = CliRunner().invoke(cli, [command, "--entry", nl.link("one")], env=env)
            assert result.exit_code == 1
            assert result.stderr == (f"Error: no issue with link {nl.link('one')} in the "
                                     "database; give --feed PATH|URL to read it from the feed\n")
        assert sum(nl.counts.values()) == 0
        result = CliRunner().invoke(
            cli, ["skip", "--entry", nl.link("one"), "--feed", nl.feed_url], env=env)
        assert (result.exit_code, result.stdout) == (0, f"{nl.link('one')}: skipped\n")
        assert nl.counts["/feed"] == 1


def test_a_sqlite_file_in_a_folder_that_does_not_exist_is_refused(tmp_path):
    """DATABASE_URL naming a folder that does not exist: one line naming the file, exit 2, and
    the folder is not created."""
    missing = tmp_path / "no-such-dir" / "bot.db"
    result = CliRunner().invoke(cli, ["status"], env={"DATABASE_URL": f"sqlite:///{missing}"})
    assert result.exit_code == 2
    assert result.stderr == (f"Error: DATABASE_URL: the folder of the SQLite file {missing} does "
                             "not exist; create it or fix the path\n")
    assert not missing.parent.exists()


def test_status_before_anything_was_recorded_creates_no_database(tmp_path):
    """`status` on a fresh install says nothing is recorded yet and creates no database file."""
    db = tmp_path / "bot.db"
    result = CliRunner().invoke(cli, ["status"], env={"DATABASE_URL": f"sqlite:///{db}"})
    assert (result.exit_code, result.stdout.split(" (")[0]) == (0, "No issues recorded yet")
    assert not db.exists()
