"""`post --entry LINK` (bot.editor.post_one) after a crash, against the reference PDS and a
newsletter on loopback: the interrupted thread is completed, never written twice."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, datetime, timedelta

import pytest
from drivers.newsletter_feed import NewsletterServer
from test_worker import make_worker, settings_for

from bot.editor import post_one
from bot.news import record_issue
from bot.profile import load_profile
from bot.reader import parse_feed
from bot.store import IssueState, Store


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def separate_profile():
    p = load_profile()
    return dataclasses.replace(p, thread=dataclasses.replace(p.thread, quick_bites="separate"))


def dead_pid() -> int:
    """A pid no process on this host has (the holder of a claim left by a killed post)."""
    pid = 4_000_000
    while True:
        try:
            import os

            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid -= 1


def roots(records: list[dict]) -> list[str]:
    return [r["uri"] for r in records if "reply" not in r["value"]]


def crashed_between_threads(worker, nl, store):
    """The state a kill leaves between the two threads of a 'separate' issue, before the store
    learnt of the first: its first thread on Bluesky, the issue posting, claimed by a dead
    process."""
    issue = next(i for i in parse_feed(nl.feed_bytes(), worker.profile).issues
                 if i.link == nl.link("one"))
    stored = record_issue(store, nl.feed_url, issue, IssueState.QUEUED).issue
    holder = f"{socket.gethostname()}:{dead_pid()}:dead00"
    assert store.claim(stored.id, holder, 600)
    stored = store.mark_posting(stored.id, holder)
    threads = worker.compose(issue)
    assert len(threads) == 2
    keys = worker.keys(stored, threads)
    worker.publisher.publish(threads[0], keys[0], link=issue.link)
    return stored, threads


@pytest.mark.pds
@pytest.mark.parametrize("force", [False, True])
def test_post_after_a_kill_between_two_threads_completes_the_issue(nl, db_url, tmp_path, pds,
                                                                    force):
    """`post` (with or without --force) after a kill between the issue's two threads writes the
    quick bites thread once, and no second copy of the first."""
    acct = pds.new_account("edsep")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    store = Store(db_url)
    store.upgrade()
    settings = settings_for(nl.feed_url, db_url, pds.url, acct)
    with make_worker(settings, store, tmp_path, profile=separate_profile()) as worker:
        stored, threads = crashed_between_threads(worker, nl, store)
        assert len(pds.list_records(acct.did)) == len(threads[0])
        _, outcome, _ = post_one(worker, entry=nl.link("one"), force=force)
    records = pds.list_records(acct.did)
    assert len(records) == len(threads[0]) + len(threads[1])
    assert len(roots(records)) == 2
    assert outcome.outcome == "posted"
    assert sorted(outcome.roots) == sorted(roots(records))
    after = store.issue(stored.id)
    assert after.state is IssueState.POSTED and after.generation == 0
    assert len(store.posts(stored.id)) == len(records)
    store.close()


@pytest.mark.pds
def test_post_after_a_lost_database_completes_a_half_posted_issue(nl, db_url, tmp_path, pds):
    """With the database lost after the first of the issue's two threads, `post` writes the
    quick bites thread and does not call the issue posted before it is there."""
    acct = pds.new_account("edlost")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    lost = Store(f"sqlite:///{tmp_path / 'lost.db'}")
    lost.upgrade()
    settings = settings_for(nl.feed_url, db_url, pds.url, acct)
    with make_worker(settings, lost, tmp_path, profile=separate_profile()) as worker:
        _, threads = crashed_between_threads(worker, nl, lost)
    lost.close()
    store = Store(db_url)
    store.upgrade()
    with make_worker(settings, store, tmp_path, profile=separate_profile()) as worker:
        _, outcome, _ = post_one(worker, entry=nl.link("one"))
    records = pds.list_records(acct.did)
    assert len(records) == len(threads[0]) + len(threads[1])
    assert (outcome.outcome, sorted(outcome.roots)) == ("posted", sorted(roots(records)))
    stored = store.find_by_link(nl.link("one"))
    assert stored is not None and stored.state is IssueState.POSTED
    assert len(store.posts(stored.id)) == len(records)
    store.close()
