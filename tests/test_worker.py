"""The worker's poll pass, in process: against the reference PDS (through a counting proxy) and a
newsletter served on loopback, on SQLite and on Postgres."""

from __future__ import annotations

import dataclasses
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bluesky_helpers import publisher as make_publisher
from drivers.newsletter_feed import NewsletterServer

from bot.core.model import Issue
from bot.core.news import decide
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import compose
from bot.errors import AuthError, FeedError
from bot.service.editor import status_rows
from bot.service.health import record_pass
from bot.service.posting import process_id, record_issue
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import IssueState, Store

POST = "app.bsky.feed.post"
NOW = datetime(2025, 7, 6, 12, 0, tzinfo=UTC)


def settings_for(feed_url: str, db_url: str, service: str = "http://127.0.0.1:9",
                 account=None, password: str | None = None) -> Settings:
    return Settings(feed_url=feed_url, bsky_service=service,
                    bsky_handle=account.handle if account else None,
                    bsky_app_password=password or (account.app_password if account else None),
                    database_url=db_url, backfill_hours=48.0, post_delay=0,
                    cards_allow_private=True)  # the newsletter's page is on loopback


def make_worker(settings: Settings, store: Store, tmp_path: Path, **kw) -> Worker:
    return Worker(settings, store, cache_dir=tmp_path / "cache",
                  feed_options={"retries": 0}, **kw)


def thread_length(nl: NewsletterServer, slug: str) -> int:
    profile = load_profile()
    issue = next(i for i in parse_feed(nl.feed_bytes(), profile).issues
                 if i.link == nl.link(slug))
    return sum(len(t) for t in compose(issue, profile))


def roots(records: list[dict]) -> list[str]:
    return [r["uri"] for r in records if "reply" not in r["value"]]


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite file of the test's own (for tests that delete it, or need no Postgres run)."""
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def sqlite_store(open_store, sqlite_url) -> Store:
    return open_store(sqlite_url)


# -- deciding what is new (pure) ------------------------------------------------------------------

def _issue(published: datetime | None) -> Issue:
    return Issue(guid="g", link="https://example.test/p/x", title="x", published=published)


@pytest.mark.parametrize(
    ("published", "first_run", "newest", "expected"),
    [
        (NOW - timedelta(hours=47), True, None, IssueState.QUEUED),  # within the backfill
        (NOW - timedelta(hours=49), True, None, IssueState.SEEN),  # first run: no flood
        (None, True, None, IssueState.SEEN),  # undated on the first run: not posted
        (NOW - timedelta(days=3), False, NOW - timedelta(days=10), IssueState.QUEUED),  # missed
        (NOW - timedelta(days=30), False, NOW - timedelta(days=10), IssueState.SEEN),  # history
        (None, False, NOW - timedelta(days=10), IssueState.QUEUED),
    ],
)
def test_decide_new_issue(published, first_run, newest, expected):
    """A new issue is posted when recent, or newer than what the bot knew; old ones are history."""
    got = decide(_issue(published), first_run=first_run, newest_known=newest, now=NOW,
                 backfill_hours=48)
    assert got is expected


# -- without Bluesky ------------------------------------------------------------------------

def test_dry_run_posts_nothing_and_writes_nothing(nl, store, db_url, tmp_path, caplog):
    """Without credentials a poll says what it would post and changes nothing."""
    nl.add("one")
    with make_worker(settings_for(nl.feed_url, db_url), store, tmp_path) as worker:
        with caplog.at_level(logging.INFO):
            result = worker.poll()
    n = thread_length(nl, "one")
    assert [(o.link, o.outcome, o.posts) for o in result.outcomes] == [
        (nl.link("one"), "would_post", n)]
    assert result.dry_run is True
    assert f"dry run: would post {nl.link('one')} ({n} posts)" in caplog.messages
    assert store.issues.all() == []
    assert store.feeds.get(nl.feed_url).etag is None


def test_queued_issue_gone_from_feed_is_marked_failed(nl, store, db_url, tmp_path):
    """A queued issue that vanished from the feed is marked failed, saying why, not retried."""
    gone = store.issues.upsert(nl.feed_url, guid="gone", link="https://x.test/p/gone",
                              title="Gone", published=datetime.now(UTC),
                              content_hash="h", state=IssueState.QUEUED).issue
    nl.add("old", published=datetime.now(UTC) - timedelta(days=30))
    acct_settings = dataclasses.replace(settings_for(nl.feed_url, db_url),
                                        bsky_handle="nobody.test", bsky_app_password="unused")
    with make_worker(acct_settings, store, tmp_path) as worker:
        result = worker.poll()
    assert [(o.link, o.outcome) for o in result.outcomes] == [("https://x.test/p/gone", "gone")]
    after = store.issues.get(gone.id)
    assert after.state is IssueState.FAILED
    assert "no longer in the feed" in (after.error or "")
    old = store.issues.find(nl.feed_url, nl.link("old"))
    assert old is not None and old.state is IssueState.SEEN  # older than what it knew


def test_failing_feed_raises_one_line_and_records_the_check(nl, store, db_url, tmp_path):
    """A feed answering 500 ends the pass with one FeedError line, recorded as the last check."""
    nl.fail_with(500)
    settings = dataclasses.replace(settings_for(nl.feed_url, db_url), bsky_handle="a.test",
                                   bsky_app_password="x")
    with make_worker(settings, store, tmp_path) as worker:
        with pytest.raises(FeedError) as err:
            worker.poll()
    assert "HTTP 500" in str(err.value) and "\n" not in str(err.value)
    assert (store.feeds.get(nl.feed_url).last_outcome or "").startswith("failed: ")


def test_an_issue_not_posted_is_logged_with_the_reason(nl, store, db_url, tmp_path, caplog):
    """Each new issue the bot will not post is logged with why and how to post it: older than
    the backfill window on the first poll, or older than the newest known later; in a dry run
    too."""
    nl.add("old", published=datetime.now(UTC) - timedelta(days=5))
    link = nl.link("old")
    outside = "outside the backfill window of 48 h; post --entry LINK posts it"
    with make_worker(settings_for(nl.feed_url, db_url), store, tmp_path) as worker:
        with caplog.at_level(logging.INFO):
            dry = worker.poll()
    assert dry.outcomes == []
    assert f"dry run: would not post {link}: {outside}" in caplog.messages

    caplog.clear()
    settings = dataclasses.replace(settings_for(nl.feed_url, db_url), bsky_handle="nobody.test",
                                   bsky_app_password="unused")  # nothing to post: never used
    nl.add("older", published=datetime.now(UTC) - timedelta(days=9))
    with make_worker(settings, store, tmp_path) as worker, caplog.at_level(logging.INFO):
        first = worker.poll()
        nl.add("history", published=datetime.now(UTC) - timedelta(days=7))
        later = worker.poll()
    assert first.outcomes == [] and later.outcomes == []
    assert (f'issue.recorded link={link} state=seen first_run=True reason="{outside}"'
            in caplog.messages)
    assert (f'issue.recorded link={nl.link("history")} state=seen reason="older than the newest '
            'issue already known (history, not news); post --entry LINK posts it"'
            in caplog.messages)


# -- against the reference PDS ---------------------------------------------------------------------

@pytest.mark.pds
def test_new_issue_posted_once_then_304_costs_no_pds_request(nl, store, db_url, tmp_path, pds,
                                                              pds_proxy):
    """A new issue becomes one whole thread; the next poll gets a 304 and never calls Bluesky."""
    acct = pds.new_account("wnew")
    nl.add("one")
    settings = settings_for(nl.feed_url, db_url, pds_proxy.url, acct)
    with make_worker(settings, store, tmp_path) as worker:
        first = worker.poll()
        records = pds.list_records(acct.did)
        n = thread_length(nl, "one")
        assert [(o.outcome, o.posts) for o in first.outcomes] == [("posted", n)]
        assert len(records) == n and len(roots(records)) == 1
        assert first.outcomes[0].roots == (roots(records)[0],)
        stored = store.issues.find(nl.feed_url, nl.link("one"))
        assert stored is not None and stored.state is IssueState.POSTED
        assert len(store.posts.of(stored.id)) == n
        # The card is the issue page's (fetched from loopback), with its image uploaded.
        embed = next(r for r in records if "reply" not in r["value"])["value"]["embed"]
        assert embed["external"]["title"] == "Issue one (from its page)"
        assert embed["external"]["thumb"]["mimeType"] == "image/jpeg"

        pds_proxy.reset_counts()
        second = worker.poll()
    assert second.fetched == "not_modified" and second.outcomes == []
    assert pds_proxy.counts() == {}
    assert nl.statuses[304] == 1
    assert len(pds.list_records(acct.did)) == n


@pytest.mark.pds
def test_lost_database_never_posts_twice(nl, tmp_path, sqlite_url, open_store, pds, pds_proxy):
    """With the database file deleted, the next poll finds the thread on Bluesky, posts nothing."""
    acct = pds.new_account("wlost")
    nl.add("one")
    settings = settings_for(nl.feed_url, sqlite_url, pds_proxy.url, acct)
    lost = open_store(sqlite_url)
    with make_worker(settings, lost, tmp_path) as worker:
        posted = worker.poll().outcomes[0]
    lost.close()  # the bot stopped; then its database was lost
    for f in tmp_path.glob("bot.db*"):
        f.unlink()
    before = pds.list_records(acct.did)
    store = open_store(sqlite_url)
    with make_worker(settings, store, tmp_path) as worker:
        again = worker.poll()
    assert [(o.outcome, o.roots) for o in again.outcomes] == [("already_posted", posted.roots)]
    assert pds.list_records(acct.did) == before
    stored = store.issues.find(nl.feed_url, nl.link("one"))
    assert stored is not None and stored.state is IssueState.POSTED
    assert [p.uri for p in store.posts.of(stored.id)] == [r["uri"] for r in reversed(before)]


@pytest.mark.pds
def test_backfill_old_issue_seen_edit_not_reposted_new_issue_posted(nl, store, db_url, tmp_path,
                                                                    pds, pds_proxy, caplog):
    """First run posts only recent issues; an edit is logged, not reposted; a later issue posts."""
    acct = pds.new_account("wback")
    nl.add("old", published=datetime.now(UTC) - timedelta(days=5))
    nl.add("recent", published=datetime.now(UTC) - timedelta(hours=2))
    settings = settings_for(nl.feed_url, db_url, pds_proxy.url, acct)
    with make_worker(settings, store, tmp_path) as worker:
        first = worker.poll()
        assert [(o.link, o.outcome) for o in first.outcomes] == [(nl.link("recent"), "posted")]
        old = store.issues.find(nl.feed_url, nl.link("old"))
        assert old is not None and old.state is IssueState.SEEN
        count = len(pds.list_records(acct.did))

        nl.edit("recent", "A correction the editor added later.")
        with caplog.at_level(logging.INFO):
            edited = worker.poll()
        assert edited.outcomes == []
        assert any(m.startswith("issue.edited link=" + nl.link("recent")) for m in caplog.messages)
        assert len(pds.list_records(acct.did)) == count

        nl.add("next", published=datetime.now(UTC) - timedelta(minutes=5))
        third = worker.poll()
    assert [(o.link, o.outcome) for o in third.outcomes] == [(nl.link("next"), "posted")]
    assert len(pds.list_records(acct.did)) == count + thread_length(nl, "next")
    assert len(roots(pds.list_records(acct.did))) == 2


@pytest.mark.pds
def test_invalid_record_fails_issue_and_pass_goes_on(nl, tmp_path, sqlite_url, sqlite_store,
                                                     pds, pds_proxy):
    """A record the PDS refuses marks that issue failed with its message; the next one posts."""
    acct = pds.new_account("winval")
    nl.add("bad", published=datetime.now(UTC) - timedelta(hours=3))
    nl.add("good", published=datetime.now(UTC) - timedelta(hours=1))
    url, store = sqlite_url, sqlite_store
    pds_proxy.fail("com.atproto.repo.applyWrites", times=1, status=400, error="InvalidRecord",
                   message="Invalid app.bsky.feed.post record: text too long")
    with make_worker(settings_for(nl.feed_url, url, pds_proxy.url, acct), store,
                     tmp_path) as worker:
        result = worker.poll()
    assert [(o.link, o.outcome) for o in result.outcomes] == [
        (nl.link("bad"), "failed"), (nl.link("good"), "posted")]
    bad = store.issues.find(nl.feed_url, nl.link("bad"))
    assert bad is not None and bad.state is IssueState.FAILED
    assert "text too long" in (bad.error or "")
    assert len(roots(pds.list_records(acct.did))) == 1


@pytest.mark.pds
def test_pds_down_leaves_issue_queued_and_next_poll_posts_it_once(nl, store, db_url, tmp_path,
                                                                   pds, pds_proxy):
    """When Bluesky keeps failing the issue stays queued; the next poll refetches and posts it."""
    acct = pds.new_account("wdown")
    nl.add("one")
    pub = make_publisher(pds_proxy.url, acct, store.sessions.keeper(acct.handle, pds_proxy.url),
                         max_attempts=2)
    pds_proxy.fail("com.atproto.repo.applyWrites", times=None, status=502, error="BadGateway")
    settings = settings_for(nl.feed_url, db_url, pds_proxy.url, acct)
    with make_worker(settings, store, tmp_path, publisher=pub) as worker:
        down = worker.poll()
        assert [o.outcome for o in down.outcomes] == ["deferred"]
        stored = store.issues.find(nl.feed_url, nl.link("one"))
        assert stored is not None and stored.state is IssueState.POSTING
        assert stored.claimed_by is None
        assert pds.list_records(acct.did) == []
        pds_proxy.clear()
        up = worker.poll()
    pub.close()
    assert up.fetched == "fetched"  # not a 304: the queued issue needs the feed's content
    assert [o.outcome for o in up.outcomes] == ["posted"]
    assert len(pds.list_records(acct.did)) == thread_length(nl, "one")


@pytest.mark.pds
def test_wrong_app_password_stops_pass_and_keeps_issue_queued(nl, tmp_path, sqlite_url,
                                                               sqlite_store, pds, pds_proxy):
    """Refused credentials end the pass with one AuthError; the issue waits, unclaimed, queued
    (not stuck in `posting`: the account is read before the issue is claimed)."""
    acct = pds.new_account("wauth")
    nl.add("one")
    url, store = sqlite_url, sqlite_store
    settings = settings_for(nl.feed_url, url, pds_proxy.url, acct, password="wrong-pass-word")
    with make_worker(settings, store, tmp_path) as worker:
        with pytest.raises(AuthError) as err:
            worker.poll()
        record_pass(worker, error=err.value)
    assert "wrong-pass-word" not in str(err.value)
    stored = store.issues.find(nl.feed_url, nl.link("one"))
    assert stored is not None and stored.state is IssueState.QUEUED
    assert stored.claimed_by is None
    # `status` says why it waits, without the password.
    (row,) = status_rows(store, post_delay={"default": 0})
    assert row["plan"].startswith("posts it once Bluesky accepts the credentials (refused: ")
    assert "wrong-pass-word" not in row["plan"]
    assert pds_proxy.count("com.atproto.server.createSession") == 1


@pytest.mark.pds
def test_stop_between_issues_then_next_poll_posts_the_rest(nl, tmp_path, sqlite_url, sqlite_store,
                                                          pds, pds_proxy):
    """A stop asked during a pass ends it after the current issue; the next pass posts the rest."""
    acct = pds.new_account("wstop")
    nl.add("a", published=datetime.now(UTC) - timedelta(hours=3))
    nl.add("b", published=datetime.now(UTC) - timedelta(hours=1))
    url, store = sqlite_url, sqlite_store
    with make_worker(settings_for(nl.feed_url, url, pds_proxy.url, acct), store,
                     tmp_path) as worker:
        first = worker.poll(should_stop=lambda: bool(store.issues.all([IssueState.POSTED])))
        assert first.stopped is True
        assert [(o.link, o.outcome) for o in first.outcomes] == [(nl.link("a"), "posted")]
        assert store.feeds.get(nl.feed_url).etag is None  # not processed to the end
        second = worker.poll()
    assert [(o.link, o.outcome) for o in second.outcomes] == [(nl.link("b"), "posted")]
    records = pds.list_records(acct.did)
    assert len(roots(records)) == 2
    assert len(records) == thread_length(nl, "a") + thread_length(nl, "b")


@pytest.mark.pds
def test_issue_back_in_the_feed_after_vanishing_is_posted_once(nl, tmp_path, sqlite_url,
                                                               sqlite_store, pds, pds_proxy):
    """A queued issue that vanished from the feed for a pass (a feed glitch) is posted once
    when it is back, not left failed for ever."""
    acct = pds.new_account("wback")
    when = datetime.now(UTC) - timedelta(hours=1)
    nl.add("old", published=datetime.now(UTC) - timedelta(days=30))
    nl.add("one", published=when)
    url, store = sqlite_url, sqlite_store
    profile = load_profile()
    for issue in parse_feed(nl.feed_bytes(), profile).issues:
        record_issue(store, nl.feed_url, issue,
                     IssueState.QUEUED if issue.link == nl.link("one") else IssueState.SEEN)
    nl.remove("one")
    with make_worker(settings_for(nl.feed_url, url, pds_proxy.url, acct), store,
                     tmp_path) as worker:
        glitch = worker.poll()
        assert [(o.link, o.outcome) for o in glitch.outcomes] == [(nl.link("one"), "gone")]
        nl.add("one", published=when)
        back = worker.poll()
        again = worker.poll()
    assert [(o.link, o.outcome) for o in back.outcomes] == [(nl.link("one"), "posted")]
    assert again.outcomes == []
    stored = store.issues.find(nl.feed_url, nl.link("one"))
    assert stored is not None and stored.state is IssueState.POSTED and stored.error is None
    assert len(pds.list_records(acct.did)) == thread_length(nl, "one")


@pytest.mark.pds
def test_database_deleted_under_a_running_worker_is_recreated(nl, tmp_path, sqlite_url,
                                                              sqlite_store, pds, pds_proxy):
    """When the database file is deleted while the daemon runs, its next pass starts a new file
    (migrated), finds the thread on Bluesky, posts nothing, and the file on disk says so."""
    acct = pds.new_account("wghost")
    nl.add("one")
    with make_worker(settings_for(nl.feed_url, sqlite_url, pds_proxy.url, acct), sqlite_store,
                     tmp_path) as worker:
        posted = worker.poll().outcomes[0]
        for f in tmp_path.glob("bot.db*"):
            f.unlink()
        before = pds.list_records(acct.did)
        again = worker.poll()
    sqlite_store.close()
    assert [(o.outcome, o.roots) for o in again.outcomes] == [("already_posted", posted.roots)]
    assert pds.list_records(acct.did) == before
    on_disk = Store(sqlite_url)  # not upgraded: what the worker left on disk
    try:
        assert on_disk.revision() == on_disk.head_revision()
        stored = on_disk.issues.find(nl.feed_url, nl.link("one"))
        assert stored is not None and stored.state is IssueState.POSTED
    finally:
        on_disk.close()


@pytest.mark.pds
def test_date_changed_after_a_kill_before_marked_posted_posts_nothing_twice(nl, tmp_path,
                                                                             sqlite_url,
                                                                             sqlite_store, pds,
                                                                             pds_proxy):
    """Killed after its posts were recorded but before the issue was marked posted, an issue
    whose date is then changed in the feed is not posted a second time."""

    from bot.service.outcomes import post_refs

    acct = pds.new_account("wredate")
    item = nl.add("one", published=datetime.now(UTC) - timedelta(hours=2))
    url, store = sqlite_url, sqlite_store
    with make_worker(settings_for(nl.feed_url, url, pds_proxy.url, acct), store,
                     tmp_path) as worker:
        issue = parse_feed(nl.feed_bytes(), worker.profile).issues[0]
        stored = record_issue(store, nl.feed_url, issue, IssueState.QUEUED).issue
        holder = process_id()  # alive: its lease must run out
        assert store.issues.claim(stored.id, holder, 0)
        stored = store.issues.mark_posting(stored.id, holder)
        threads = worker.compose(issue)
        done = worker.publisher.publish(threads[0], worker.keys(stored, threads)[0],
                                        link=issue.link)
        store.posts.record(stored.id, post_refs(done))
        before = pds.list_records(acct.did)
        item.published = item.published + timedelta(minutes=30)  # the editor fixed the date
        result = worker.poll()
    assert [o.outcome for o in result.outcomes] == ["already_posted"]
    assert pds.list_records(acct.did) == before
    after = store.issues.get(stored.id)
    assert after.state is IssueState.POSTED
    assert [p.uri for p in store.posts.of(stored.id)] == [p.uri for p in done.posts]


# -- crashes of an issue in two threads (quick_bites = "separate") ----------------------------

def separate_profile():
    p = load_profile()
    return dataclasses.replace(p, thread=dataclasses.replace(p.thread, quick_bites="separate"))


def dead_pid() -> int:
    """A pid no process on this host has (the holder of a claim left by a killed post)."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid -= 1


def crashed_between_threads(worker, nl, store):
    """The state a kill leaves between the two threads of a 'separate' issue, before the store
    learnt of the first: its first thread on Bluesky, the issue posting, claimed by a dead
    process."""
    issue = next(i for i in parse_feed(nl.feed_bytes(), worker.profile).issues
                 if i.link == nl.link("one"))
    stored = record_issue(store, nl.feed_url, issue, IssueState.QUEUED).issue
    holder = process_id(dead_pid())
    assert store.issues.claim(stored.id, holder, 600)
    stored = store.issues.mark_posting(stored.id, holder)
    threads = worker.compose(issue)
    assert len(threads) == 2
    keys = worker.keys(stored, threads)
    worker.publisher.publish(threads[0], keys[0], link=issue.link)
    return stored, threads


@pytest.mark.pds
def test_redated_half_posted_issue_with_lost_database_gets_its_second_thread(nl, tmp_path,
                                                                             sqlite_url,
                                                                             open_store, pds,
                                                                             pds_proxy):
    """Killed between an issue's two threads, then its date changed and the database lost: the
    next poll finds the first thread by its link and writes only the second."""
    acct = pds.new_account("wredate2")
    item = nl.add("one", published=datetime.now(UTC) - timedelta(hours=2))
    lost = open_store(f"sqlite:///{tmp_path / 'lost.db'}")
    settings = settings_for(nl.feed_url, sqlite_url, pds_proxy.url, acct)
    with make_worker(settings, lost, tmp_path, profile=separate_profile()) as worker:
        _, threads = crashed_between_threads(worker, nl, lost)
    item.published = item.published + timedelta(minutes=30)
    store = open_store(sqlite_url)
    with make_worker(settings, store, tmp_path, profile=separate_profile()) as worker:
        result = worker.poll()
    records = pds.list_records(acct.did)
    assert len(records) == len(threads[0]) + len(threads[1])
    assert [o.outcome for o in result.outcomes] == ["posted"]
    assert sorted(result.outcomes[0].roots) == sorted(roots(records))
    stored = store.issues.find(nl.feed_url, nl.link("one"))
    assert stored is not None and stored.state is IssueState.POSTED
    assert len(store.posts.of(stored.id)) == len(records)
