"""The thread's records before sending (bot.bluesky.records) and the session keepers; no network."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import libipld
from conftest import BWR_FEED
from hypothesis import given
from hypothesis import strategies as st

from bot.bluesky.lexicon import post_of, post_record
from bot.bluesky.records import (
    build_writes,
    created_at,
    links_to,
    record_cid,
)
from bot.bluesky.session import FileSessionKeeper, MemorySessionKeeper
from bot.core.address import PostAddress
from bot.core.post import Blob, Card, Post, post_url
from bot.core.postcheck import check_post
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.rkey import thread_keys
from bot.core.thread import compose

DID = "did:plc:4gscij4tp462rfxkbazsm5ub"
BLOB_CID = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"


def _cbor_text(s: str) -> bytes:
    data = s.encode()
    assert len(data) < 24
    return bytes([0x60 + len(data)]) + data


def test_blob_link_is_encoded_as_a_cid_link():
    """A thumb's `{"$link": cid}` is hashed as a CBOR CID link (tag 42), as the PDS stores it."""
    record = {"ref": {"$link": BLOB_CID}}
    raw = libipld.decode_multibase(BLOB_CID)[1]
    link = b"\xd8\x2a\x58" + bytes([len(raw) + 1]) + b"\x00" + raw  # tag 42, bytes(0x00 + CID)
    cbor = b"\xa1" + _cbor_text("ref") + link
    expected = libipld.encode_cid(b"\x01\x71\x12\x20" + hashlib.sha256(cbor).digest())
    assert record_cid(record) == expected


def test_writes_chain_replies_with_local_cids():
    """Each post replies to the one before it, under the root, naming the CIDs computed here."""
    link = "https://aablanco.substack.com/p/x"
    thread = (Post("root", card=Card(link, "T", "", "http://img/1.jpg")), Post("two"), Post("3"))
    keys = thread_keys(link, None, 3)
    blob = {"$type": "blob", "ref": {"$link": BLOB_CID}, "mimeType": "image/jpeg", "size": 9}
    when = datetime(2025, 7, 6, 14, 3, 5, tzinfo=UTC)
    writes = build_writes(DID, thread, keys, [0, 1, 2], {}, {"http://img/1.jpg": blob}, when)

    assert [w.rkey for w in writes] == keys
    assert writes[0].record["embed"]["external"]["thumb"] == blob
    assert "reply" not in writes[0].record
    root = {"uri": f"at://{DID}/app.bsky.feed.post/{keys[0]}", "cid": writes[0].cid}
    assert writes[1].record["reply"] == {"root": root, "parent": root}
    assert writes[2].record["reply"]["parent"] == {
        "uri": f"at://{DID}/app.bsky.feed.post/{keys[1]}", "cid": writes[1].cid}
    assert [w.record["createdAt"] for w in writes] == [
        "2025-07-06T14:03:05.000Z", "2025-07-06T14:03:05.001Z", "2025-07-06T14:03:05.002Z"]
    assert all(w.cid == record_cid(w.record) for w in writes)


def test_posts_already_on_the_pds_keep_their_server_cids():
    """Missing posts reply to existing ones by the CIDs the PDS gave them."""
    thread = (Post("root"), Post("two"), Post("three"))
    keys = thread_keys("g", None, 3)
    known = {0: PostAddress.post("did:plc:r", "r", "bafyroot"),
             1: PostAddress.post("did:plc:r", "p", "bafyparent")}
    (write,) = build_writes(DID, thread, keys, [2], known, {}, datetime.now(UTC))
    root, parent = "at://did:plc:r/app.bsky.feed.post/r", "at://did:plc:r/app.bsky.feed.post/p"
    assert write.record["reply"] == {"root": {"uri": root, "cid": "bafyroot"},
                                     "parent": {"uri": parent, "cid": "bafyparent"}}


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=3))])),
       st.integers(0, 500))
def test_created_at_is_rfc3339_utc(when, place):
    """createdAt is RFC 3339 in UTC with a Z, and later places get later times."""
    text = created_at(when, place)
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(parsed - (when + timedelta(milliseconds=place))) < timedelta(milliseconds=1)
    assert created_at(when, place + 1) > text  # same width, so string order is time order


def test_issue_link_matches_loosely():
    """A post links to the issue whatever tracking query, scheme or trailing slash it carries."""
    card = {"embed": {"$type": "app.bsky.embed.external",
                      "external": {"uri": "https://aablanco.substack.com/p/bwr-28?utm_source=x"}}}
    uri = "http://www.aablanco.substack.com/p/bwr-28/"
    facet = {"facets": [{"index": {"byteStart": 0, "byteEnd": 3},
                         "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}]}]}
    for record in (card, facet):
        assert links_to(record, "https://aablanco.substack.com/p/bwr-28")
        assert not links_to(record, "https://aablanco.substack.com/p/bwr-29")
    assert not links_to({"text": "no links"}, "https://aablanco.substack.com/p/bwr-28")


def test_post_url_points_at_bsky_app():
    """A post's web address is bsky.app/profile/DID/post/RKEY."""
    assert post_url(f"at://{DID}/app.bsky.feed.post/3ltaxockc22lf") == (
        f"https://bsky.app/profile/{DID}/post/3ltaxockc22lf")


def test_file_session_keeper_keeps_the_session_private(tmp_path):
    """The saved session survives a restart, is readable by its owner only, and is not in repr."""
    store = FileSessionKeeper(tmp_path / "state" / "session")
    assert store.load() is None
    store.save("alice.test:::did:plc:x:::ACCESS:::REFRESH:::http://pds")
    again = FileSessionKeeper(tmp_path / "state" / "session")
    assert again.load() == "alice.test:::did:plc:x:::ACCESS:::REFRESH:::http://pds"
    assert (tmp_path / "state" / "session").stat().st_mode & 0o777 == 0o600
    assert "ACCESS" not in repr(again)
    assert list((tmp_path / "state").iterdir()) == [tmp_path / "state" / "session"]


def test_memory_session_keeper_counts_saves_and_hides_tokens():
    """The in-memory store counts saves (tests use it) and never shows the tokens."""
    store = MemorySessionKeeper()
    store.save("h:::d:::SECRET-ACCESS:::SECRET-REFRESH:::u")
    store.save("h:::d:::SECRET-ACCESS2:::SECRET-REFRESH2:::u")
    assert store.saves == 2 and store.load().endswith("SECRET-REFRESH2:::u")
    assert "SECRET" not in repr(store)


def test_records_read_back_are_the_posts_written():
    """bot.bluesky.lexicon reads a record into the very post it was written from: the composed
    thread's records (links, tags, cards) and an uploaded card's blob come back unchanged."""
    issue = parse_feed(BWR_FEED.read_bytes(), load_profile()).issues[0]
    (thread,) = compose(issue, load_profile())
    for post in thread:
        record = post_record(post)
        assert post_record(post_of(record)) == record
        assert post_of(record).facets == post.facets
    blob = {"$type": "blob", "ref": {"$link": "bafkthumb"}, "mimeType": "image/jpeg"}
    with_thumb = post_record(thread[0], blob)
    read = post_of(with_thumb)
    assert read.card is not None and read.card.uploaded == Blob("bafkthumb", "image/jpeg")
    assert post_record(read) == with_thumb


def test_a_malformed_record_is_kept_for_the_checks_to_report():
    """A record read back with a facet lacking its range or of an unknown kind is not dropped:
    the post checks name it."""
    read = post_of({"text": "hello world", "facets": [
        {"index": {}, "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "x"}]},
        {"index": {"byteStart": 0, "byteEnd": 5}, "features": [{"$type": "com.example#new"}]},
    ]})
    assert read.facets[0].start is None
    assert [f.message for f in check_post(read)] == [
        "facet 1 has no byte range", "facet 2 (bytes 0–5) has an unknown feature 'com.example#new'"]
