"""The editor stays in charge of an unattended bot: a grace window before a new issue goes out,
a review hold for an issue that is not what the profile expects, alerts to a webhook, and a
health check. Against the reference PDS, a newsletter and a webhook served on loopback."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT
from drivers.newsletter_feed import NewsletterServer
from test_worker import make_worker, roots, settings_for
from webhook import webhook_server

from bot.errors import AuthError, BotError
from bot.service.editor import approve
from bot.service.health import check, record_pass
from bot.service.outcomes import Outcome
from bot.store.api import IssueState, Store


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def later(minutes: float):
    """A worker clock `minutes` from now (the store's own clock stays real)."""
    return lambda: datetime.now(UTC) + timedelta(minutes=minutes)


@pytest.mark.pds
def test_a_new_issue_waits_out_the_window_and_the_edit_made_in_it_is_posted(
    nl, store, db_url, tmp_path, pds
):
    """POST_DELAY=10: seen now, the issue waits (nothing on Bluesky); the author fixes the
    title meanwhile; after ten minutes the fixed issue is what gets posted, once."""
    acct = pds.new_account("wwin")
    nl.add("one", title="Russias Eroding Influense")
    settings = dataclasses.replace(settings_for(nl.feed_url, db_url, pds.url, acct), post_delay=10)
    with make_worker(settings, store, tmp_path) as worker:
        first = worker.poll()
    (waiting,) = first.outcomes
    assert waiting.outcome is Outcome.WAITING
    stored = store.issues.find_by_link(nl.link("one"))
    assert waiting.due == stored.created_at + timedelta(minutes=10)
    assert first.next_due == waiting.due
    assert pds.list_records(acct.did) == []

    nl.edit("one", title="Russia’s Eroding Influence")
    with make_worker(settings, store, tmp_path, clock=later(5)) as worker:
        assert [o.outcome for o in worker.poll().outcomes] == [Outcome.WAITING]
    with make_worker(settings, store, tmp_path, clock=later(11)) as worker:
        assert [o.outcome for o in worker.poll().outcomes] == [Outcome.POSTED]
        assert worker.poll().outcomes == []
    (root,) = [r for r in pds.list_records(acct.did) if "reply" not in r["value"]]
    assert root["value"]["text"].startswith("Russia’s Eroding Influence\n")


@pytest.mark.pds
def test_post_by_hand_ignores_the_window(nl, store, db_url, tmp_path, pds):
    acct = pds.new_account("wnow")
    nl.add("one")
    settings = dataclasses.replace(settings_for(nl.feed_url, db_url, pds.url, acct), post_delay=60)
    from bot.service.editor import post_one

    with make_worker(settings, store, tmp_path) as worker:
        assert worker.poll().outcomes[0].outcome is Outcome.WAITING
        _, outcome, _ = post_one(worker, entry=nl.link("one"))
    assert outcome.outcome is Outcome.POSTED
    assert len(roots(pds.list_records(acct.did))) == 1


@pytest.mark.pds
def test_a_held_issue_is_never_posted_by_the_daemon_and_approve_posts_it_once(
    nl, store, db_url, tmp_path, pds
):
    """An issue without takeaways is held (BWR's profile) with the reason, pass after pass;
    `approve` posts it once; a later pass and a second approve post nothing more."""
    acct = pds.new_account("whold")
    nl.add("drift", takeaways=False)
    settings = settings_for(nl.feed_url, db_url, pds.url, acct)
    with make_worker(settings, store, tmp_path) as worker:
        (held,) = worker.poll().outcomes
        assert held.outcome is Outcome.HELD
        assert held.error.startswith("0 takeaways found, the profile expects at least 1")
        assert worker.poll().outcomes == []  # held: not pending, nothing tried
        stored = store.issues.find_by_link(nl.link("drift"))
        assert stored.state is IssueState.HELD and stored.error == held.error
        assert pds.list_records(acct.did) == []

        _, outcome, _ = approve(worker, nl.link("drift"))
        assert outcome.outcome is Outcome.POSTED
        assert worker.poll().outcomes == []
        with pytest.raises(Exception, match="is posted, not held: nothing to approve"):
            approve(worker, nl.link("drift"))
    assert len(roots(pds.list_records(acct.did))) == 1
    assert store.issues.find_by_link(nl.link("drift")).state is IssueState.POSTED


@pytest.mark.pds
def test_an_approved_issue_that_bluesky_failed_is_not_held_again(
    nl, store, db_url, tmp_path, pds, pds_proxy
):
    """Approved, then Bluesky fails: the next pass posts it instead of holding it again."""
    acct = pds.new_account("wappr")
    nl.add("drift", takeaways=False)
    settings = settings_for(nl.feed_url, db_url, pds_proxy.url, acct)
    with make_worker(settings, store, tmp_path) as worker:
        assert worker.poll().outcomes[0].outcome is Outcome.HELD
    pds_proxy.fail("com.atproto.repo.applyWrites", times=None, status=502, error="BadGateway")
    with make_worker(settings, store, tmp_path) as worker:
        worker.publisher.connection.max_attempts = 1
        _, outcome, _ = approve(worker, nl.link("drift"))
    assert outcome.outcome is Outcome.DEFERRED
    pds_proxy.clear()
    with make_worker(settings, store, tmp_path) as worker:
        assert [o.outcome for o in worker.poll().outcomes] == [Outcome.POSTED]
    assert len(roots(pds.list_records(acct.did))) == 1


@pytest.mark.pds
def test_announce_posts_the_root_and_its_card_only(nl, store, db_url, tmp_path, pds):
    """A profile that announces short issues posts one post, with the issue's card."""
    acct = pds.new_account("wann")
    nl.add("drift", takeaways=False)
    profile_path = tmp_path / "announce.toml"
    bundled = (ROOT / "config" / "bwr.toml").read_text(encoding="utf-8")
    profile_path.write_text(bundled.replace('short_issue = "hold"', 'short_issue = "announce"'))
    settings = dataclasses.replace(
        settings_for(nl.feed_url, db_url, pds.url, acct), bot_config=str(profile_path)
    )
    with make_worker(settings, store, tmp_path) as worker:
        assert [o.outcome for o in worker.poll().outcomes] == [Outcome.POSTED]
    (post,) = pds.list_records(acct.did)
    assert post["value"]["embed"]["external"]["uri"] == nl.link("drift")


@pytest.mark.pds
def test_alerts_reach_the_webhook_and_a_webhook_that_is_down_changes_nothing(
    nl, store, db_url, tmp_path, pds, caplog
):
    """Held and posted issues are told to the webhook as JSON; with the webhook down the issue
    is posted all the same, and the failure is one log line without the webhook's address."""
    acct = pds.new_account("whook")
    nl.add("drift", takeaways=False)
    nl.add("good", published=datetime.now(UTC) - timedelta(minutes=30))
    base = settings_for(nl.feed_url, db_url, pds.url, acct)
    caplog.set_level(logging.DEBUG)
    with webhook_server() as hook:
        settings = dataclasses.replace(base, notify_url=hook.url, notify_on=("held", "posted"))
        with make_worker(settings, store, tmp_path) as worker:
            outcomes = worker.poll().outcomes
        got = hook.wait_for(2)
    assert sorted(o.outcome for o in outcomes) == [Outcome.HELD, Outcome.POSTED]
    assert sorted(g["json"]["event"] for g in got) == ["held", "posted"]
    held = next(g["json"] for g in got if g["json"]["event"] == "held")
    assert held["link"] == nl.link("drift")
    assert f"approve --entry {nl.link('drift')}" in held["text"]
    assert all("T0KEN" not in r.getMessage() for r in caplog.records)  # webhook_server's path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hooks/S3CRET-T0KEN"
    nl.add("third", published=datetime.now(UTC) - timedelta(minutes=10))
    settings = dataclasses.replace(base, notify_url=dead, notify_on=("posted",))
    with make_worker(settings, store, tmp_path) as worker:
        worker.notifier._sleep = lambda s: None  # no real backoff waits in a test
        assert [o.outcome for o in worker.poll().outcomes] == [Outcome.POSTED]
    failed = [r.getMessage() for r in caplog.records if "notify.failed" in r.getMessage()]
    assert len(failed) == 1
    assert all("S3CRET" not in r.getMessage() for r in caplog.records)
    assert len(roots(pds.list_records(acct.did))) == 2  # good and third; drift is held


def test_the_feed_failing_for_an_hour_alerts_once_per_outage(tmp_path):
    """The failing-since clock starts at the first failure; the alert is due once, after an
    hour; a good pass ends the outage."""
    clock = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", clock=lambda: clock[0])
    store.upgrade()
    try:
        due = []
        for minutes, failed in [(0, True), (30, True), (61, True), (90, True), (95, False),
                                (100, True), (161, True)]:
            clock[0] = datetime(2026, 12, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)
            beat = store.leases.record_pass("default", interval=300, feed_failed=failed,
                                     error="feed: 503" if failed else None)
            due.append(beat.feed_alert_due)
        assert due == [False, False, True, False, False, False, True]
    finally:
        store.close()


def _check(store: Store, minutes_later: float = 0):
    return check(store, "default", store.now() + timedelta(minutes=minutes_later))


@pytest.mark.pds
def test_status_check_says_what_is_wrong(nl, store, db_url, tmp_path, pds):
    """No pass yet: unwell. A good pass: ok. Older than three poll intervals: unwell. A held
    issue, a failed issue, refused credentials: each named in the one line."""
    acct = pds.new_account("wchk")
    assert not _check(store).ok and "no pass has run yet" in _check(store).line
    settings = settings_for(nl.feed_url, db_url, pds.url, acct)
    with make_worker(settings, store, tmp_path) as worker:
        record_pass(worker, worker.poll())
    health = _check(store)
    assert health.ok and health.line.startswith("default: ok, last pass")
    stale = _check(store, minutes_later=16)  # 3 × 300 s = 15 min
    assert not stale.ok and "no successful pass for 16 min (more than 3" in stale.line

    nl.add("drift", takeaways=False)
    with make_worker(settings, store, tmp_path) as worker:
        record_pass(worker, worker.poll())
    held = _check(store)
    assert not held.ok
    assert f"held for review: {nl.link('drift')} (0 takeaways found" in held.line

    # Another account's handle: the held issue's check of the account saved this one's session,
    # which a wrong password would not even be asked for.
    other = pds.new_account("wcheck2")
    wrong = dataclasses.replace(settings, bsky_handle=other.handle,
                                bsky_app_password="wrong-pass-word")
    nl.add("good", published=datetime.now(UTC) - timedelta(minutes=5))
    with make_worker(wrong, store, tmp_path) as worker, pytest.raises(AuthError) as err:
        try:
            worker.poll()
        except AuthError as exc:
            record_pass(worker, error=exc)
            raise
    refused = _check(store)
    assert "Bluesky refused the credentials" in refused.line
    assert "wrong-pass-word" not in refused.line and "wrong-pass-word" not in str(err.value)
    assert "\n" not in refused.line


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


def test_status_check_exit_codes_from_the_cli(tmp_path, nl):
    """Exit 1 and one line without a database or a pass; exit 0 after a good pass; exit 1 with a
    failed issue. Nothing but the database is read (the feed server sees no request)."""
    db = f"sqlite:///{tmp_path / 'bot.db'}"
    env = {"DATABASE_URL": db, "FEED_URL": nl.feed_url, "BSKY_HANDLE": "x.test",
           "BSKY_APP_PASSWORD": "unused-here"}
    none = _cli("status", "--check", **env)
    assert none.returncode == 1 and len(none.stdout.splitlines()) == 1
    assert "no database" in none.stdout
    store = Store(db)
    store.upgrade()
    try:
        store.leases.record_pass("default", interval=300)
        requests = sum(nl.counts.values())
        ok = _cli("status", "--check", **env)
        assert (ok.returncode, ok.stdout.count("\n")) == (0, 1)
        assert ok.stdout.startswith("default: ok")
        issue = store.issues.upsert(nl.feed_url, guid="g", link="https://x.test/p/g", title="G",
                                   published=None, content_hash="h",
                                   state=IssueState.QUEUED).issue
        store.issues.mark_failed(issue.id, "text too long")
        bad = _cli("status", "--check", **env)
        assert bad.returncode == 1
        assert bad.stdout == ("default: failed: https://x.test/p/g (text too long); "
                              "retry --entry LINK\n")
        assert sum(nl.counts.values()) == requests
    finally:
        store.close()


def test_status_shows_a_waiting_issue_with_the_time_it_goes_out(tmp_path):
    db = f"sqlite:///{tmp_path / 'bot.db'}"
    store = Store(db)
    store.upgrade()
    try:
        issue = store.issues.upsert("https://x.test/feed", guid="g", link="https://x.test/p/g",
                                   title="G", published=None, content_hash="h",
                                   state=IssueState.QUEUED).issue
        due = issue.created_at + timedelta(minutes=10)
    finally:
        store.close()
    shown = _cli("status", DATABASE_URL=db, POST_DELAY="10")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1].startswith("waiting ")
    assert f"goes out at {due.strftime('%Y-%m-%d %H:%M')} UTC" in shown.stdout
    js = _cli("status", "--json", DATABASE_URL=db, POST_DELAY="10")
    import json

    (row,) = json.loads(js.stdout)["issues"]
    assert (row["state"], row["due"]) == ("queued", due.isoformat())


@pytest.mark.pds
def test_approve_posts_what_was_held_or_refuses_when_the_feed_changed_it(
    nl, store, db_url, tmp_path, pds
):
    """Held, then edited in the feed (the pass records the edit): `approve` posts nothing and
    says why in one line; `--as-now` posts the feed's version, once."""
    acct = pds.new_account("wasnow")
    nl.add("drift", takeaways=False)
    settings = settings_for(nl.feed_url, db_url, pds.url, acct)
    with make_worker(settings, store, tmp_path) as worker:
        assert worker.poll().outcomes[0].outcome is Outcome.HELD
        nl.edit("drift", extra="<p>A late paragraph.</p>")
        assert worker.poll().outcomes == []  # held: the edit is recorded, nothing posted
        with pytest.raises(BotError) as err:
            approve(worker, nl.link("drift"))
        message = str(err.value)
        assert message == (
            f"{nl.link('drift')} has changed in the feed since it was held: nothing posted; "
            f"`preview --entry {nl.link('drift')}` shows it as it is now, "
            f"`approve --entry {nl.link('drift')} --as-now` posts that")
        assert pds.list_records(acct.did) == []
        assert store.issues.find_by_link(nl.link("drift")).state is IssueState.HELD
        _, outcome, _ = approve(worker, nl.link("drift"), as_now=True)
    assert outcome.outcome is Outcome.POSTED
    assert len(roots(pds.list_records(acct.did))) == 1
    assert any("A late paragraph." in r["value"]["text"] for r in pds.list_records(acct.did))
