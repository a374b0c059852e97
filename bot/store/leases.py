"""Leases on bots: several daemons on one database divide the bots among themselves. A daemon
registers itself (seen now), takes free bots up to its fair share (bots / live daemons), renews
its leases while it lives, and lets a bot go when it holds more than its share; a dead daemon's
bots are free again when its leases run out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import BotLeaseRow, DaemonRow


class BotLeases:
    """The bot-lease methods of bot.store.api.Store (kept here: one job per module)."""

    now: Callable[[], datetime]
    _tx: Callable[..., Any]
    _write: Callable[[str, Callable[[Session], Any]], Any]

    def daemon_seen(self, daemon: str, alive_for: float) -> list[str]:
        """`daemon` is alive now; returns the daemons seen in the last `alive_for` seconds
        (itself included). Daemons not seen for ten times that are forgotten."""

        def fn(s: Session) -> list[str]:
            now = self.now()
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

        seen: list[str] = self._write("recording a daemon", fn)
        return seen

    def daemon_gone(self, daemon: str) -> None:
        """A daemon that stops cleanly says so, and lets its bots go at once."""

        def fn(s: Session) -> None:
            s.execute(delete(DaemonRow).where(DaemonRow.id == daemon))
            s.execute(delete(BotLeaseRow).where(BotLeaseRow.holder == daemon))

        self._write("forgetting a daemon", fn)

    def claim_bot(self, bot: str, holder: str, lease_seconds: float) -> bool:
        """Take or renew the lease on `bot`; False when another holder's lease is still live."""
        now = self.now()
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
            claimed: bool = self._write("claiming a bot", fn)
        except Exception as exc:  # another daemon inserted the lease first
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return claimed

    def release_bot(self, bot: str, holder: str) -> None:
        self._write("releasing a bot", lambda s: s.execute(
            delete(BotLeaseRow).where(BotLeaseRow.bot == bot, BotLeaseRow.holder == holder)))

    def bot_holders(self, bots: Iterable[str]) -> dict[str, tuple[str, datetime]]:
        """The live and expired leases on these bots: bot → (holder, expires_at)."""
        names = list(bots)
        with self._tx("reading bot leases", read_only=True) as s:
            rows = s.scalars(select(BotLeaseRow).where(BotLeaseRow.bot.in_(names)))
            return {r.bot: (r.holder, r.expires_at) for r in rows}
