"""What the store hands out: plain frozen values, detached from any database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.address import Addressed, PostAddress
from bot.store.models import IssueState


@dataclass(frozen=True)
class FeedState:
    """A feed's HTTP validators and its last check (all None for a feed never checked)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_checked_at: datetime | None = None
    last_outcome: str | None = None
    pending: int = 0  # its issues queued or posting (read in the same transaction)


@dataclass(frozen=True)
class StoredPost(Addressed):
    """A recorded post: where it is (the one address type, bot.core.address), its place in the
    thread, the generation (0, then +1 per forced repost) of its thread and when it was
    recorded. The row's generation and time are the store's own; the address is not repeated
    as loose uri/rkey/cid fields, so a row and a post the publisher wrote are the same value."""

    generation: int
    place: int
    address: PostAddress
    created_at: datetime


@dataclass(frozen=True)
class StoredIssue:
    """An issue as the store remembers it."""

    id: int
    bot: str  # the bot whose feed it came from
    feed_url: str
    guid: str
    link: str
    title: str
    published: datetime | None
    content_hash: str
    state: IssueState
    error: str | None
    left_feed: bool  # failed because it is no longer in the feed
    approved: bool  # the editor approved it after a review hold: not held again
    generation: int
    claimed_by: str | None
    claim_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None
    held_hash: str | None = None  # the content hash when the review held it
    # `published` as first seen: the record keys' date, never changed by an edit (None: the
    # issue was undated when first seen, and its keys stay the undated ones). Migration 0005
    # gave every earlier issue its `published`, the date its keys were made from.
    key_time: datetime | None = None

    @property
    def keyed_at(self) -> datetime | None:
        """The date the thread's record keys are made from."""
        return self.key_time


@dataclass(frozen=True)
class NewIssue:
    """An issue as read from the feed, to be recorded (Store.upsert_issues): if new, in `state`,
    with `reason` (why it is not posted) kept in `error`."""

    guid: str
    link: str
    title: str
    published: datetime | None
    content_hash: str
    state: IssueState = IssueState.SEEN
    reason: str | None = None


@dataclass(frozen=True)
class Upserted:
    """The result of recording an issue seen in the feed.

    `created`: it was new. `edited`: it was known, and its content hash changed (the new hash,
    title, link and date are stored; its state is left alone, so it is not posted again)."""

    issue: StoredIssue
    created: bool
    edited: bool = False
    previous_hash: str | None = None


@dataclass(frozen=True)
class IssueWithPosts:
    """An issue and the posts of its current thread (generation), root first."""

    issue: StoredIssue
    posts: tuple[StoredPost, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Heartbeat:
    """A bot's health as its last passes left it (`status --check`)."""

    bot: str
    last_pass_at: datetime | None
    last_ok_at: datetime | None
    interval: int  # seconds between passes
    last_error: str | None
    auth_error: str | None
    feed_failing_since: datetime | None
    feed_alert_due: bool = False  # this pass found the feed failing for an hour: alert once
