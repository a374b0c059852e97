"""Feeds: each bot's feed, its validators (ETag, Last-Modified) and its last check; and, for a
daemon of thousands of bots, the same read and written a round at a time in a few statements
whatever the number of bots (bot.service.checks), where one bot's pass uses a short transaction
per step. The batch reads and writes are plain SQL Core statements, no ORM objects: for bots
whose feeds answer 304 this is the daemon's whole database work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import false, func, select, update
from sqlalchemy.orm import Session

from bot.store.database import Database, chunks, upsert_for
from bot.store.models import FeedRow, HeartbeatRow, IssueRow, IssueState
from bot.store.types import FeedState

_PENDING = (IssueState.QUEUED.value, IssueState.POSTING.value)


@dataclass(frozen=True)
class CheckState:
    """What a conditional GET of one bot's feed needs from the store."""

    feed_id: int
    etag: str | None
    last_modified: str | None
    pending: bool  # issues queued or posting: the feed must be fetched whole (no 304 path)


@dataclass(frozen=True)
class Checked:
    """One bot's feed answered 304: its check and its heartbeat are written."""

    bot: str
    feed_id: int
    interval: int


def feed_row(db: Database, session: Session, url: str) -> FeedRow:
    """The bot's row of this feed, made when it is new."""
    bot = db.writer
    row = session.scalar(select(FeedRow).where(FeedRow.bot == bot, FeedRow.url == url))
    if row is None:
        row = FeedRow(bot=bot, url=url, created_at=db.now())
        session.add(row)
        session.flush()
    return row


class Feeds:
    """The feeds of the database's bot (the batch methods: of the bots they are given)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, url: str) -> FeedState:
        """The feed's validators, last check and how many of its issues are queued or posting
        (empty for a feed never seen)."""
        with self._db.tx("reading the feed", read_only=True) as s:
            row = s.scalar(select(FeedRow).where(FeedRow.bot == self._db.writer,
                                                 FeedRow.url == url))
            if row is None:
                return FeedState(url=url)
            pending = s.scalar(select(func.count()).select_from(IssueRow).where(
                IssueRow.feed_id == row.id, IssueRow.state.in_(_PENDING)))
            return FeedState(url=url, etag=row.etag, last_modified=row.last_modified,
                             last_checked_at=row.last_checked_at, last_outcome=row.last_outcome,
                             pending=int(pending or 0))

    def save_validators(self, url: str, etag: str | None, last_modified: str | None,
                        outcome: str | None = None) -> None:
        """Remember the feed's ETag and Last-Modified, for the next conditional GET (and, given
        `outcome`, the check as record_check does: one transaction for both)."""
        db = self._db

        def fn(s: Session) -> None:
            row = feed_row(db, s, url)
            row.etag, row.last_modified = etag, last_modified
            if outcome is not None:
                row.last_checked_at, row.last_outcome = db.now(), outcome

        db.write("saving the feed's validators", fn)

    def record_check(self, url: str, outcome: str) -> None:
        """Remember when the feed was last checked and how it went (e.g. 'not-modified')."""
        db = self._db

        def fn(s: Session) -> None:
            row = feed_row(db, s, url)
            row.last_checked_at, row.last_outcome = db.now(), outcome

        db.write("recording the feed check", fn)

    # -- many bots at once ------------------------------------------------------------------------

    @cached_property
    def _beat(self) -> Any:
        stmt = upsert_for(self._db.dialect)(HeartbeatRow)
        # A good check of an unchanged feed, as `record_pass` records it: errors and a failing
        # feed's clock cleared, the credentials' state left as it is.
        return stmt.on_conflict_do_update(
            index_elements=[HeartbeatRow.bot],
            set_={"interval": stmt.excluded.interval, "last_pass_at": stmt.excluded.last_pass_at,
                  "last_ok_at": stmt.excluded.last_ok_at, "last_error": None,
                  "feed_failing_since": None, "feed_alerted": false()},
        )

    def check_states(self, feeds: Iterable[tuple[str, str]]) -> dict[str, CheckState]:
        """bot → its feed's validators and whether it has pending issues, for the (bot, feed
        URL) pairs given; a bot whose feed was never fetched is left out (its first fetch is a
        whole pass). Two SELECTs per chunk of bots."""
        wanted = dict(feeds)
        found: dict[str, CheckState] = {}
        names = list(wanted)
        with self._db.tx("reading the feeds of due bots", read_only=True) as s:
            for part in chunks(names):
                rows = s.execute(
                    select(FeedRow.id, FeedRow.bot, FeedRow.url, FeedRow.etag,
                           FeedRow.last_modified).where(FeedRow.bot.in_(part))
                ).all()
                mine = {r.id: r for r in rows if wanted.get(r.bot) == r.url}
                pending = set(s.scalars(
                    select(IssueRow.feed_id).distinct()
                    .join(FeedRow, IssueRow.feed_id == FeedRow.id)
                    .where(FeedRow.bot.in_(part), IssueRow.state.in_(_PENDING))
                )) if mine else set()
                for feed_id, r in mine.items():
                    found[r.bot] = CheckState(feed_id, r.etag, r.last_modified,
                                              feed_id in pending)
        return found

    def record_not_modified(self, checked: Sequence[Checked]) -> None:
        """These bots' feeds answered 304 now: each feed's check and each bot's heartbeat (a
        good pass: errors and a failing feed's clock are cleared, as `record_pass` does), in
        one transaction, one UPDATE and one upsert per chunk."""
        if not checked:
            return
        now = self._db.now()
        beat = self._beat

        def fn(s: Session) -> None:
            for part in chunks(checked):
                s.execute(update(FeedRow).where(FeedRow.id.in_([c.feed_id for c in part]))
                          .values(last_checked_at=now, last_outcome="not_modified")
                          .execution_options(synchronize_session=False))
                # One statement, many rows (executemany): compiled once, not once per round.
                s.execute(beat, [{"bot": c.bot, "interval": c.interval, "last_pass_at": now,
                                  "last_ok_at": now, "feed_alerted": False} for c in part])

        self._db.write("recording the checks of unchanged feeds", fn)
