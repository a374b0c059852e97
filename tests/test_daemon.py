"""The daemon (`python -m bot run`): backoff after failures, and the real process surviving a
failing feed and stopping cleanly on SIGTERM; with credentials it posts and stops cleanly."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from drivers.newsletter_feed import NewsletterServer

from bot.service.daemon import DRY_RUN_NOTICE, BotRunner
from bot.service.worker import Worker
from bot.settings import PROJECT_ROOT, Settings
from bot.store.api import Store


def bot_env(feed_url: str, db: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process: this feed and database; no credentials unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "BACKFILL"))}
    env.update(FEED_URL=feed_url, DATABASE_URL=f"sqlite:///{db}", BSKY_HANDLE="",
               BSKY_APP_PASSWORD="", POLL_INTERVAL="10", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start_bot(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    """The log once it holds `text`; fails (with the log) if the process ends or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if text in content:
            return content
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    pytest.fail(f"{text!r} never appeared; the process said:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the daemon did not stop within 60 s of SIGTERM")


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def test_backoff_doubles_after_failures_up_to_cap_and_recovers(nl, tmp_path, caplog):
    """A failing pass doubles the wait (to a cap); a good pass resets it. The outage is one log
    line, not one per pass."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    settings = Settings(feed_url=nl.feed_url, database_url=url, poll_interval=10)
    store = Store(url)
    store.upgrade()
    worker = Worker(settings, store, cache_dir=tmp_path / "cache", feed_options={"retries": 0})
    daemon = BotRunner(settings, worker, max_interval=35)
    nl.fail_with(500)
    intervals = []
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            daemon.run_pass()
            intervals.append(daemon.interval)
        nl.fail_with(None)
        daemon.run_pass()
    intervals.append(daemon.interval)
    assert intervals == [20, 35, 35, 10]
    failed = [m for m in caplog.messages if m.startswith("poll.failed")]
    assert len(failed) == 1
    assert f"feed={nl.feed_url}" in failed[0] and "HTTP 500" in failed[0]
    # The good pass says what it did, in one line (a dry run: no credentials).
    done = [m for m in caplog.messages if m.startswith("poll.done")]
    assert done == [f"poll.done feed={nl.feed_url} fetched=fetched new=0 posted=0"]
    worker.close()
    store.close()


def test_run_survives_failing_feed_and_stops_cleanly_on_sigterm(nl, tmp_path):
    """`run` with a feed answering 500 logs the problem, keeps running, and exits 0 on SIGTERM."""
    nl.fail_with(500)
    log = tmp_path / "run.log"
    proc = start_bot(["run"], bot_env(nl.feed_url, tmp_path / "bot.db"), log)
    wait_for(log, "poll.failed", proc, timeout=90)
    assert proc.poll() is None  # still running after the failure
    code = stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert DRY_RUN_NOTICE in text
    assert "daemon.backoff" in text and "daemon.stopped" in text
    assert "Traceback" not in text
    assert nl.counts["/feed"] >= 1


@pytest.mark.pds
def test_run_posts_new_issue_and_stops_cleanly(nl, tmp_path, pds):
    """`run` with credentials posts a new issue's thread once, then exits 0 on SIGTERM."""
    acct = pds.new_account("drun")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    log = tmp_path / "run.log"
    env = bot_env(nl.feed_url, tmp_path / "bot.db", BSKY_SERVICE=pds.url,
                  BSKY_HANDLE=acct.handle, BSKY_APP_PASSWORD=acct.app_password)
    proc = start_bot(["run"], env, log)
    text = wait_for(log, "thread.posted", proc, timeout=120)
    assert f"link={nl.link('one')}" in text
    code = stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert DRY_RUN_NOTICE not in text
    assert acct.app_password not in text
    records = pds.list_records(acct.did)
    assert len([r for r in records if "reply" not in r["value"]]) == 1


def test_runs_skipped_behind_a_slow_pass_are_one_line_not_one_each(nl, tmp_path, caplog):
    """A pass slower than the bot's interval (the feed answers late) makes the scheduler skip
    the runs that fall due meanwhile: expected, so it is said once (with the count), and
    APScheduler's own warning for each skipped run is not logged."""
    import threading

    from bot.service.daemon import Daemon
    from bot.service.fleet import Fleet

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    # An interval of 1 s (the environment allows 10 at least), so a few slow passes suffice.
    settings = Settings(feed_url=nl.feed_url, database_url=url, poll_interval=1)
    store = Store(url)
    store.upgrade()
    nl.slow_seconds = 2.5
    nl.inject(lambda: "slow")
    daemon = Daemon(Fleet([settings], store, cache_dir=tmp_path / "cache"), daemon="host:1:t")
    running = threading.Thread(target=daemon.run, name="daemon")
    with caplog.at_level(logging.INFO):
        running.start()
        try:
            deadline = time.monotonic() + 60
            while daemon.skipped.get(settings.name, 0) < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            daemon.stop()
            running.join(60)
        store.close()
    assert daemon.skipped[settings.name] >= 4  # runs were skipped behind the slow passes
    said = [m for m in caplog.messages if m.startswith("daemon.runs_skipped")]
    assert said == [f'daemon.runs_skipped bot={settings.name} skipped=1 note="the previous pass '
                    'was still running; said at most once an hour"']
    assert not [m for m in caplog.messages if "maximum number of running instances" in m
                or "was missed by" in m]
