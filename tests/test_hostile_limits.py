"""Limits that hold early, and claims that know whose they are: a 9 MB paragraph is refused
before it is split, and a claim made in another container with the same host name and PID is
never taken for a dead process of this one."""

from __future__ import annotations

import subprocess
import sys

import pytest
from drivers.newsletter_feed import NewsletterServer

import bot.core.thread as thread_module
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import MAX_THREAD_CHARS, compose
from bot.errors import ThreadError
from bot.service.posting import holder_gone, process_id, this_machine


def test_a_9_mb_paragraph_is_refused_before_anything_is_split(monkeypatch):
    with NewsletterServer() as nl:
        nl.add("huge")
        nl.edit("huge", extra="word " * 1_800_000)
        data = nl.feed_bytes()
    assert len(data) > 9_000_000
    (issue,) = parse_feed(data, load_profile()).issues

    def never(*args, **kwargs):
        raise AssertionError("split was called")

    monkeypatch.setattr(thread_module, "split", never)
    with pytest.raises(ThreadError) as info:
        compose(issue, load_profile())
    message = str(info.value)
    assert f"more than a thread of 999 posts can hold ({MAX_THREAD_CHARS:,})" in message
    assert "\n" not in message


def test_an_issue_just_under_the_bound_is_still_split_as_ever():
    with NewsletterServer() as nl:
        nl.add("long")
        nl.edit("long", extra="word " * 20_000)  # 100 KB: a long issue, not an attack
        (issue,) = parse_feed(nl.feed_bytes(), load_profile()).issues
    threads = compose(issue, load_profile())
    assert sum(len(t) for t in threads) > 300


def _dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_a_dead_holder_of_this_host_and_namespace_is_gone():
    assert holder_gone(process_id(_dead_pid()), process_id())


def test_a_holder_from_another_container_with_the_same_host_and_pid_is_waited_for():
    """Another container: the same host name, a PID that is free here, its own namespace."""
    host, pid, token, _machine = process_id(_dead_pid()).split(":")
    other = f"{host}:{pid}:{token}:{'0' * 12}"
    assert this_machine() != "0" * 12
    assert not holder_gone(other, process_id())


def test_a_holder_of_an_older_release_is_waited_for():
    host, pid, token, _ = process_id(_dead_pid()).split(":")
    assert not holder_gone(f"{host}:{pid}:{token}", process_id())


def test_a_live_holder_is_not_gone():
    assert not holder_gone(process_id(), process_id())


def test_the_first_pass_over_a_huge_feed_logs_a_summary_and_commits_in_batches(
        tmp_path, caplog):
    """3,000 entries, all older than the backfill window, on an empty store: each recorded as
    seen, with 20 lines and one summary (not 3,000 lines), in a few transactions (not 3,000)."""
    import logging
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from sqlalchemy import event

    from bot.service.worker import Worker
    from bot.settings import Settings
    from bot.store.api import IssueState, Store

    base = datetime(2020, 1, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>t{n}</title><link>https://x.test/p/{n}</link><guid>g{n}</guid>"
        f"<pubDate>{format_datetime(base + timedelta(hours=n), usegmt=True)}</pubDate></item>"
        for n in range(3000))
    feed = tmp_path / "feed.xml"
    feed.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
                    "</channel></rss>")
    settings = Settings(feed_url=str(feed), database_url=f"sqlite:///{tmp_path / 'bot.db'}",
                        bsky_handle="bot.test", bsky_app_password="abcd-efgh-ijkl-mnop",
                        cards="off")
    store = Store(settings.database_url)
    store.upgrade()
    commits = []
    event.listen(store._engine, "commit", lambda conn: commits.append(1))
    caplog.set_level(logging.INFO, logger="bot")
    try:
        with Worker(settings, store, cache_dir=tmp_path / "c") as worker:
            result = worker.poll()
        assert result.new == 3000 and result.queued == 0
        assert {s.state for s in store.issues.all(feed_url=str(feed))} == {IssueState.SEEN}
    finally:
        store.close()
    recorded = [m for m in caplog.messages if m.startswith("issue.recorded ")]
    assert len(recorded) == 20
    (summary,) = [m for m in caplog.messages if m.startswith("issue.recorded_many")]
    assert "state=seen count=2980" in summary
    assert len(caplog.messages) < 40
    assert len(commits) < 15
