"""The store for many bots at once: a daemon of thousands of bots reads and writes their feed
checks, heartbeats and leases a round at a time, in a few statements whatever the number of
bots (bot.service.checks), where one bot's pass uses a short transaction per step (bot.store.api).

Plain SQL Core statements, no ORM objects: for bots whose feeds answer 304 this is the daemon's
whole database work, so it stays a handful of statements per round. Rows are written in chunks of
`CHUNK` (SQLite allows ~32,000 bound values per statement); a round of up to `CHUNK` bots is one
statement per table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, false, func, select, update

from bot.store.models import BotLeaseRow, FeedRow, HeartbeatRow, IssueRow, IssueState
from bot.store.types import Heartbeat

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.store.api import Store

CHUNK = 1000
_PENDING = (IssueState.QUEUED.value, IssueState.POSTING.value)
_FREE = datetime(1970, 1, 1, tzinfo=UTC)  # a lease that ran out long ago: free for the taking
_NOBODY = ""


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


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT for this database (both dialects spell it the same way)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


class FleetRecords:
    """Batched reads and writes of `store`'s database for a daemon of many bots."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._insert = _upsert(store.dialect)
        stmt = self._insert(HeartbeatRow)
        # A good check of an unchanged feed, as `record_pass` records it: errors and a failing
        # feed's clock cleared, the credentials' state left as it is.
        self._beat = stmt.on_conflict_do_update(
            index_elements=[HeartbeatRow.bot],
            set_={"interval": stmt.excluded.interval, "last_pass_at": stmt.excluded.last_pass_at,
                  "last_ok_at": stmt.excluded.last_ok_at, "last_error": None,
                  "feed_failing_since": None, "feed_alerted": false()},
        )

    # -- feed checks --------------------------------------------------------------------------

    def check_states(self, feeds: Iterable[tuple[str, str]]) -> dict[str, CheckState]:
        """bot → its feed's validators and whether it has pending issues, for the (bot, feed
        URL) pairs given; a bot whose feed was never fetched is left out (its first fetch is a
        whole pass). Two SELECTs per chunk of bots."""
        wanted = dict(feeds)
        found: dict[str, CheckState] = {}
        names = list(wanted)
        with self.store._tx("reading the feeds of due bots", read_only=True) as s:
            for part in _chunks(names):
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
        now = self.store.now()
        beat = self._beat

        def fn(s: Session) -> None:
            for part in _chunks(checked):
                s.execute(update(FeedRow).where(FeedRow.id.in_([c.feed_id for c in part]))
                          .values(last_checked_at=now, last_outcome="not_modified")
                          .execution_options(synchronize_session=False))
                # One statement, many rows (executemany): compiled once, not once per round.
                s.execute(beat, [{"bot": c.bot, "interval": c.interval, "last_pass_at": now,
                                  "last_ok_at": now, "feed_alerted": False} for c in part])

        self.store._write("recording the checks of unchanged feeds", fn)

    def heartbeats(self) -> list[Heartbeat]:
        """Every bot's heartbeat, read as plain rows (no ORM objects: 10,000 bots' in ~50 ms),
        for `status --check` over a fleet."""
        cols = HeartbeatRow.__table__.c
        with self.store._tx("reading the heartbeats", read_only=True) as s:
            rows = s.execute(select(
                cols.bot, cols.last_pass_at, cols.last_ok_at, cols.interval, cols.last_error,
                cols.auth_error, cols.feed_failing_since)).all()
        return [Heartbeat(bot=r.bot, last_pass_at=r.last_pass_at, last_ok_at=r.last_ok_at,
                          interval=r.interval, last_error=r.last_error, auth_error=r.auth_error,
                          feed_failing_since=r.feed_failing_since, feed_alert_due=False)
                for r in rows]

    # -- leases ---------------------------------------------------------------------------------

    def held_by(self, daemon: str) -> list[str]:
        """The bots whose lease `daemon` holds (live or not yet taken by another)."""
        with self.store._tx("reading leases", read_only=True) as s:
            return list(s.scalars(select(BotLeaseRow.bot).where(BotLeaseRow.holder == daemon)
                                  .order_by(BotLeaseRow.bot)))

    def renew(self, daemon: str, lease_seconds: float) -> int:
        """Every lease `daemon` holds runs `lease_seconds` from now: one UPDATE."""
        until = self.store.now() + timedelta(seconds=lease_seconds)

        def fn(s: Session) -> int:
            result = s.execute(update(BotLeaseRow).where(BotLeaseRow.holder == daemon)
                               .values(expires_at=until)
                               .execution_options(synchronize_session=False))
            return int(result.rowcount)  # type: ignore[attr-defined]

        done: int = self.store._write("renewing leases", fn)
        return done

    def release(self, daemon: str, bots: Sequence[str]) -> None:
        """Give these bots back (free at once for any daemon)."""

        def fn(s: Session) -> None:
            for part in _chunks(bots):
                s.execute(update(BotLeaseRow)
                          .where(BotLeaseRow.holder == daemon, BotLeaseRow.bot.in_(part))
                          .values(holder=_NOBODY, expires_at=_FREE)
                          .execution_options(synchronize_session=False))

        self.store._write("releasing bots", fn)

    def take(self, daemon: str, bots: Sequence[str], count: int,
             lease_seconds: float) -> list[str]:
        """Up to `count` of `bots` that no live lease holds, now `daemon`'s: one UPDATE takes a
        slice of the free leases (rows locked and skipped by a concurrent daemon on Postgres),
        then one INSERT the bots that never had a lease. Returns the bots taken."""
        if count <= 0 or not bots:
            return []
        now = self.store.now()
        until = now + timedelta(seconds=lease_seconds)
        insert = self._insert
        names = list(bots)

        def fn(s: Session) -> list[str]:
            free = (select(BotLeaseRow.bot)
                    .where(BotLeaseRow.expires_at < now, BotLeaseRow.bot.in_(names))
                    .order_by(BotLeaseRow.bot).limit(count)
                    .with_for_update(skip_locked=True))
            taken = list(s.scalars(
                update(BotLeaseRow).where(BotLeaseRow.bot.in_(free.scalar_subquery()))
                .values(holder=daemon, expires_at=until)
                .returning(BotLeaseRow.bot).execution_options(synchronize_session=False)))
            short = count - len(taken)
            if short > 0:
                known = set(s.scalars(select(BotLeaseRow.bot).where(BotLeaseRow.bot.in_(names))))
                new = [b for b in names if b not in known][:short]
                for part in _chunks(new):
                    stmt = insert(BotLeaseRow).values(
                        [{"bot": b, "holder": daemon, "expires_at": until} for b in part])
                    taken += s.scalars(stmt.on_conflict_do_nothing(
                        index_elements=[BotLeaseRow.bot]).returning(BotLeaseRow.bot))
            return sorted(taken)

        result: list[str] = self.store._write("taking bots", fn)
        return result

    def forget(self, daemon: str) -> None:
        """A daemon gone (stopped, or killed on this host): its bots are free at once."""
        self.store._write("freeing a daemon's bots", lambda s: s.execute(
            delete(BotLeaseRow).where(BotLeaseRow.holder == daemon)))

    def serving(self) -> dict[str, int]:
        """daemon → how many bots it holds a live lease on, for `status`."""
        now = self.store.now()
        with self.store._tx("counting leases", read_only=True) as s:
            rows = s.execute(select(BotLeaseRow.holder, func.count())
                             .where(BotLeaseRow.expires_at >= now, BotLeaseRow.holder != _NOBODY)
                             .group_by(BotLeaseRow.holder).order_by(BotLeaseRow.holder)).all()
        return {holder: int(n) for holder, n in rows}
