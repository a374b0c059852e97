"""Shared by the publisher's tests: the seed issue's thread, a card image, and publishers."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import BWR_FEED
from PIL import Image

from bot.bluesky.connection import Connection
from bot.bluesky.lexicon import post_record
from bot.bluesky.publisher import Publisher
from bot.bluesky.session import MemorySessionKeeper
from bot.cards import Thumb
from bot.core.address import AtUri
from bot.core.model import Issue
from bot.core.post import Post
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.rkey import thread_keys
from bot.core.thread import compose

POST = "app.bsky.feed.post"


@dataclass(frozen=True)
class SeedThread:
    issue: Issue
    thread: tuple[Post, ...]
    keys: list[str]
    thumbs: dict[str, Thumb]

    @property
    def link(self) -> str:
        return self.issue.link


def card_image(color: tuple[int, int, int] = (180, 30, 40)) -> Thumb:
    """A small real JPEG, as bot.cards would hand it over."""
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), color).save(buf, "JPEG", quality=80)
    return Thumb(buf.getvalue(), "image/jpeg")


def seed_thread(generation: int = 0) -> SeedThread:
    """The seed issue read from its feed and composed, exactly as the bot does it."""
    return issue_thread(BWR_FEED, 0, generation)


def issue_thread(feed: Path, index: int, generation: int = 0) -> SeedThread:
    """Issue `index` of a feed file, read and composed as the bot does it (first thread)."""
    profile = load_profile()
    issue = parse_feed(feed.read_bytes(), profile).issues[index]
    thread = tuple(compose(issue, profile)[0])
    keys = thread_keys(issue.guid, issue.published, len(thread), generation)
    thumbs = {
        p.card.thumb_url: card_image() for p in thread if p.card and p.card.thumb_url
    }
    return SeedThread(issue, thread, keys, thumbs)


def publisher(url: str, account: Any, store: Any = None, **kwargs: Any) -> Publisher:
    """A Publisher for a test account that never really sleeps (waits are recorded)."""
    sleeps: list[float] = []
    kwargs.setdefault("sleep", sleeps.append)
    sessions = store or MemorySessionKeeper()
    pub = Publisher(Connection(url, account.handle, account.app_password, sessions, **kwargs))
    pub.sleeps = sleeps  # type: ignore[attr-defined]
    return pub


def expected_record(post: Post, thumb_blob: dict[str, Any] | None) -> dict[str, Any]:
    """What the PDS must hold for a post, minus createdAt and reply."""
    return post_record(post, thumb_blob)


def assert_whole_once(pds: Any, did: str, seed: SeedThread, posted: Any = None) -> None:
    """Exactly the thread's posts exist on the account, one per key, each replying to the one
    before under the root, with the server's CIDs; texts as composed."""
    records = pds.list_records(did, POST)
    assert sorted(AtUri.parse(r["uri"]).rkey for r in records) == sorted(seed.keys)
    by_key = {AtUri.parse(r["uri"]).rkey: r for r in records}
    root = by_key[seed.keys[0]]
    assert "reply" not in root["value"]
    assert root["value"]["text"] == seed.thread[0].text
    for place in range(1, len(seed.keys)):
        rec = by_key[seed.keys[place]]
        parent = by_key[seed.keys[place - 1]]
        assert rec["value"]["reply"] == {
            "root": {"uri": root["uri"], "cid": root["cid"]},
            "parent": {"uri": parent["uri"], "cid": parent["cid"]},
        }
        assert rec["value"]["text"] == seed.thread[place].text
    if posted is not None:
        assert [(p.rkey, p.uri, p.cid) for p in posted.posts] == [
            (k, by_key[k]["uri"], by_key[k]["cid"]) for k in seed.keys
        ]
