"""A Post as it will be written to Bluesky, the Thread it belongs to, the lexicon names a post
record uses, and a posted post's address on bsky.app.

The composer (bot.core.thread) makes them; preview, the HTML page and the publisher all read the
very same `Post.record()`, so what is previewed is what is posted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.address import POST_COLLECTION
from bot.core.address import post_url as post_url  # where callers have long found it

POST_TYPE = POST_COLLECTION
EXTERNAL_TYPE = "app.bsky.embed.external"
# The `$type` of a facet's feature (`app.bsky.richtext.facet`).
LINK_FEATURE = "app.bsky.richtext.facet#link"
TAG_FEATURE = "app.bsky.richtext.facet#tag"
MENTION_FEATURE = "app.bsky.richtext.facet#mention"


@dataclass(frozen=True)
class Card:
    """A link card (`app.bsky.embed.external`). `thumb_url` says where its image comes from;
    the publisher uploads the image and passes the blob to `Post.record(thumb=...)`."""

    uri: str
    title: str
    description: str = ""
    thumb_url: str | None = None

    def embed(self, thumb: dict[str, Any] | None = None) -> dict[str, Any]:
        external: dict[str, Any] = {
            "uri": self.uri,
            "title": self.title,
            "description": self.description,
        }
        if thumb is not None:
            external["thumb"] = thumb
        return {"$type": EXTERNAL_TYPE, "external": external}


@dataclass(frozen=True)
class Post:
    """One post: text, facets (lexicon dicts with UTF-8 byte offsets), langs and an optional card.

    `kind` says what part of the issue it carries: root, takeaway, follow_up, quick_bite,
    quick_bites_root or closing."""

    text: str
    facets: tuple[dict[str, Any], ...] = ()
    langs: tuple[str, ...] = ("en",)
    card: Card | None = None
    kind: str = "root"

    def record(self, thumb: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `app.bsky.feed.post` record minus `reply` and `createdAt` (added at posting time)."""
        rec: dict[str, Any] = {"$type": POST_TYPE, "text": self.text}
        if self.facets:
            rec["facets"] = [dict(f) for f in self.facets]
        rec["langs"] = list(self.langs)
        if self.card is not None:
            rec["embed"] = self.card.embed(thumb)
        return rec


# A thread is its posts in order, root first.
Thread = tuple[Post, ...]
