"""`post --entry LINK` (bot.service.editor.post_one) after a crash, against the reference PDS and a
newsletter on loopback: the interrupted thread is completed, never written twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from drivers.newsletter_feed import NewsletterServer
from test_worker import crashed_between_threads, make_worker, roots, separate_profile, settings_for

from bot.service.editor import post_one
from bot.store.api import IssueState, Store


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


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
@pytest.mark.parametrize("redated", [False, True])
def test_post_after_a_lost_database_completes_a_half_posted_issue(nl, db_url, tmp_path, pds,
                                                                   redated):
    """With the database lost after the first of the issue's two threads (and the issue's date
    changed since, or not), `post` writes the quick bites thread and does not call the issue
    posted before it is there."""
    acct = pds.new_account("edlost")
    item = nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    lost = Store(f"sqlite:///{tmp_path / 'lost.db'}")
    lost.upgrade()
    settings = settings_for(nl.feed_url, db_url, pds.url, acct)
    with make_worker(settings, lost, tmp_path, profile=separate_profile()) as worker:
        _, threads = crashed_between_threads(worker, nl, lost)
    lost.close()
    if redated:
        item.published = item.published - timedelta(minutes=20)
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
