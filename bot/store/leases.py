"""Leases and heartbeats: several daemons on one database divide the bots among themselves. A
daemon registers itself (seen now), takes free bots up to its fair share (bots / live daemons),
renews its leases while it lives, and lets a bot go when it holds more than its share; a dead
daemon's bots are free again when its leases run out. Each bot's passes leave a heartbeat: when
they ran, whether they went well, and what is wrong (refused credentials, a feed failing since
when), so `status --check` needs only the store.

The batch methods (held_by, renew, release, take, forget, serving, fleet_heartbeats) serve a
daemon of thousands of bots: plain SQL Core statements, a few per round whatever the number of
bots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.database import Database, chunks, upsert_for
from bot.store.models import BotLeaseRow, DaemonRow, HeartbeatRow
from bot.store.types import Heartbeat

FEED_ALERT_AFTER = timedelta(hours=1)
_FREE = datetime(1970, 1, 1, tzinfo=UTC)  # a lease that ran out long ago: free for the taking
_NOBODY = ""


def _value(row: HeartbeatRow, alert_due: bool = False) -> Heartbeat:
    return Heartbeat(
        bot=row.bot, last_pass_at=row.last_pass_at, last_ok_at=row.last_ok_at,
        interval=row.interval, last_error=row.last_error, auth_error=row.auth_error,
        feed_failing_since=row.feed_failing_since, feed_alert_due=alert_due,
    )  # fmt: skip


class Leases:
    """Daemons, their leases on bots, and the bots' heartbeats (of any bot: these take a name)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- daemons and bot leases ---------------------------------------------------------------

    def daemon_seen(self, daemon: str, alive_for: float) -> list[str]:
        """`daemon` is alive now; returns the daemons seen in the last `alive_for` seconds
        (itself included). Daemons not seen for ten times that are forgotten."""

        def fn(s: Session) -> list[str]:
            now = self._db.now()
            row = s.get(DaemonRow, daemon)
            if row is None:
                s.add(DaemonRow(id=daemon, seen_at=now))
            else:
                row.seen_at = now
            s.execute(delete(DaemonRow).where(
                DaemonRow.seen_at < now - timedelta(seconds=10 * alive_for)))
            s.flush()
            since = now - timedelta(seconds=alive_for)
            return list(s.scalars(select(DaemonRow.id).where(DaemonRow.seen_at >= since)
                                  .order_by(DaemonRow.id)))

        seen: list[str] = self._db.write("recording a daemon", fn)
        return seen

    def daemon_gone(self, daemon: str) -> None:
        """A daemon that stops cleanly says so, and lets its bots go at once."""

        def fn(s: Session) -> None:
            s.execute(delete(DaemonRow).where(DaemonRow.id == daemon))
            s.execute(delete(BotLeaseRow).where(BotLeaseRow.holder == daemon))

        self._db.write("forgetting a daemon", fn)

    def claim_bot(self, bot: str, holder: str, lease_seconds: float) -> bool:
        """Take or renew the lease on `bot`; False when another holder's lease is still live."""
        now = self._db.now()
        until = now + timedelta(seconds=lease_seconds)

        def fn(s: Session) -> bool:
            done = s.execute(
                update(BotLeaseRow)
                .where(BotLeaseRow.bot == bot,
                       or_(BotLeaseRow.holder == holder, BotLeaseRow.expires_at < now))
                .values(holder=holder, expires_at=until)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if done:
                return True
            if s.get(BotLeaseRow, bot) is not None:
                return False  # held by another, live
            s.add(BotLeaseRow(bot=bot, holder=holder, expires_at=until))
            s.flush()
            return True

        try:
            claimed: bool = self._db.write("claiming a bot", fn)
        except Exception as exc:  # another daemon inserted the lease first
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return claimed

    def release_bot(self, bot: str, holder: str) -> None:
        self._db.write("releasing a bot", lambda s: s.execute(
            delete(BotLeaseRow).where(BotLeaseRow.bot == bot, BotLeaseRow.holder == holder)))

    def bot_holders(self, bots: Iterable[str]) -> dict[str, tuple[str, datetime]]:
        """The live and expired leases on these bots: bot → (holder, expires_at)."""
        names = list(bots)
        with self._db.tx("reading bot leases", read_only=True) as s:
            rows = s.scalars(select(BotLeaseRow).where(BotLeaseRow.bot.in_(names)))
            return {r.bot: (r.holder, r.expires_at) for r in rows}

    # -- heartbeats ----------------------------------------------------------------------------

    def heartbeat(self, bot: str) -> Heartbeat | None:
        """The bot's last heartbeat, or None when no pass has run."""
        with self._db.tx("reading the heartbeat", read_only=True) as s:
            row = s.get(HeartbeatRow, bot)
            return _value(row) if row is not None else None

    def heartbeats(self) -> list[Heartbeat]:
        with self._db.tx("reading the heartbeats", read_only=True) as s:
            return [_value(r) for r in s.scalars(select(HeartbeatRow).order_by(HeartbeatRow.bot))]

    def record_pass(
        self,
        bot: str,
        *,
        interval: int,
        error: str | None = None,
        feed_failed: bool = False,
        auth_error: str | None = None,
        auth_ok: bool = False,
    ) -> Heartbeat:
        """A pass of `bot` ended, well (`error` None) or not. `feed_failed`: the feed could not
        be read (the failing-since clock starts, or goes on); `auth_error`: Bluesky refused the
        credentials; `auth_ok`: they worked (a refusal recorded before is forgotten). The
        returned heartbeat says whether the feed has now been failing for an hour, which is told
        once per outage."""

        def fn(s: Session) -> Heartbeat:
            now = self._db.now()
            row = s.get(HeartbeatRow, bot)
            if row is None:
                row = HeartbeatRow(bot=bot, interval=interval, feed_alerted=False)
                s.add(row)
            row.interval, row.last_pass_at = interval, now
            row.last_error = error
            if error is None:
                row.last_ok_at = now
            if auth_error is not None:
                row.auth_error = auth_error
            elif auth_ok:
                row.auth_error = None
            alert_due = False
            if feed_failed:
                row.feed_failing_since = row.feed_failing_since or now
                if not row.feed_alerted and now - row.feed_failing_since >= FEED_ALERT_AFTER:
                    row.feed_alerted = alert_due = True
            else:
                row.feed_failing_since, row.feed_alerted = None, False
            s.flush()
            return _value(row, alert_due)

        result: Heartbeat = self._db.write("recording the heartbeat", fn)
        return result

    # -- many bots at once ----------------------------------------------------------------------

    def fleet_heartbeats(self) -> list[Heartbeat]:
        """Every bot's heartbeat, read as plain rows (no ORM objects: 10,000 bots' in ~50 ms),
        for `status --check` over a fleet."""
        cols = HeartbeatRow.__table__.c
        with self._db.tx("reading the heartbeats", read_only=True) as s:
            rows = s.execute(select(
                cols.bot, cols.last_pass_at, cols.last_ok_at, cols.interval, cols.last_error,
                cols.auth_error, cols.feed_failing_since)).all()
        return [Heartbeat(bot=r.bot, last_pass_at=r.last_pass_at, last_ok_at=r.last_ok_at,
                          interval=r.interval, last_error=r.last_error, auth_error=r.auth_error,
                          feed_failing_since=r.feed_failing_since, feed_alert_due=False)
                for r in rows]

    def held_by(self, daemon: str) -> list[str]:
        """The bots whose lease `daemon` holds (live or not yet taken by another)."""
        with self._db.tx("reading leases", read_only=True) as s:
            return list(s.scalars(select(BotLeaseRow.bot).where(BotLeaseRow.holder == daemon)
                                  .order_by(BotLeaseRow.bot)))

    def renew(self, daemon: str, lease_seconds: float) -> int:
        """Every lease `daemon` holds runs `lease_seconds` from now: one UPDATE."""
        until = self._db.now() + timedelta(seconds=lease_seconds)

        def fn(s: Session) -> int:
            result = s.execute(update(BotLeaseRow).where(BotLeaseRow.holder == daemon)
                               .values(expires_at=until)
                               .execution_options(synchronize_session=False))
            return int(result.rowcount)  # type: ignore[attr-defined]

        done: int = self._db.write("renewing leases", fn)
        return done

    def release(self, daemon: str, bots: Sequence[str]) -> None:
        """Give these bots back (free at once for any daemon)."""

        def fn(s: Session) -> None:
            for part in chunks(bots):
                s.execute(update(BotLeaseRow)
                          .where(BotLeaseRow.holder == daemon, BotLeaseRow.bot.in_(part))
                          .values(holder=_NOBODY, expires_at=_FREE)
                          .execution_options(synchronize_session=False))

        self._db.write("releasing bots", fn)

    def take(self, daemon: str, bots: Sequence[str], count: int,
             lease_seconds: float) -> list[str]:
        """Up to `count` of `bots` that no live lease holds, now `daemon`'s: one UPDATE takes a
        slice of the free leases (rows locked and skipped by a concurrent daemon on Postgres),
        then one INSERT the bots that never had a lease. Returns the bots taken."""
        if count <= 0 or not bots:
            return []
        now = self._db.now()
        until = now + timedelta(seconds=lease_seconds)
        insert = upsert_for(self._db.dialect)
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
                for part in chunks(new):
                    stmt = insert(BotLeaseRow).values(
                        [{"bot": b, "holder": daemon, "expires_at": until} for b in part])
                    taken += s.scalars(stmt.on_conflict_do_nothing(
                        index_elements=[BotLeaseRow.bot]).returning(BotLeaseRow.bot))
            return sorted(taken)

        result: list[str] = self._db.write("taking bots", fn)
        return result

    def forget(self, daemon: str) -> None:
        """A daemon gone (stopped, or killed on this host): its bots are free at once."""
        self._db.write("freeing a daemon's bots", lambda s: s.execute(
            delete(BotLeaseRow).where(BotLeaseRow.holder == daemon)))

    def serving(self) -> dict[str, int]:
        """daemon → how many bots it holds a live lease on, for `status`."""
        now = self._db.now()
        with self._db.tx("counting leases", read_only=True) as s:
            rows = s.execute(select(BotLeaseRow.holder, func.count())
                             .where(BotLeaseRow.expires_at >= now, BotLeaseRow.holder != _NOBODY)
                             .group_by(BotLeaseRow.holder).order_by(BotLeaseRow.holder)).all()
        return {holder: int(n) for holder, n in rows}
