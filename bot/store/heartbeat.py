"""Heartbeats: each bot's passes leave when they ran, whether they went well, and what is wrong
(refused credentials, a feed failing since when), so `status --check` needs only the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import HeartbeatRow
from bot.store.types import Heartbeat

FEED_ALERT_AFTER = timedelta(hours=1)


def _value(row: HeartbeatRow, alert_due: bool = False) -> Heartbeat:
    return Heartbeat(
        bot=row.bot, last_pass_at=row.last_pass_at, last_ok_at=row.last_ok_at,
        interval=row.interval, last_error=row.last_error, auth_error=row.auth_error,
        feed_failing_since=row.feed_failing_since, feed_alert_due=alert_due,
    )  # fmt: skip


class HeartbeatRecords:
    """The heartbeat methods of bot.store.api.Store (kept here: one job per module)."""

    now: Callable[[], datetime]
    _tx: Callable[..., Any]
    _write: Callable[[str, Callable[[Session], Any]], Any]

    def heartbeat(self, bot: str) -> Heartbeat | None:
        """The bot's last heartbeat, or None when no pass has run."""
        with self._tx("reading the heartbeat", read_only=True) as s:
            row = s.get(HeartbeatRow, bot)
            return _value(row) if row is not None else None

    def heartbeats(self) -> list[Heartbeat]:
        with self._tx("reading the heartbeats", read_only=True) as s:
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
            now = self.now()
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

        result: Heartbeat = self._write("recording the heartbeat", fn)
        return result
