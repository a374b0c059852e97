"""A Post as it will be written to Bluesky and the Thread it belongs to, as values: text, facets
(links, tags and mentions on UTF-8 byte ranges), languages and a link card.

The composer (bot.core.thread) makes them; preview, the HTML page and the publisher all read the
very same values, and bot.bluesky.lexicon alone turns them into the lexicon's record JSON (and
records read back into values), so what is previewed is what is posted."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.address import post_url as post_url  # where callers have long found it


@dataclass(frozen=True)
class Link:
    """A facet's link: the full address the visible text stands for."""

    uri: str


@dataclass(frozen=True)
class Tag:
    """A facet's hashtag (without the '#')."""

    tag: str


@dataclass(frozen=True)
class Mention:
    """A facet's mention of an account (its DID)."""

    did: str


@dataclass(frozen=True)
class OtherFeature:
    """A feature the bot does not write, met in a record read back (None: not even a type)."""

    kind: str | None


Feature = Link | Tag | Mention | OtherFeature


@dataclass(frozen=True)
class Facet:
    """Features on the text's UTF-8 bytes [start, end). A record read back may lack a range
    (None), which the checks report rather than guess."""

    start: int | None
    end: int | None
    features: tuple[Feature, ...] = ()


@dataclass(frozen=True)
class Blob:
    """An image already uploaded to the account: its CID and MIME type (a posted card's thumb)."""

    cid: str
    mime: str


@dataclass(frozen=True)
class Card:
    """A link card. `thumb_url` says where its image comes from (the publisher uploads it);
    `uploaded` is the image's blob on the account, for a card read back from Bluesky."""

    uri: str
    title: str
    description: str = ""
    thumb_url: str | None = None
    uploaded: Blob | None = None


@dataclass(frozen=True)
class Post:
    """One post: text, facets (on UTF-8 byte offsets), langs and an optional card.

    `kind` says what part of the issue it carries: root, takeaway, follow_up, quick_bite,
    quick_bites_root or closing."""

    text: str
    facets: tuple[Facet, ...] = ()
    langs: tuple[str, ...] = ("en",)
    card: Card | None = None
    kind: str = "root"

    def spans(self) -> list[tuple[str, Feature]]:
        """(visible text, feature) of each well-placed facet's features, in order."""
        raw = self.text.encode("utf-8")
        out: list[tuple[str, Feature]] = []
        for facet in self.facets:
            if facet.start is None or facet.end is None:
                continue
            shown = raw[facet.start : facet.end].decode("utf-8", "replace")
            out.extend((shown, feature) for feature in facet.features)
        return out


# A thread is its posts in order, root first.
Thread = tuple[Post, ...]
