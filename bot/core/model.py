"""What the newsletter is made of, in its own words: an Issue with Takeaways, FollowUps and
QuickBites, each item with its reading Links. Plain data, no I/O; `to_json` gives the contract
shape of `inspect --json` (a contract: extend it, never rename)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Link:
    """A reading link: its title as the newsletter writes it, and the address."""

    title: str
    url: str

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "url": self.url}


@dataclass(frozen=True)
class Takeaway:
    """One takeaway bullet: an ALL-CAPS label and one or two sentences."""

    label: str
    text: str
    # The <a>s inside `text` (title: the anchor's words), so they stay clickable when posted.
    links: tuple[Link, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "text": self.text}
        if self.links:  # a new key, only when there is something in it (contract unchanged)
            out["links"] = [link.to_json() for link in self.links]
        return out


@dataclass(frozen=True)
class Item:
    """A follow-up or a quick bite: a headline, its paragraphs and its reading links."""

    headline: str
    paragraphs: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    # The <a>s inside each paragraph (same length as `paragraphs`, or () when there are none);
    # the reading links above are not repeated here.
    paragraph_links: tuple[tuple[Link, ...], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "headline": self.headline,
            "paragraphs": list(self.paragraphs),
            "links": [link.to_json() for link in self.links],
        }
        if any(self.paragraph_links):  # a new key, only when there is something in it
            out["paragraph_links"] = [[lk.to_json() for lk in p] for p in self.paragraph_links]
        return out


# The newsletter's names for the two kinds of item; same shape.
FollowUp = Item
QuickBite = Item


@dataclass(frozen=True)
class Issue:
    """One newsletter issue as the bot read it from a feed entry."""

    guid: str
    link: str
    title: str
    subtitle: str = ""
    published: datetime | None = None
    cover_image: str | None = None
    volume: str | None = None
    language: str = "en"
    takeaways: tuple[Takeaway, ...] = ()
    follow_ups: tuple[Item, ...] = ()
    quick_bites: tuple[Item, ...] = ()
    content_hash: str = ""
    # What the reader noticed but could not place (shown by `inspect`, never silently dropped).
    warnings: tuple[str, ...] = ()
    # How an expected variant was read (a summary as unlabelled takeaways): told, not a problem.
    notes: tuple[str, ...] = ()
    # The feed's own name, for an issue with no title of its own: its card's title then (a card
    # is never titled with an address).
    feed_title: str = ""

    @property
    def is_bwr_shaped(self) -> bool:
        return bool(self.takeaways or self.follow_ups or self.quick_bites)

    def to_json(self) -> dict[str, Any]:
        return {
            "guid": self.guid,
            "link": self.link,
            "title": self.title,
            "subtitle": self.subtitle,
            "published": self.published.isoformat() if self.published else None,
            "cover_image": self.cover_image,
            "volume": self.volume,
            "takeaways": [t.to_json() for t in self.takeaways],
            "follow_ups": [i.to_json() for i in self.follow_ups],
            "quick_bites": [i.to_json() for i in self.quick_bites],
        }


@dataclass(frozen=True)
class FeedInfo:
    """The feed's own title, link and language."""

    title: str = ""
    link: str = ""
    language: str = "en"

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "link": self.link}


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its info and its issues, newest first."""

    info: FeedInfo
    issues: tuple[Issue, ...] = field(default_factory=tuple)
    # feedparser's bozo message when the feed was malformed but still yielded entries.
    problem: str | None = None
    # The entries that are not issues, each said in one line with its position and what it
    # has ("entry 3 ('Example entry, again') has no link: not posted").
    skipped: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "feed": self.info.to_json(),
            "issues": [i.to_json() for i in self.issues],
        }
        if self.skipped:  # a new key, only when there is something in it (contract unchanged)
            out["skipped"] = list(self.skipped)
        return out
