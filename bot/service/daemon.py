"""`python -m bot run`: a poll every POLL_INTERVAL seconds until SIGTERM or Ctrl-C.

- Migrations are applied at start (several processes starting at once is safe: the store
  serialises upgrades).
- APScheduler runs `Worker.poll` on an interval trigger with jitter (up to a tenth of the
  interval, at most 30 s), one run at a time (max_instances=1), missed runs coalesced into one;
  the first run starts immediately.
- Why a BackgroundScheduler and not a BlockingScheduler: the main thread then only waits for a
  signal, and on one it calls `Worker.stop()` and `shutdown(wait=True)` outside any scheduler
  lock. The running pass finishes the thread it is writing (a backoff in progress ends at once;
  the next run completes that thread), then the process exits 0. A second signal exits at once
  (exit 130; the exactly-once design makes that safe too).
- Nothing that goes wrong in a pass stops the daemon: a failing feed, PDS or database, even an
  unexpected bug, is one log line (`poll.failed …`; issues are named by the worker's own
  lines such as `issue.deferred link=…`) and the next pass waits twice as long, up to
  `max_interval` (an hour), back to POLL_INTERVAL after a good pass.
- Without BSKY_HANDLE/BSKY_APP_PASSWORD it says so at start and runs dry passes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from bot.errors import BotError
from bot.log import event
from bot.service.health import record_pass, verify_refused_credentials
from bot.service.outcomes import Outcome
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import Store

logger = logging.getLogger(__name__)

MAX_INTERVAL = 3600.0
DRY_RUN_NOTICE = "dry run: no BSKY_HANDLE/BSKY_APP_PASSWORD, nothing will be posted"


def jitter_for(interval: float) -> float:
    return min(interval / 10, 30.0)


class Daemon:
    """Runs a Worker's passes on a schedule; `run()` blocks until `stop()` (or a signal)."""

    def __init__(
        self, settings: Settings, worker: Worker, *, max_interval: float = MAX_INTERVAL
    ) -> None:
        self.settings = settings
        self.worker = worker
        self.base_interval = float(settings.poll_interval)
        self.max_interval = max(max_interval, self.base_interval)
        self.interval = self.base_interval
        self.failures = 0
        self.passes = 0
        self._stopped = threading.Event()
        self._scheduler: Any = None

    def stop(self) -> None:
        """Stop after the current pass's thread; `run()` then returns."""
        self.worker.stop()
        self._stopped.set()

    def run(self) -> int:
        from apscheduler.schedulers.background import BackgroundScheduler

        if self.settings.dry_run:
            logger.warning(DRY_RUN_NOTICE)
        event(
            logger,
            "daemon.start",
            feed=self.settings.feed_url,
            interval=self.base_interval,
            db=self.worker.store.url,
            handle=self.settings.bsky_handle,
        )
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        self._scheduler.add_job(
            self.run_pass, self._trigger(), id="poll", name="poll", next_run_time=datetime.now(UTC)
        )
        self._scheduler.start()
        try:
            while not self._stopped.wait(3600):
                pass
        finally:
            event(logger, "daemon.stopping", note="finishing the current thread, if any")
            self._scheduler.shutdown(wait=True)
            self.worker.close()
        event(logger, "daemon.stopped", passes=self.passes)
        return 0

    def _trigger(self) -> Any:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(
            seconds=self.interval, jitter=jitter_for(self.interval), timezone=UTC
        )

    def run_pass(self) -> None:
        """One pass; never raises. Backs off after failures (see the module docstring)."""
        if self._stopped.is_set():
            return
        self.passes += 1
        failed = False
        try:
            try:
                result = self.worker.poll()
            except BotError as exc:
                record_pass(self.worker, error=exc)
                raise
            record_pass(self.worker, result)
            self._wake_at(result.next_due)
            deferred = [o for o in result.outcomes if o.outcome is Outcome.DEFERRED]
            failed = bool(deferred)
            # One line per pass, so an idle daemon is seen to be alive (and what it did).
            event(
                logger,
                "poll.done",
                feed=self.settings.feed_url,
                fetched=result.fetched,
                new=result.new,
                posted=result.count(Outcome.POSTED),
                waiting=result.count(Outcome.WAITING) or None,
                held=result.count(Outcome.HELD) or None,
                would_post=result.count(Outcome.WOULD_POST) or None,
                problems=len(result.problems) or None,
            )
        except BotError as exc:
            failed = True
            event(logger, "poll.failed", logging.ERROR, feed=self.settings.feed_url, error=str(exc))
        except Exception as exc:  # a bug must not stop the daemon: say it, back off, go on
            failed = True
            event(
                logger,
                "poll.failed",
                logging.ERROR,
                feed=self.settings.feed_url,
                error=f"{type(exc).__name__}: {exc}",
                unexpected=True,
            )
            logger.debug("traceback", exc_info=True)
        self.failures = self.failures + 1 if failed else 0
        interval = min(self.base_interval * 2**self.failures, self.max_interval)
        if interval != self.interval and not self._stopped.is_set():
            self.interval = interval
            event(
                logger,
                "daemon.backoff" if failed else "daemon.recovered",
                logging.WARNING if failed else logging.INFO,
                failures=self.failures,
                next_in=int(interval),
            )
            if self._scheduler is not None:  # None when a pass is run by hand (tests)
                self._scheduler.reschedule_job("poll", trigger=self._trigger())


    def _wake_at(self, due: datetime | None) -> None:
        """Run the next pass when an issue's grace window ends, if that is before the next
        scheduled pass (it then goes out on time, not up to POLL_INTERVAL later)."""
        if due is None or self._scheduler is None:
            return
        job = self._scheduler.get_job("poll")
        if job is not None and (job.next_run_time is None or due < job.next_run_time):
            self._scheduler.modify_job("poll", next_run_time=max(due, datetime.now(UTC)))
            event(logger, "daemon.wake_at", due=due.isoformat(), note="a grace window ends")


def install_signal_handlers(on_stop: Callable[[], None]) -> None:
    """SIGTERM/SIGINT → `on_stop()`; a second one exits at once (130)."""
    seen: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if seen:
            os._exit(130)
        seen.append(signum)
        event(
            logger,
            "signal.received",
            signal=signal.Signals(signum).name,
            note="stopping after the current thread; send again to exit now",
        )
        on_stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_daemon(settings: Settings) -> int:
    """Migrate, then poll on schedule until a signal. Returns the exit status (0)."""
    store = Store(settings.database_url)
    store.upgrade()
    worker = Worker(settings, store)
    verify_refused_credentials(worker)
    daemon = Daemon(settings, worker)
    install_signal_handlers(daemon.stop)
    try:
        return daemon.run()
    finally:
        store.close()
