"""`post --entry LINK` (bot.service.editor.post_one) after a crash, against the reference PDS and a
newsletter on loopback: the interrupted thread is completed, never written twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bluesky_helpers import publisher as make_publisher
from drivers.newsletter_feed import NewsletterServer
from test_worker import (
    crashed_between_threads,
    make_worker,
    roots,
    separate_profile,
    settings_for,
)

from bot.service.editor import post_one
from bot.store.api import IssueState

APPLY = "com.atproto.repo.applyWrites"


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


@pytest.mark.pds
@pytest.mark.parametrize("force", [False, True])
def test_post_after_a_kill_between_two_threads_completes_the_issue(nl, store, db_url, tmp_path,
                                                                    pds, force):
    """`post` (with or without --force) after a kill between the issue's two threads writes the
    quick bites thread once, and no second copy of the first."""
    acct = pds.new_account("edsep")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
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
    after = store.issues.get(stored.id)
    assert after.state is IssueState.POSTED and after.generation == 0
    assert len(store.posts.of(stored.id)) == len(records)


@pytest.mark.pds
@pytest.mark.parametrize("redated", [False, True])
def test_post_after_a_lost_database_completes_a_half_posted_issue(nl, store, db_url, tmp_path,
                                                                   open_store, pds, redated):
    """With the database lost after the first of the issue's two threads (and the issue's date
    changed since, or not), `post` writes the quick bites thread and does not call the issue
    posted before it is there."""
    acct = pds.new_account("edlost")
    item = nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    lost = open_store(f"sqlite:///{tmp_path / 'lost.db'}")
    settings = settings_for(nl.feed_url, db_url, pds.url, acct)
    with make_worker(settings, lost, tmp_path, profile=separate_profile()) as worker:
        _, threads = crashed_between_threads(worker, nl, lost)
    if redated:
        item.published = item.published - timedelta(minutes=20)
    with make_worker(settings, store, tmp_path, profile=separate_profile()) as worker:
        _, outcome, _ = post_one(worker, entry=nl.link("one"))
    records = pds.list_records(acct.did)
    assert len(records) == len(threads[0]) + len(threads[1])
    assert (outcome.outcome, sorted(outcome.roots)) == ("posted", sorted(roots(records)))
    stored = store.issues.find_by_link(nl.link("one"))
    assert stored is not None and stored.state is IssueState.POSTED
    assert len(store.posts.of(stored.id)) == len(records)


@pytest.mark.pds
def test_a_post_bluesky_failed_says_to_run_post_again(nl, store, db_url, tmp_path, pds,
                                                      pds_proxy):
    """A one-off `post` that Bluesky keeps failing does not promise to try again later (nothing
    will): it says to run `post` again."""
    acct = pds.new_account("edfail")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    link = nl.link("one")
    pub = make_publisher(pds_proxy.url, acct, store.sessions.keeper(acct.handle, pds_proxy.url),
                         max_attempts=2)
    pds_proxy.fail(APPLY, times=None, status=502, error="BadGateway")
    settings = settings_for(nl.feed_url, db_url, pds_proxy.url, acct)
    with make_worker(settings, store, tmp_path, publisher=pub) as worker:
        _, outcome, _ = post_one(worker, entry=link)
    pub.close()
    assert outcome.outcome == "deferred"
    assert "try again later" not in (outcome.error or "")
    assert (outcome.error or "").endswith(
        f"run `post --entry {link}` again to complete it (a running bot also does)")
    assert pds.list_records(acct.did) == []


@pytest.mark.pds
def test_a_post_bluesky_refused_says_retry_or_post_again(nl, store, db_url, tmp_path, pds,
                                                         pds_proxy):
    """A one-off `post` whose record Bluesky refuses is marked failed, and the error names what
    the editor can do: `retry`, or `post` again."""
    acct = pds.new_account("edinval")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    link = nl.link("one")
    pds_proxy.fail(APPLY, times=1, status=400, error="InvalidRecord",
                   message="Invalid app.bsky.feed.post record: text too long")
    settings = settings_for(nl.feed_url, db_url, pds_proxy.url, acct)
    with make_worker(settings, store, tmp_path) as worker:
        _, outcome, _ = post_one(worker, entry=link)
    assert outcome.outcome == "failed"
    assert "text too long" in (outcome.error or "")
    assert (outcome.error or "").endswith(
        f"`retry --entry {link}` queues it for the next poll, or run `post --entry {link}` again")
    stored = store.issues.find_by_link(link)
    assert stored is not None and stored.state is IssueState.FAILED
