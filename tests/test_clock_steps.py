"""The host's clock stepping (NTP): back an hour, forward a day. No issue is posted twice, no
grace window is cut short, and an issue claimed by another worker stays its own while the claim
is live by the clock. The store and the workers share one clock the test steps; the reference
PDS and a newsletter on loopback are real."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from drivers.newsletter_feed import NewsletterServer
from fixtures_store import Clock
from test_worker import make_worker, settings_for, thread_length

from bot.service.outcomes import Outcome
from bot.store.api import IssueState, Store


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def _roots(pds, acct) -> Counter[str]:
    return Counter(r["value"]["embed"]["external"]["uri"] for r in pds.list_records(acct.did)
                   if "reply" not in r["value"])


@pytest.mark.pds
def test_a_clock_stepping_back_an_hour_neither_cuts_the_window_nor_posts_twice(
        nl, db_url, tmp_path, pds):
    """POST_DELAY=10. Seen at T; the clock steps back an hour: eleven minutes later by the
    clock the issue still waits (its window ends at T+10 by any clock); at T+11 it is posted,
    once; stepping back an hour again posts nothing more."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    store = Store(db_url, clock=clock)
    store.upgrade()
    try:
        acct = pds.new_account("clockback")
        nl.add("one", published=clock.now - timedelta(hours=1))
        settings = dataclasses.replace(settings_for(nl.feed_url, db_url, pds.url, acct),
                                       post_delay=10)
        with make_worker(settings, store, tmp_path, clock=clock) as worker:
            assert [o.outcome for o in worker.poll().outcomes] == [Outcome.WAITING]
            clock.advance(-3600)
            clock.advance(11 * 60)
            assert [o.outcome for o in worker.poll().outcomes] == [Outcome.WAITING]
            assert _roots(pds, acct) == Counter()
            clock.advance(3600)  # T + 11 min
            assert [o.outcome for o in worker.poll().outcomes] == [Outcome.POSTED]
            clock.advance(-3600)
            assert worker.poll().outcomes == []
        assert _roots(pds, acct) == Counter({nl.link("one"): 1})
        assert len(pds.list_records(acct.did)) == thread_length(nl, "one")
    finally:
        store.close()


@pytest.mark.pds
def test_a_clock_stepping_forward_a_day_posts_each_issue_once_and_honours_live_claims(
        nl, db_url, tmp_path, pds):
    """Worker A claims an issue and dies before writing. While A's claim is live (by the
    clock, also after the clock stepped back an hour), worker B leaves the issue alone. The
    clock steps forward a day: A's claim has run out, B completes the issue, once; the clock
    stepped back again, a pass of A posts nothing more."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    store = Store(db_url, clock=clock)
    store.upgrade()
    try:
        acct = pds.new_account("clockfwd")
        nl.add("one", published=clock.now - timedelta(hours=1))
        settings = settings_for(nl.feed_url, db_url, pds.url, acct)
        with make_worker(settings, store, tmp_path, clock=clock, worker_id="other:1:a") as a:
            a.poll(should_stop=lambda: True)  # reads the feed, records the issue, stops
        (stored,) = store.issues.all()
        assert store.issues.claim(stored.id, "other:1:a", 600)
        clock.advance(-3600)  # back an hour: A's claim now looks live for 70 minutes
        with make_worker(settings, store, tmp_path, clock=clock, worker_id="b:2:b") as b:
            (busy,) = b.poll().outcomes
            assert busy.outcome is Outcome.BUSY, busy
            assert _roots(pds, acct) == Counter()
            clock.advance(3600 + 86400)  # forward a day
            assert [o.outcome for o in b.poll().outcomes] == [Outcome.POSTED]
        clock.advance(-86400)
        with make_worker(settings, store, tmp_path, clock=clock, worker_id="other:1:a") as a:
            assert a.poll().outcomes == []
        assert _roots(pds, acct) == Counter({nl.link("one"): 1})
        assert len(pds.list_records(acct.did)) == thread_length(nl, "one")
        assert store.issues.find_by_link(nl.link("one")).state is IssueState.POSTED
    finally:
        store.close()
