"""Bluesky's own settings for a thread, read back from the reference PDS: who may reply (a
threadgate on the root), quoting (a postgate), and the newest issue pinned on the profile, written
with the thread and never twice."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from bluesky_helpers import POST, seed_thread
from bluesky_helpers import publisher as make_publisher
from click.testing import CliRunner
from conftest import BWR_FEED, ROOT
from drivers.newsletter_feed import NewsletterServer

from bot.bluesky.gates import POSTGATE, THREADGATE, Gates
from bot.bluesky.pin import PROFILE
from bot.cli import cli
from bot.core.address import AtUri
from bot.core.post import Card, Post
from bot.core.profile import REPLIES, load_profile
from bot.core.reader import parse_feed
from bot.core.rkey import thread_keys
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import IssueState

APPLY = "com.atproto.repo.applyWrites"
PUT = "com.atproto.repo.putRecord"
RULES = {
    "followers": [{"$type": f"{THREADGATE}#followerRule"}],
    "following": [{"$type": f"{THREADGATE}#followingRule"}],
    "mentioned": [{"$type": f"{THREADGATE}#mentionRule"}],
    "nobody": [],
}


def profile_with(**thread):
    p = load_profile()
    return dataclasses.replace(p, thread=dataclasses.replace(p.thread, **thread))


def profile_record(pds, did):
    return pds.get_record(did, PROFILE, "self")


def set_profile(pds, account, record):
    """An edit made in the app: the profile record written straight to the PDS (no swap)."""
    with pds.login(account) as client:
        client.com.atproto.repo.put_record(
            {"repo": account.did, "collection": PROFILE, "rkey": "self",
             "record": {"$type": PROFILE, **record}}
        )


def strong_ref(pds, did, rkey):
    got = pds.get_record(did, POST, rkey)
    return {"uri": got["uri"], "cid": got["cid"]}


@pytest.fixture()
def publisher():
    made = []

    def make(*args, **kwargs):
        made.append(make_publisher(*args, **kwargs))
        return made[-1]

    yield make
    for pub in made:
        pub.close()


# -- without a PDS --------------------------------------------------------------------------------

def test_defaults_write_no_gate():
    """Everyone may reply and quote by default: no record beside the post."""
    assert Gates().records("at://did:plc:x/app.bsky.feed.post/3abc", datetime.now(UTC)) == []
    assert Gates.of(load_profile().thread) == Gates()


def test_every_profile_replies_value_has_its_rules():
    """Each `replies` value the profile accepts becomes a threadgate, or none for everyone."""
    root = "at://did:plc:x/app.bsky.feed.post/3abc"
    for value in REPLIES:
        gates = Gates(replies=value).records(root, datetime.now(UTC))
        if value == "everyone":
            assert gates == []
        else:
            [(collection, record)] = gates
            assert collection == THREADGATE and record["allow"] == RULES[value]


def test_preview_says_the_thread_settings(tmp_path, monkeypatch):
    """`preview` names who may reply, whether quoting is on and whether the root is pinned."""
    profile = tmp_path / "p.toml"
    base = (ROOT / "config" / "bwr.toml").read_text(encoding="utf-8")
    for old, new in (('replies = "everyone"', 'replies = "followers"'),
                     ("quotes = true", "quotes = false"),
                     ("pin_latest = false", "pin_latest = true")):
        assert old in base
        base = base.replace(old, new, 1)
    profile.write_text(base, encoding="utf-8")
    monkeypatch.setenv("BOT_CONFIG", str(profile))
    got = CliRunner().invoke(cli, ["preview", "--offline", "--feed", str(BWR_FEED)])
    assert got.exit_code == 0, got.output
    assert "replies: followers · quotes: off · pin: yes" in got.output.splitlines()[2]
    monkeypatch.delenv("BOT_CONFIG")
    got = CliRunner().invoke(cli, ["preview", "--offline", "--feed", str(BWR_FEED)])
    assert "replies: everyone · quotes: on · pin: no" in got.output


# -- the publisher against the reference PDS -------------------------------------------------------

@pytest.mark.pds
@pytest.mark.parametrize("replies", REPLIES)
def test_replies_setting_is_a_threadgate_on_the_root(pds, pds_proxy, publisher, replies):
    """Who may reply reads back as a threadgate on the root, written in the thread's one write;
    none for everyone."""
    account = pds.new_account("gate")
    seed = seed_thread()
    pub = publisher(pds_proxy.url, account)
    posted = pub.publish(seed.thread, seed.keys, seed.thumbs, gates=Gates(replies=replies))
    assert pds_proxy.count(APPLY) == 1
    gates = pds.list_records(account.did, THREADGATE)
    if replies == "everyone":
        assert gates == []
    else:
        [gate] = gates
        assert AtUri.parse(gate["uri"]).rkey == seed.keys[0]
        assert gate["value"]["post"] == posted.root_uri
        assert gate["value"]["allow"] == RULES[replies]
        assert gate["value"]["createdAt"].endswith("Z")
    assert pds.list_records(account.did, POSTGATE) == []
    assert len(pds.list_records(account.did, POST)) == len(seed.thread)


@pytest.mark.pds
@pytest.mark.parametrize("quotes", [True, False])
def test_quotes_off_is_a_postgate_on_the_root(pds, pds_proxy, publisher, quotes):
    """quotes = false reads back as a postgate disabling quotes of the root; none when true."""
    account = pds.new_account("quote")
    seed = seed_thread()
    pub = publisher(pds_proxy.url, account)
    posted = pub.publish(seed.thread, seed.keys, seed.thumbs, gates=Gates(quotes=quotes))
    assert pds_proxy.count(APPLY) == 1
    gates = pds.list_records(account.did, POSTGATE)
    if quotes:
        assert gates == []
    else:
        [gate] = gates
        assert AtUri.parse(gate["uri"]).rkey == seed.keys[0]
        assert gate["value"]["post"] == posted.root_uri
        assert gate["value"]["embeddingRules"] == [{"$type": f"{POSTGATE}#disableRule"}]
    assert pds.list_records(account.did, THREADGATE) == []


@pytest.mark.pds
def test_completing_a_thread_never_writes_its_gates_again(pds, pds_proxy, publisher):
    """A thread whose root batch was written (reply lost) is completed without a second gate."""
    account = pds.new_account("resume")
    seed = seed_thread()
    gates = Gates(replies="nobody", quotes=False)
    pds_proxy.drop(APPLY, after_forward=True)  # written, but the bot never hears so
    pub = publisher(pds_proxy.url, account)
    pub.publish(seed.thread, seed.keys, seed.thumbs, gates=gates)
    again = pub.publish(seed.thread, seed.keys, seed.thumbs, gates=gates)
    assert again.written == 0
    assert pds_proxy.count(APPLY) == 1
    assert len(pds.list_records(account.did, THREADGATE)) == 1
    assert len(pds.list_records(account.did, POSTGATE)) == 1


@pytest.mark.pds
def test_long_thread_keeps_room_for_its_gates_in_the_root_write(pds, pds_proxy, publisher):
    """A thread longer than one write holds: the gates go with the root, the rest follows."""
    account = pds.new_account("longg")
    link = "https://aablanco.substack.com/p/long-gated"
    thread = tuple(Post(f"post {i + 1}", card=Card(link, "Long") if i == 0 else None)
                   for i in range(205))
    keys = thread_keys(link, None, len(thread))
    pub = publisher(pds_proxy.url, account)
    posted = pub.publish(thread, keys, gates=Gates(replies="nobody", quotes=False))
    assert posted.complete and pds_proxy.count(APPLY) == 2
    assert len(pds.list_records(account.did, POST)) == 205
    first = json.loads(next(r.body for r in pds_proxy.requests if r.method == APPLY))
    assert len(first["writes"]) == 200
    assert [w["collection"] for w in first["writes"][-2:]] == [THREADGATE, POSTGATE]
    for collection in (THREADGATE, POSTGATE):
        [gate] = pds.list_records(account.did, collection)
        assert gate["value"]["post"] == posted.root_uri


@pytest.mark.pds
def test_gate_left_by_a_deleted_thread_does_not_block_posting_it_again(pds, pds_proxy,
                                                                     publisher):
    """A thread deleted in the app whose threadgate stayed behind is posted again at the same
    keys: the gate left there is kept as it is, not written twice."""
    account = pds.new_account("orphan")
    seed = seed_thread()
    gates = Gates(replies="mentioned")
    pub = publisher(pds_proxy.url, account)
    pub.publish(seed.thread, seed.keys, seed.thumbs, gates=gates)
    with pds.login(account) as client:
        for key in seed.keys:
            client.com.atproto.repo.delete_record(
                {"repo": account.did, "collection": POST, "rkey": key})
    [gate] = pds.list_records(account.did, THREADGATE)
    again = pub.publish(seed.thread, seed.keys, seed.thumbs, gates=gates)
    assert again.complete and again.written == len(seed.thread)
    assert pds.list_records(account.did, THREADGATE) == [gate]
    assert pds_proxy.count(APPLY) == 2


@pytest.mark.pds
def test_pin_keeps_the_rest_of_the_profile(pds, pds_proxy, publisher):
    """The root becomes the pinned post; the name and description set in the app stay."""
    account = pds.new_account("pin")
    set_profile(pds, account, {"displayName": "Weekly Review", "description": "News, weekly."})
    seed = seed_thread()
    pub = publisher(pds_proxy.url, account)
    pub.publish(seed.thread, seed.keys, seed.thumbs, pin=True)
    value = profile_record(pds, account.did)["value"]
    assert value == {
        "$type": PROFILE,
        "displayName": "Weekly Review",
        "description": "News, weekly.",
        "pinnedPost": strong_ref(pds, account.did, seed.keys[0]),
    }
    assert pds_proxy.count(PUT) == 1


@pytest.mark.pds
def test_pin_creates_a_missing_profile(pds, pds_proxy, publisher):
    """An account without a profile record gets one holding only the pinned post."""
    account = pds.new_account("nopro")
    assert profile_record(pds, account.did) is None
    seed = seed_thread()
    publisher(pds_proxy.url, account).publish(seed.thread, seed.keys, seed.thumbs, pin=True)
    assert profile_record(pds, account.did)["value"] == {
        "$type": PROFILE,
        "pinnedPost": strong_ref(pds, account.did, seed.keys[0]),
    }


@pytest.mark.pds
def test_profile_edit_made_while_pinning_is_kept(pds, pds_proxy, publisher):
    """An edit made in the app between the bot's read and its write is not overwritten: the
    bot's write is refused, it reads again, and both the edit and the pin are there."""
    account = pds.new_account("race")
    set_profile(pds, account, {"displayName": "Before"})
    edits = []

    def edit_in_the_app(_request):  # runs before the bot's putRecord reaches the PDS
        set_profile(pds, account, {"displayName": "Edited meanwhile", "description": "new"})
        edits.append(1)

    pds_proxy.on_request(PUT, edit_in_the_app, times=1)
    seed = seed_thread()
    publisher(pds_proxy.url, account).publish(seed.thread, seed.keys, seed.thumbs, pin=True)
    assert edits == [1]
    assert profile_record(pds, account.did)["value"] == {
        "$type": PROFILE,
        "displayName": "Edited meanwhile",
        "description": "new",
        "pinnedPost": strong_ref(pds, account.did, seed.keys[0]),
    }
    statuses = [r.status for r in pds_proxy.requests if r.method == PUT]
    assert statuses == [400, 200]  # the stale write refused, then the one on the edit


@pytest.mark.pds
def test_pin_that_fails_leaves_the_thread_posted(pds, pds_proxy, publisher, caplog):
    """A pin Bluesky refuses is a log line; the thread is posted all the same, and only once."""
    account = pds.new_account("pinfail")
    pds_proxy.fail(PUT, times=None, status=400, error="InvalidRequest", message="nope")
    seed = seed_thread()
    posted = publisher(pds_proxy.url, account).publish(seed.thread, seed.keys, seed.thumbs,
                                                       pin=True)
    assert posted.complete and posted.written == len(seed.thread)
    assert profile_record(pds, account.did) is None
    assert any(m.startswith("bluesky.pin_failed") for m in caplog.messages)
    assert pds_proxy.count(APPLY) == 1


# -- the worker: what the store knows decides the pin ----------------------------------------------

@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def settings_for(nl, db_url, pds_proxy, account) -> Settings:
    return Settings(feed_url=nl.feed_url, bsky_service=pds_proxy.url,
                    bsky_handle=account.handle, bsky_app_password=account.app_password,
                    database_url=db_url, backfill_hours=48.0, cards_allow_private=True,
                    post_delay=0)


def make_worker(settings, store, tmp_path, profile) -> Worker:
    return Worker(settings, store, cache_dir=tmp_path / "cache", feed_options={"retries": 0},
                  profile=profile)


def roots(records):
    return [r for r in records if "reply" not in r["value"]]


GATED = {"replies": "followers", "quotes": False, "pin_latest": True}


@pytest.mark.pds
def test_second_post_after_a_lost_database_writes_no_setting_twice(nl, tmp_path, open_store,
                                                                  pds, pds_proxy):
    """With the database lost, posting the issue again finds the thread and writes no gate, no
    pin and no post a second time."""
    account = pds.new_account("lostdb")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    settings = settings_for(nl, url, pds_proxy, account)
    first = open_store(url)
    with make_worker(settings, first, tmp_path, profile_with(**GATED)) as worker:
        assert [o.outcome for o in worker.poll().outcomes] == ["posted"]
    first.close()
    for f in tmp_path.glob("bot.db*"):
        f.unlink()
    before = {c: pds.list_records(account.did, c) for c in (POST, THREADGATE, POSTGATE, PROFILE)}
    assert [len(before[c]) for c in (THREADGATE, POSTGATE, PROFILE)] == [1, 1, 1]
    pds_proxy.reset_counts()
    with make_worker(settings, open_store(url), tmp_path, profile_with(**GATED)) as worker:
        assert [o.outcome for o in worker.poll().outcomes] == ["already_posted"]
    assert {c: pds.list_records(account.did, c) for c in before} == before
    assert pds_proxy.count(APPLY) == 0 and pds_proxy.count(PUT) == 0


@pytest.mark.pds
def test_separate_quick_bites_thread_gets_the_gates_too(nl, tmp_path, open_store, pds,
                                                        pds_proxy):
    """With quick bites in a thread of their own, both roots carry the gates; the issue's main
    thread is the one pinned."""
    account = pds.new_account("sep")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    profile = profile_with(quick_bites="separate", **GATED)
    with make_worker(settings_for(nl, url, pds_proxy, account), open_store(url), tmp_path,
                     profile) as worker:
        [outcome] = worker.poll().outcomes
    assert outcome.outcome == "posted" and len(outcome.roots) == 2
    for collection in (THREADGATE, POSTGATE):
        gated = sorted(r["value"]["post"] for r in pds.list_records(account.did, collection))
        assert gated == sorted(outcome.roots)
    pinned = profile_record(pds, account.did)["value"]["pinnedPost"]["uri"]
    assert pinned == outcome.roots[0]


@pytest.mark.pds
def test_older_issue_posted_by_hand_does_not_move_the_pin(nl, tmp_path, open_store, pds,
                                                          pds_proxy):
    """The newest issue is pinned; posting an older one by hand afterwards leaves it pinned."""
    account = pds.new_account("order")
    nl.add("old", published=datetime.now(UTC) - timedelta(days=5))
    nl.add("new", published=datetime.now(UTC) - timedelta(hours=1))
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = open_store(url)
    profile = profile_with(**GATED)
    with make_worker(settings_for(nl, url, pds_proxy, account), store, tmp_path,
                     profile) as worker:
        [new] = worker.poll().outcomes
        assert (new.link, new.outcome) == (nl.link("new"), "posted")
        pinned = profile_record(pds, account.did)["value"]["pinnedPost"]
        assert pinned["uri"] == new.roots[0]
        old = store.issues.find(nl.feed_url, nl.link("old"))
        assert old is not None and old.state is IssueState.SEEN
        issue = next(i for i in parse_feed(nl.feed_bytes(), profile).issues
                     if i.link == nl.link("old"))
        pds_proxy.reset_counts()
        by_hand = worker.post_issue(old, issue)
    assert by_hand.outcome == "posted"
    assert profile_record(pds, account.did)["value"]["pinnedPost"] == pinned
    assert pds_proxy.count(PUT) == 0
    # The old issue's thread has its gates all the same.
    assert len(pds.list_records(account.did, THREADGATE)) == 2
    assert len(roots(pds.list_records(account.did, POST))) == 2



@pytest.mark.pds
def test_a_root_written_before_a_crash_is_pinned_when_the_thread_is_completed(
        nl, tmp_path, open_store, pds, pds_proxy):
    """The thread was written (one applyWrites) and the process died before its pin and before
    the database heard of it: the next pass finds the thread, writes no post, and pins it."""
    account = pds.new_account("crashpin")
    nl.add("one", published=datetime.now(UTC) - timedelta(hours=1))
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    profile = profile_with(**GATED)
    with make_worker(settings_for(nl, url, pds_proxy, account), open_store(url), tmp_path,
                     profile) as worker:
        issue = parse_feed(nl.feed_bytes(), profile).issues[0]
        (thread,) = worker.compose(issue)
        keys = thread_keys(issue.guid, issue.published.astimezone(UTC), len(thread), 0)
        worker.publisher.publish(thread, keys, {}, gates=Gates.of(profile.thread), pin=False)
        assert "pinnedPost" not in (profile_record(pds, account.did) or {"value": {}})["value"]
        posts = len(pds.list_records(account.did, POST))
        [outcome] = worker.poll().outcomes
    assert outcome.outcome == "already_posted"
    assert len(pds.list_records(account.did, POST)) == posts
    pinned = profile_record(pds, account.did)["value"]["pinnedPost"]["uri"]
    assert pinned == outcome.roots[0] and AtUri.parse(pinned).rkey == keys[0]
