"""Shared by the publisher's tests: the seed issue's thread, a card image, and publishers."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from conftest import BWR_FEED
from PIL import Image

from bot.bluesky import MemorySessionStore, Publisher
from bot.cards import Thumb
from bot.model import Issue
from bot.post import Post
from bot.profile import load_profile
from bot.reader import parse_feed
from bot.rkey import thread_keys
from bot.thread import compose

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
    profile = load_profile()
    issue = parse_feed(BWR_FEED.read_bytes(), profile).issues[0]
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
    pub = Publisher(url, account.handle, account.app_password, store or MemorySessionStore(),
                    **kwargs)
    pub.sleeps = sleeps  # type: ignore[attr-defined]
    return pub


def expected_record(post: Post, thumb_blob: dict[str, Any] | None) -> dict[str, Any]:
    """What the PDS must hold for a post, minus createdAt and reply."""
    return post.record(thumb=thumb_blob)
