"""The store's tables (SQLAlchemy 2 typed declarative). Only bot/store/ and migrations/ use them.

The Alembic migrations in migrations/versions must match these exactly (tests/test_migrations.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.core.state import IssueState


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Named constraints, so future migrations can alter them (SQLite batch mode needs names).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FeedRow(Base):
    """A feed a bot polls, with its HTTP validators for conditional GET. Each bot has its own row
    (and so its own issues) even when two bots read the same feed for two accounts."""

    __tablename__ = "feeds"
    __table_args__ = (UniqueConstraint("bot", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot: Mapped[str] = mapped_column(String(64), server_default="default")
    url: Mapped[str] = mapped_column(String(2048))
    etag: Mapped[str | None] = mapped_column(String(1024))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"FeedRow(id={self.id!r}, url={self.url!r})"


STATES = tuple(s.value for s in IssueState)


class IssueRow(Base):
    """An issue seen in a feed and what became of it."""

    __tablename__ = "issues"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid"),
        CheckConstraint("state IN ('" + "', '".join(STATES) + "')", name="state"),
        Index("ix_issues_link", "link"),
        Index("ix_issues_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(1024))
    link: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The date the thread's record keys are made from: `published` as first seen, never
    # updated by an edit (a crash, an edited date and a retry must address the same records).
    key_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), server_default=IssueState.SEEN.value)
    error: Mapped[str | None] = mapped_column(Text)
    # Failed because it left the feed (not because of `error`'s wording): news again if it comes
    # back. Set only with state failed.
    left_feed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The editor approved it after a review hold: the daemon posts it without holding it again.
    approved: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The content hash when the review held it: `approve` posts that version or refuses.
    held_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Bumped by a forced repost, so the new thread's posts sit beside the old ones.
    generation: Mapped[int] = mapped_column(Integer, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(256))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"IssueRow(id={self.id!r}, guid={self.guid!r}, state={self.state!r})"


class PostRow(Base):
    """One post of an issue's thread on Bluesky (place 0 is the root)."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("issue_id", "generation", "place"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(Integer, server_default="0")
    place: Mapped[int] = mapped_column(Integer)
    rkey: Mapped[str] = mapped_column(String(512))
    uri: Mapped[str] = mapped_column(String(2048))
    cid: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"PostRow(issue_id={self.issue_id!r}, place={self.place!r}, uri={self.uri!r})"


class HeartbeatRow(Base):
    """A bot's health as its passes left it, for `status --check` (which reads only the store)."""

    __tablename__ = "heartbeats"

    bot: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_pass_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a pass without error
    interval: Mapped[int] = mapped_column(Integer)  # seconds between passes (POLL_INTERVAL)
    last_error: Mapped[str | None] = mapped_column(Text)  # of the last pass, if it failed
    auth_error: Mapped[str | None] = mapped_column(Text)  # Bluesky refused the credentials
    feed_failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feed_alerted: Mapped[bool] = mapped_column(Boolean, server_default=false())

    def __repr__(self) -> str:
        return f"HeartbeatRow(bot={self.bot!r}, last_pass_at={self.last_pass_at!r})"


class BotLeaseRow(Base):
    """Which daemon serves a bot now: several daemons on one database divide the bots by these
    leases, renewed while the daemon lives and taken over when they run out."""

    __tablename__ = "bot_leases"

    bot: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))  # host:pid:token of the daemon
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"BotLeaseRow(bot={self.bot!r}, holder={self.holder!r})"


class DaemonRow(Base):
    """A running daemon, seen recently: how many share the bots (each takes its fair share)."""

    __tablename__ = "daemons"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)  # host:pid:token
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"DaemonRow(id={self.id!r})"


class BskySessionRow(Base):
    """The SDK's exported session for one account on one PDS. A secret: never logged or shown."""

    __tablename__ = "bsky_session"
    __table_args__ = (UniqueConstraint("handle", "service"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handle: Mapped[str] = mapped_column(String(256))
    service: Mapped[str] = mapped_column(String(2048))
    session: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # the session string stays out of reprs
        return f"BskySessionRow(handle={self.handle!r}, service={self.service!r})"
