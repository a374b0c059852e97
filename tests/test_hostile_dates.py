"""Dates an attacker (or a broken feed) can write: an item dated `Fri, 31 Dec 9999` used to give
`poll` a traceback, leave the issue `posting` and make `status`, `status --json` and
`status --check` crash (`ValueError: TID timestamp out of range`). Now every date the bot keys
or schedules from is clamped to a sane window, and record keys are fixed when an issue is first
seen. Against a newsletter on loopback, the reference PDS and a real SQLite/Postgres store."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from drivers.newsletter_feed import NewsletterServer
from hypothesis import given
from hypothesis import strategies as st

from bot.cli.app import cli
from bot.core.news import FEED_EPOCH, sane_published
from bot.core.rkey import is_tid, thread_keys
from bot.core.thread import compose
from bot.service.posting import record_issue
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import IssueState, Store, normalize_url

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


# -- pure ---------------------------------------------------------------------------------------

@given(st.datetimes(timezones=st.just(UTC)), st.integers(0, 50), st.integers(1, 30),
       st.integers(0, 9))
def test_every_date_gives_valid_increasing_record_keys(when, generation, count, part):
    keys = thread_keys("guid", when, count, generation, part)
    assert all(is_tid(k) for k in keys)
    assert keys == sorted(set(keys))


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_date_outside_the_window_is_taken_as_now(when):
    used, odd = sane_published(when, now=NOW)
    assert odd == (not FEED_EPOCH <= when <= NOW + timedelta(days=1))
    assert used == (NOW if odd else when)


def test_an_out_of_window_date_keeps_the_date_first_stored():
    first = NOW - timedelta(days=3)
    assert sane_published(FAR, now=NOW, first_seen=first) == (first, True)
    assert sane_published(datetime(1, 1, 1, tzinfo=UTC), now=NOW) == (NOW, True)
    assert sane_published(None, now=NOW) == (None, False)


# -- the attack -------------------------------------------------------------------------------

@pytest.mark.pds
def test_an_item_dated_9999_is_posted_as_of_now_and_status_stays_up(
        nl, db_url, store, tmp_path, pds, pds_proxy, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="bot")
    acct = pds.new_account("w9999")
    nl.add("far", published=FAR)
    settings = Settings(feed_url=nl.feed_url, bsky_service=pds_proxy.url, bsky_handle=acct.handle,
                        bsky_app_password=acct.app_password, database_url=db_url,
                        backfill_hours=48.0, post_delay=0, cards="off")
    with Worker(settings, store, cache_dir=tmp_path / "c", feed_options={"retries": 0},
                clock=lambda: NOW) as worker:
        result = worker.poll()
        assert [o.outcome for o in result.outcomes] == ["posted"]
        again = worker.poll()
    assert [o.outcome for o in again.outcomes] == []
    stored = store.issues.find(nl.feed_url, nl.link("far"))
    assert stored is not None and stored.state is IssueState.POSTED
    assert stored.published == NOW and stored.keyed_at == NOW
    assert caplog.text.count("issue.date_refused") == 1
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("FEED_URL", nl.feed_url)
    for args in (["status"], ["status", "--json"], ["status", "--check"]):
        out = CliRunner().invoke(cli, args)
        assert out.exception is None or isinstance(out.exception, SystemExit), out.output
        assert "Traceback" not in out.output and "out of range" not in out.output


def test_status_survives_a_date_9999_stored_by_an_earlier_release(db_url, store, monkeypatch):
    """A store written before the clamp holds the raw date: status, --json and --check read it."""
    store.issues.upsert("https://x.test/feed", guid="g", link="https://x.test/p/far", title="Far",
                       published=FAR, content_hash="h", state=IssueState.QUEUED)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("FEED_URL", "https://x.test/feed")
    for name in ("BSKY_HANDLE", "BSKY_APP_PASSWORD"):
        monkeypatch.setenv(name, "")
    table = CliRunner().invoke(cli, ["status"])
    assert table.exit_code == 0, table.output
    assert "https://x.test/p/far" in table.output
    rows = json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)["issues"]
    assert rows[0]["link"] == "https://x.test/p/far"
    check = CliRunner().invoke(cli, ["status", "--check"])
    assert check.exit_code in (0, 1), check.output  # healthy or not, said in one line
    assert len(check.output.strip().splitlines()) == 1


def test_record_keys_are_fixed_when_an_issue_is_first_seen(nl, db_url, store, tmp_path):
    """An edited date changes what status shows, never the thread's record keys."""
    first = NOW - timedelta(hours=2)
    nl.add("moving", published=first)
    settings = Settings(feed_url=nl.feed_url, database_url=db_url, post_delay=60, cards="off")
    from bot.core.profile import load_profile
    from bot.core.reader import parse_feed

    profile = load_profile()
    issue = parse_feed(nl.feed_bytes(), profile).issues[0]
    stored = record_issue(store, nl.feed_url, issue, IssueState.QUEUED, now=NOW).issue
    threads = compose(issue, profile)
    with Worker(settings, store, cache_dir=tmp_path / "c") as worker:
        keys_before = worker.keys(stored, threads)
        redated = issue.__class__(**{**issue.__dict__, "published": first + timedelta(days=1)})
        edited = record_issue(store, nl.feed_url, redated, now=NOW).issue
        assert edited.published == first + timedelta(days=1)
        assert edited.keyed_at == first
        assert worker.keys(edited, threads) == keys_before
    assert keys_before[0] == thread_keys(issue.guid, first, len(threads[0]))


def test_upgrade_to_0005_keys_existing_issues_by_their_stored_date(db_url):
    """A database of the previous release: each issue's key date is the date its keys were
    made from then (`published`), so its thread is found where it was written."""
    from sqlalchemy import create_engine, text
    from test_migrations import migrate

    when = datetime(2025, 7, 6, 14, 3, 5, tzinfo=UTC)
    migrate(db_url, "0004")
    engine = create_engine(normalize_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO feeds (id, url, bot, created_at) VALUES (1, "
                          "'https://x.test/f', 'default', :w)"), {"w": when})
        conn.execute(text(
            "INSERT INTO issues (feed_id, guid, link, title, published, content_hash, state, "
            "error, left_feed, approved, generation, created_at, updated_at) VALUES (1, 'g', "
            "'https://x.test/p/1', 't', :w, 'h', 'posted', NULL, false, false, 0, :w, :w)"),
            {"w": when})
    engine.dispose()
    upgraded = Store(db_url)
    try:
        upgraded.upgrade()
        stored = upgraded.issues.find_by_link("https://x.test/p/1")
        assert stored is not None and stored.key_time == when and stored.keyed_at == when
    finally:
        upgraded.close()


def test_an_issue_undated_when_first_seen_keeps_its_undated_keys(nl, db_url, store, tmp_path):
    from bot.core.profile import load_profile
    from bot.core.reader import parse_feed

    nl.add("undated", published=NOW - timedelta(hours=1))
    profile = load_profile()
    issue = parse_feed(nl.feed_bytes(), profile).issues[0]
    undated = issue.__class__(**{**issue.__dict__, "published": None})
    stored = record_issue(store, nl.feed_url, undated, IssueState.QUEUED, now=NOW).issue
    dated = record_issue(store, nl.feed_url, issue, now=NOW).issue
    assert dated.published == NOW - timedelta(hours=1) and dated.keyed_at is None
    threads = compose(issue, profile)
    settings = Settings(feed_url=nl.feed_url, database_url=db_url, cards="off")
    with Worker(settings, store, cache_dir=tmp_path / "c") as worker:
        assert worker.keys(dated, threads) == worker.keys(stored, threads)
        assert worker.keys(dated, threads)[0] == thread_keys(issue.guid, None, len(threads[0]))
