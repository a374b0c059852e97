"""The publisher against the reference PDS: whole threads, exactly once, through injected faults."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from bluesky_helpers import POST, assert_whole_once, card_image, seed_thread
from bluesky_helpers import publisher as _publisher

from bot.bluesky.lexicon import post_record
from bot.bluesky.session import FileSessionKeeper, MemorySessionKeeper
from bot.core.address import AtUri
from bot.core.post import Card, Post
from bot.core.rkey import thread_keys
from bot.errors import AuthError, PublishError, RecordInvalid

pytestmark = pytest.mark.pds

APPLY = "com.atproto.repo.applyWrites"
CREATE_SESSION = "com.atproto.server.createSession"


@pytest.fixture()
def publisher():
    """Makes Publishers (see bluesky_helpers.publisher) and closes them after the test."""
    made = []

    def make(*args, **kwargs):
        made.append(_publisher(*args, **kwargs))
        return made[-1]

    yield make
    for pub in made:
        pub.close()


def _posts_on(pds, did):
    return pds.list_records(did, POST)


def _assert_whole_once(pds, account, seed, posted=None):
    assert_whole_once(pds, account.did, seed, posted)


def test_seed_thread_lands_whole(pds, pds_proxy, publisher):
    """The seed issue's thread appears whole: texts, facets, card as composed; replies chained."""
    account = pds.new_account("whole")
    seed = seed_thread()
    pub = publisher(pds_proxy.url, account)
    posted = pub.publish(seed.thread, seed.keys, seed.thumbs)

    assert posted.complete and posted.written == len(seed.thread)
    _assert_whole_once(pds, account, seed, posted)
    assert pds_proxy.count(APPLY) == 1  # the whole thread in one atomic write
    assert pds_proxy.count("com.atproto.repo.uploadBlob") == 1
    # No AppView: every call went to com.atproto.* on the PDS.
    assert all(m.startswith("com.atproto.") for m in pds_proxy.counts())

    for post, got in zip(seed.thread, posted.posts, strict=True):
        value = pds.get_record(account.did, POST, got.rkey)["value"]
        thumb = value.get("embed", {}).get("external", {}).get("thumb")
        expected = post_record(post, thumb)
        assert {k: v for k, v in value.items() if k not in ("createdAt", "reply")} == expected
        assert value["createdAt"].endswith("Z")
    root = pds.get_record(account.did, POST, seed.keys[0])["value"]
    blob = root["embed"]["external"]["thumb"]
    assert blob["mimeType"] == "image/jpeg"
    (thumb,) = seed.thumbs.values()
    assert blob["size"] == len(thumb.data)
    got = httpx.get(
        f"{pds.url}/xrpc/com.atproto.sync.getBlob",
        params={"did": account.did, "cid": blob["ref"]["$link"]},
        timeout=30,
    )
    assert got.status_code == 200 and got.content == thumb.data


def test_posting_twice_writes_nothing_the_second_time(pds, pds_proxy, publisher):
    """Publishing the same issue again finds it on the PDS and writes nothing."""
    account = pds.new_account("twice")
    seed = seed_thread()
    first = publisher(pds_proxy.url, account).publish(seed.thread, seed.keys, seed.thumbs)
    pds_proxy.reset_counts()
    again = publisher(pds_proxy.url, account).publish(seed.thread, seed.keys, seed.thumbs)

    assert again.written == 0 and again.found_by == "root_key"
    assert again.posts == tuple(replace(p, written=False) for p in first.posts)
    assert pds_proxy.count(APPLY) == 0
    assert pds_proxy.count("com.atproto.repo.uploadBlob") == 0
    _assert_whole_once(pds, account, seed)


def test_find_thread_by_root_key_and_by_link_scan(pds, pds_proxy, publisher):
    """An issue's thread is found from the PDS alone: by its root key, else by its link."""
    account = pds.new_account("find")
    seed = seed_thread()
    pub = publisher(pds_proxy.url, account)
    posted = pub.publish(seed.thread, seed.keys, seed.thumbs)

    by_key = pub.find_thread(seed.link, seed.keys)
    assert by_key is not None and by_key.found_by == "root_key"
    assert by_key.posts == tuple(replace(p, written=False) for p in posted.posts)

    other_keys = thread_keys("a lost database", None, len(seed.keys))
    pds_proxy.reset_counts()
    by_link = pub.find_thread(seed.link + "?utm_source=substack", other_keys)
    assert by_link is not None and by_link.found_by == "link_scan"
    assert by_link.root_uri == posted.root_uri
    assert [p.uri for p in by_link.posts] == [p.uri for p in posted.posts]
    assert pds_proxy.count("com.atproto.repo.listRecords") == 1

    assert pub.find_thread("https://aablanco.substack.com/p/never-posted", other_keys) is None


def test_a_posted_thread_is_never_extended_by_an_edit(pds, pds_proxy, publisher):
    """A thread already posted stays as it is when the issue now composes to more posts (an
    edit): nothing is appended after its closing post, nothing rewritten."""
    account = pds.new_account("edited")
    seed = seed_thread()
    pub = publisher(pds_proxy.url, account)
    first = pub.publish(seed.thread[:5], seed.keys[:5], seed.thumbs)
    pds_proxy.reset_counts()
    again = pub.publish(seed.thread, seed.keys, seed.thumbs)

    assert again.written == 0 and again.found_by == "root_key" and not again.complete
    assert [p.cid for p in again.posts] == [p.cid for p in first.posts]
    assert pds_proxy.count(APPLY) == 0
    assert pds_proxy.count("com.atproto.repo.uploadBlob") == 0
    assert sorted(AtUri.parse(r["uri"]).rkey for r in _posts_on(pds, account.did)) == seed.keys[:5]


@pytest.mark.parametrize(
    "fault",
    ["fail_500", "fail_500_after_write", "drop", "drop_after_write", "rate_limit", "fail_502"],
)
def test_server_errors_are_retried_and_the_thread_exists_once(pds, pds_proxy, fault, publisher):
    """5xx, dropped connections (before or after the PDS wrote) and 429 still give one thread."""
    account = pds.new_account(fault.replace("_", "")[:9])
    seed = seed_thread()
    if fault == "fail_500":
        pds_proxy.fail(APPLY, times=2)
    elif fault == "fail_500_after_write":
        pds_proxy.fail(APPLY, after_forward=True)
    elif fault == "drop":
        pds_proxy.drop(APPLY)
    elif fault == "drop_after_write":
        pds_proxy.drop(APPLY, after_forward=True)
    elif fault == "rate_limit":
        pds_proxy.rate_limit(APPLY, reset_in=30)
    else:
        pds_proxy.fail(APPLY, status=502, error="BadGateway")
    pub = publisher(pds_proxy.url, account)
    posted = pub.publish(seed.thread, seed.keys, seed.thumbs)

    _assert_whole_once(pds, account, seed, posted)
    if fault.endswith("after_write"):
        assert pds_proxy.count(APPLY) == 1  # the write landed: confirmed, never sent again
        assert pub.sleeps == []
    elif fault == "rate_limit":
        assert pds_proxy.count(APPLY) == 2
        assert len(pub.sleeps) == 1 and 25 <= pub.sleeps[0] <= 32  # until ratelimit-reset
    else:
        assert pds_proxy.count(APPLY) == (3 if fault == "fail_500" else 2)


def test_rate_limit_longer_than_the_cap_is_an_error(pds, pds_proxy, publisher):
    """A 429 whose reset is far away fails at once with a clear error instead of hanging."""
    account = pds.new_account("ratecap")
    seed = seed_thread()
    pds_proxy.rate_limit(APPLY, reset_in=3600)
    pub = publisher(pds_proxy.url, account, max_rate_wait=120)
    with pytest.raises(PublishError, match=r"rate limit .* try again later") as err:
        pub.publish(seed.thread, seed.keys, seed.thumbs)
    assert seed.link in str(err.value) and "posts 1-17 of 17" in str(err.value)
    assert pub.sleeps == []
    assert _posts_on(pds, account.did) == []


def test_outage_gives_up_then_a_rerun_completes(pds, pds_proxy, publisher):
    """When the PDS stays unreachable the publisher gives up (bounded); a later run completes."""
    account = pds.new_account("outage")
    seed = seed_thread()
    pds_proxy.drop(APPLY, times=None)
    pub = publisher(pds_proxy.url, account, max_attempts=3)
    with pytest.raises(PublishError, match="did not answer after 3 tries"):
        pub.publish(seed.thread, seed.keys, seed.thumbs)
    assert pub.sleeps == [1.0, 2.0]
    assert _posts_on(pds, account.did) == []
    pds_proxy.clear()
    posted = publisher(pds_proxy.url, account).publish(seed.thread, seed.keys, seed.thumbs)
    _assert_whole_once(pds, account, seed, posted)


def test_invalid_record_is_reported_and_nothing_is_written(pds, pds_proxy, publisher):
    """A post the PDS refuses raises RecordInvalid with its reason, and no post of it exists."""
    account = pds.new_account("invalid")
    link = "https://aablanco.substack.com/p/too-long"
    thread = (Post("fine root", card=Card(link, "Too long")), Post("x" * 301, kind="takeaway"))
    pub = publisher(pds_proxy.url, account)
    with pytest.raises(RecordInvalid) as err:
        pub.publish(thread, thread_keys(link, None, 2))
    assert "grapheme too big (maximum 300, got 301)" in str(err.value)
    assert str(err.value).startswith(f"{link}: posts 1-2 of 2")
    assert pds_proxy.count(APPLY) == 1  # not retried
    assert _posts_on(pds, account.did) == []  # atomic: the valid root was not written either


def test_long_thread_goes_in_batches_and_resumes(pds, pds_proxy, publisher):
    """A thread longer than one applyWrites allows is written in order, in resumable batches."""
    account = pds.new_account("long")
    link = "https://aablanco.substack.com/p/long-thread"
    thread = tuple(Post(f"post {i + 1}", card=Card(link, "Long") if i == 0 else None)
                   for i in range(205))
    keys = thread_keys(link, None, len(thread))
    pub = publisher(pds_proxy.url, account, max_attempts=1)

    def cut_off(_request):  # once the first batch is written, writes stop getting through
        pds_proxy.drop(APPLY, times=None)

    pds_proxy.on_response(APPLY, cut_off, times=1)
    with pytest.raises(PublishError, match="posts 201-205 of 205"):
        pub.publish(thread, keys)
    assert len(_posts_on(pds, account.did)) == 200
    pds_proxy.clear()
    posted = publisher(pds_proxy.url, account).publish(thread, keys)
    assert posted.written == 5
    records = _posts_on(pds, account.did)
    assert sorted(AtUri.parse(r["uri"]).rkey for r in records) == sorted(keys)


def test_session_is_reused_across_runs(pds, pds_proxy, tmp_path, publisher):
    """A second run signs in from the saved session: createSession is called only once."""
    account = pds.new_account("session")
    store = FileSessionKeeper(tmp_path / "session")
    seed = seed_thread()
    publisher(pds_proxy.url, account, store).publish(seed.thread, seed.keys, seed.thumbs)
    assert pds_proxy.count(CREATE_SESSION) == 1
    assert (tmp_path / "session").stat().st_mode & 0o777 == 0o600
    pds_proxy.reset_counts()
    second = publisher(pds_proxy.url, account, store)
    assert second.find_thread(seed.link, seed.keys) is not None
    assert pds_proxy.count(CREATE_SESSION) == 0
    assert account.app_password not in repr(second) and account.app_password not in repr(store)


def test_refresh_saves_rotated_tokens_without_signing_in(pds, pds_proxy, publisher):
    """Near the access token's expiry the session is refreshed and the new tokens are saved."""
    import time

    account = pds.new_account("refresh")
    store = MemorySessionKeeper()
    publisher(pds_proxy.url, account, store).connection.sign_in()
    saved = store.load()
    # The next run comes 1 h 50 min later: the access token (2 h) is within 15 min of expiry.
    # Once refreshed, the new token is fresh again, so time "returns" to now.
    later = publisher(pds_proxy.url, account, store,
                      clock=lambda: time.time() + (6600 if store.saves < 2 else 0))
    pds_proxy.reset_counts()
    assert later.find_thread("https://aablanco.substack.com/p/x", ["2222222222222"]) is None
    assert pds_proxy.count("com.atproto.server.refreshSession") == 1
    assert pds_proxy.count(CREATE_SESSION) == 0
    assert store.load() != saved and store.saves == 2


def test_dead_session_signs_in_again_once(pds, pds_proxy, publisher):
    """A saved session the PDS has revoked leads to one new sign-in, then posting goes on."""
    account = pds.new_account("revoked")
    store = MemorySessionKeeper()
    first = publisher(pds_proxy.url, account, store)
    first.connection.sign_in()
    # Sign out on the server: both tokens of the saved session die.
    refresh = store.load().split(":::")[3]
    httpx.post(f"{pds.url}/xrpc/com.atproto.server.deleteSession",
               headers={"Authorization": f"Bearer {refresh}"}, timeout=30).raise_for_status()
    pds_proxy.reset_counts()
    # The access token is refused too (as once it has expired).
    pds_proxy.fail("com.atproto.repo.getRecord", status=400, error="ExpiredToken",
                   message="Token has expired")
    seed = seed_thread()
    posted = publisher(pds_proxy.url, account, store).publish(seed.thread, seed.keys, seed.thumbs)
    assert posted.complete
    assert pds_proxy.count("com.atproto.server.refreshSession") == 1  # tried first, refused
    assert pds_proxy.count(CREATE_SESSION) == 1
    assert store.saves == 2
    _assert_whole_once(pds, account, seed, posted)


def test_a_refused_token_is_refreshed_and_the_rotated_session_saved(pds, pds_proxy, publisher):
    """The PDS refuses a token that is not near its expiry (once): the session is refreshed (the
    SDK's public calls: refreshSession, then the new session imported), the rotated tokens are
    saved, the read goes on, and nobody signs in again."""
    account = pds.new_account("refused")
    store = MemorySessionKeeper()
    publisher(pds_proxy.url, account, store).connection.sign_in()
    saved = store.load()
    pds_proxy.reset_counts()
    pds_proxy.fail("com.atproto.repo.getRecord", status=400, error="ExpiredToken",
                   message="Token has expired")
    again = publisher(pds_proxy.url, account, store)
    assert again.find_thread("https://aablanco.substack.com/p/x", ["2222222222222"]) is None
    assert pds_proxy.count("com.atproto.server.refreshSession") == 1
    assert pds_proxy.count(CREATE_SESSION) == 0
    assert store.saves == 2 and store.load() != saved
    assert store.load().split(":::")[1] == account.did  # the session of the same account


def test_wrong_app_password_is_one_clear_error(pds, pds_proxy, caplog, publisher):
    """Wrong credentials raise one AuthError, are not retried, and never show the password."""
    account = pds.new_account("wrongpw")
    bad = type(account)(account.handle, account.did, "x", "wrong-app-pass-word")
    pub = publisher(pds_proxy.url, bad)
    seed = seed_thread()
    for _ in range(3):
        with pytest.raises(AuthError, match="check BSKY_HANDLE and BSKY_APP_PASSWORD") as err:
            pub.publish(seed.thread, seed.keys, seed.thumbs)
        assert "wrong-app-pass-word" not in str(err.value)
    assert pds_proxy.count(CREATE_SESSION) == 1
    assert "wrong-app-pass-word" not in caplog.text


def test_unusable_card_image_posts_the_card_without_it(pds, pds_proxy, publisher):
    """If the PDS refuses a card image, the thread is posted with the card minus its image."""
    account = pds.new_account("thumb")
    seed = seed_thread()
    pds_proxy.fail("com.atproto.repo.uploadBlob", status=400, error="InvalidRequest",
                   message="Unsupported image")
    posted = publisher(pds_proxy.url, account).publish(seed.thread, seed.keys, seed.thumbs)
    root = pds.get_record(account.did, POST, posted.root.rkey)["value"]
    assert "thumb" not in root["embed"]["external"]
    assert root["embed"]["external"]["uri"] == seed.link
    _assert_whole_once(pds, account, seed, posted)


def test_card_images_are_uploaded_once_per_image(pds, pds_proxy, publisher):
    """Two posts with the same card image upload it once; both records reference the blob."""
    account = pds.new_account("blobs")
    link = "https://aablanco.substack.com/p/two-cards"
    thread = (Post("a", card=Card(link, "A", "", "http://img/a.jpg")),
              Post("b", card=Card(link + "#b", "B", "", "http://img/a.jpg")))
    posted = publisher(pds_proxy.url, account).publish(
        thread, thread_keys(link, None, 2), {"http://img/a.jpg": card_image()}
    )
    assert pds_proxy.count("com.atproto.repo.uploadBlob") == 1
    refs = {pds.get_record(account.did, POST, p.rkey)["value"]["embed"]["external"]["thumb"][
        "ref"]["$link"] for p in posted.posts}
    assert len(refs) == 1


def test_sign_in_that_got_no_answer_is_tried_again_next_pass(pds, pds_proxy, publisher):
    """A sign-in that failed for want of an answer is tried again on the next pass (not called
    'refused'); one refused by a far rate limit is not sent again until that limit is over."""
    account = pds.new_account("signagain")
    seed = seed_thread()
    pds_proxy.drop(CREATE_SESSION, times=2)
    pub = publisher(pds_proxy.url, account, max_attempts=2)
    with pytest.raises(PublishError, match=f"signing in as {account.handle}: Bluesky did not "
                                           "answer after 2 tries"):
        pub.publish(seed.thread, seed.keys, seed.thumbs)
    posted = pub.publish(seed.thread, seed.keys, seed.thumbs)  # the next pass
    assert posted.complete
    assert pds_proxy.count(CREATE_SESSION) == 3

    limited = pds.new_account("signlimit")
    pds_proxy.reset_counts()
    pds_proxy.rate_limit(CREATE_SESSION, reset_in=3600)
    pub = publisher(pds_proxy.url, limited, max_rate_wait=120)
    for _ in range(3):
        with pytest.raises(PublishError, match=r"rate limit .* try again later"):
            pub.connection.sign_in()
    assert pds_proxy.count(CREATE_SESSION) == 1


def test_rate_limit_wait_is_measured_on_the_servers_clock(pds, pds_proxy, publisher):
    """With this machine's clock an hour fast, a 429 still waits until the server's reset
    (counted from the answer's Date), not a second, and the thread then lands once."""
    import time

    account = pds.new_account("rateskew")
    seed = seed_thread()
    pds_proxy.rate_limit(APPLY, reset_in=30)
    pub = publisher(pds_proxy.url, account, clock=lambda: time.time() + 3600)
    posted = pub.publish(seed.thread, seed.keys, seed.thumbs)
    assert len(pub.sleeps) == 1 and 28 <= pub.sleeps[0] <= 33
    _assert_whole_once(pds, account, seed, posted)
