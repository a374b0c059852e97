"""The flood guard: a feed whose items all look new at once (a feed migration, a changed guid
scheme, an attacker's feed) used to post every one of them in one pass. Now more new issues
than `max_new_per_pass` are held for the editor with one alert. A newsletter and a webhook
receiver on loopback, real passes; nothing in these passes reaches Bluesky (the held issues are
never posted and the others wait out POST_DELAY)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from drivers.newsletter_feed import NewsletterServer
from hypothesis import given
from hypothesis import strategies as st
from webhook import webhook_server

from bot.core.model import Issue
from bot.core.news import flood_guard
from bot.errors import ConfigError
from bot.service.outcomes import Outcome
from bot.service.posting import record_issue
from bot.service.worker import Worker
from bot.settings import Settings, load_settings
from bot.store.api import IssueState

NOW = datetime.now(UTC)


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def settings(nl, db_url, hook_url, **kw) -> Settings:
    return Settings(feed_url=nl.feed_url, database_url=db_url, cards="off", post_delay=60,
                    bsky_service="http://127.0.0.1:9", bsky_handle="bot.test",
                    bsky_app_password="abcd-efgh-ijkl-mnop", notify_url=hook_url,
                    notify_on=("held",), **kw)


def states(store, nl) -> dict[str, IssueState]:
    return {s.link: s.state for s in store.issues.all(feed_url=nl.feed_url)}


def test_thirty_new_issues_at_once_are_held_with_one_alert(nl, db_url, store, tmp_path, caplog):
    nl.add("known", published=NOW - timedelta(days=3))
    record_issue(store, nl.feed_url, next(iter(_issues(nl))), IssueState.POSTED)
    for n in range(30):
        nl.add(f"new{n}", published=NOW - timedelta(minutes=90 - n))
    caplog.set_level(logging.INFO, logger="bot")
    with webhook_server() as hook:
        with Worker(settings(nl, db_url, hook.url), store, cache_dir=tmp_path / "c",
                    feed_options={"retries": 0}) as worker:
            result = worker.poll()
        (alert,) = hook.wait_for(1)
        assert hook.hits == 1
    assert alert["json"]["text"] == ("30 new issues at once: the feed may have changed; approve "
                                     "or skip (`status` lists them).")
    assert result.count(Outcome.HELD) == 30 and result.count(Outcome.POSTED) == 0
    found = states(store, nl)
    assert sum(s is IssueState.HELD for s in found.values()) == 30
    assert not any(s in (IssueState.QUEUED, IssueState.POSTING) for s in found.values())
    assert caplog.text.count("feed.flood") == 1


def test_on_an_empty_store_the_newest_go_out_up_to_the_cap_and_the_rest_wait(
        nl, db_url, store, tmp_path):
    for n in range(8):
        nl.add(f"i{n}", published=NOW - timedelta(hours=10 - n))  # i7 is the newest
    nl.add("old", published=NOW - timedelta(days=10))  # outside the backfill window: seen
    with webhook_server() as hook:
        with Worker(settings(nl, db_url, hook.url), store, cache_dir=tmp_path / "c",
                    feed_options={"retries": 0}) as worker:
            result = worker.poll()
        (alert,) = hook.wait_for(1)
    assert alert["json"]["text"].startswith("8 new issues at once on a first pass: the newest 5 "
                                            "go out, 3 wait for the editor")
    found = states(store, nl)
    assert {n for n in range(8) if found[nl.link(f"i{n}")] is IssueState.QUEUED} == {3, 4, 5, 6, 7}
    assert {n for n in range(8) if found[nl.link(f"i{n}")] is IssueState.HELD} == {0, 1, 2}
    assert found[nl.link("old")] is IssueState.SEEN
    assert result.count(Outcome.WAITING) == 5  # POST_DELAY: they go out after the window


def test_up_to_the_cap_nothing_is_held(nl, db_url, store, tmp_path):
    for n in range(3):
        nl.add(f"i{n}")
    with Worker(settings(nl, db_url, None, max_new_per_pass=3), store,
                cache_dir=tmp_path / "c", feed_options={"retries": 0}) as worker:
        worker.poll()
    assert set(states(store, nl).values()) == {IssueState.QUEUED}


def test_max_new_per_pass_is_a_setting():
    assert load_settings(env={"MAX_NEW_PER_PASS": "12"}).max_new_per_pass == 12
    assert Settings().max_new_per_pass == 5
    with pytest.raises(ConfigError, match="MAX_NEW_PER_PASS"):
        load_settings(env={"MAX_NEW_PER_PASS": "many"})


def _issues(nl):
    from bot.core.profile import load_profile
    from bot.core.reader import parse_feed

    return parse_feed(nl.feed_bytes(), load_profile()).issues


@given(st.lists(st.datetimes(timezones=st.just(UTC)), max_size=20, unique=True),
       st.integers(0, 10), st.booleans())
def test_the_guard_holds_all_or_only_the_oldest(dates, cap, first_run):
    issues = [Issue(guid=f"g{n}", link=f"https://x.test/{n}", title="t", published=d)
              for n, d in enumerate(dates)]
    flood = flood_guard(issues, cap=cap, first_run=first_run)
    if len(issues) <= cap:
        assert flood.held == frozenset()
    elif not first_run:
        assert flood.held == {i.guid for i in issues}
    else:
        kept = [i for i in issues if i.guid not in flood.held]
        assert len(kept) == cap
        assert all(k.published > h.published for k in kept for h in issues
                   if h.guid in flood.held)
