"""`python -m bot run`: every bot polled on its own interval until SIGTERM or Ctrl-C.

- Migrations are applied at start (several processes starting at once is safe: the store
  serialises upgrades).
- APScheduler runs each bot's pass (`BotRunner.run_pass`) on its own interval trigger with
  jitter (up to a tenth of the interval, at most 30 s), one run at a time per bot, missed runs
  coalesced; passes of different bots run side by side in a bounded thread pool, so a slow feed,
  a refused password or a held issue in one bot never delays another.
- Several daemons may share one database (Postgres): each bot is served by the daemon holding
  its lease (bot.store.leases). A daemon takes free bots up to its fair share, renews its leases
  every quarter lease, and gives back bots beyond its share when another daemon joins; a daemon
  that dies has its bots taken over when its leases run out (two minutes), at once when it ran
  on this host. Issue claims still make every issue exactly-once if two daemons overlap.
- Why a BackgroundScheduler: the main thread only waits for a signal, and on one it stops the
  workers and shuts the scheduler down (wait=True) outside any scheduler lock. A running pass
  finishes the thread it is writing (a backoff in progress ends at once; the next run completes
  that thread), then the process exits 0; a write still hanging after STOP_GRACE seconds is
  abandoned (it is atomic) and the process exits 0 all the same. A second signal exits at once
  (exit 130; the exactly-once design makes that safe too).
- Nothing that goes wrong in a pass stops the daemon: a failing feed, PDS or database, even an
  unexpected bug, is one log line (`poll.failed …`; the same failure again in the next passes is
  not repeated above debug level) and that bot's next pass waits twice as long, up to
  `max_interval` (an hour), back to its interval after a good pass (`daemon.recovered`).
- A bot without credentials runs dry passes, and the daemon says so at start.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from types import FrameType
from typing import Any

from bot.errors import BotError
from bot.log import event
from bot.service.fleet import Fleet
from bot.service.health import record_pass, verify_refused_credentials
from bot.service.outcomes import Outcome
from bot.service.posting import holder_gone, process_id
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import Store

logger = logging.getLogger(__name__)

MAX_INTERVAL = 3600.0
LEASE_SECONDS = 120.0  # a dead daemon's bots are taken over within this (at once on this host)
MAX_THREADS = 8  # passes running side by side
# How long a stopping daemon waits for a pass writing a thread: platforms kill a process that
# has not exited some seconds after SIGTERM (Heroku 30 s, Docker 10 s): within 10 s, with room.
STOP_GRACE = 8.0
DRY_RUN_NOTICE = "dry run: no BSKY_HANDLE/BSKY_APP_PASSWORD, nothing will be posted"


def jitter_for(interval: float) -> float:
    return min(interval / 10, 30.0)


def daemon_id() -> str:
    return process_id()


class BotRunner:
    """One bot's passes: its worker, its interval (doubled after failures), its heartbeat.
    `turn` gives the worker while no other bot of its account is posting."""

    def __init__(
        self,
        settings: Settings,
        worker: Worker,
        *,
        max_interval: float = MAX_INTERVAL,
        turn: Callable[[], Any] | None = None,
        named: bool = False,
    ) -> None:
        self.settings = settings
        self.worker = worker
        self.base_interval = float(settings.poll_interval)
        self.max_interval = max(max_interval, self.base_interval)
        self.interval = self.base_interval
        self.failures = 0
        self.passes = 0
        self.running = False
        self.reschedule: Callable[[BotRunner, datetime | None], None] | None = None
        self._turn = turn
        self._bot = settings.name if named else None  # in log lines when there are several
        self._failing: str | None = None  # the error of the outage going on, once logged

    @property
    def name(self) -> str:
        return self.settings.name

    def run_pass(self) -> None:
        """One pass; never raises. Backs off after failures (see the module docstring)."""
        if self.worker.stopping:
            return
        self.running = True
        self.passes += 1
        failed, due = False, None
        try:
            if self._turn is not None:
                with self._turn():
                    failed, due = self._pass()
            else:
                failed, due = self._pass()
        except Exception as exc:  # a bug must not stop the daemon: say it, back off, go on
            failed = True
            event(logger, "poll.failed", logging.ERROR, bot=self._bot,
                  feed=self.settings.feed_url, error=f"{type(exc).__name__}: {exc}",
                  unexpected=True)  # fmt: skip
            logger.debug("traceback", exc_info=True)
        finally:
            self.running = False
        self.failures = self.failures + 1 if failed else 0
        interval = min(self.base_interval * 2**self.failures, self.max_interval)
        changed = interval != self.interval
        if changed and not self.worker.stopping:
            self.interval = interval
            event(
                logger,
                "daemon.backoff" if failed else "daemon.recovered",
                logging.WARNING if failed else logging.INFO,
                bot=self._bot,
                failures=self.failures,
                next_in=int(interval),
            )
        if self.reschedule is not None and (changed or due is not None):
            self.reschedule(self, due)

    def _pass(self) -> tuple[bool, datetime | None]:
        """The pass itself: (failed, when an issue waiting in its grace window goes out)."""
        try:
            try:
                result = self.worker.poll()
            except BotError as exc:
                record_pass(self.worker, error=exc)
                raise
            record_pass(self.worker, result)
        except BotError as exc:
            # One line per outage, not one per pass: a feed host whose name no longer resolves
            # fails the same way for hours, and the backoff already spaces the passes out.
            again = str(exc) == self._failing
            self._failing = str(exc)
            event(logger, "poll.still_failing" if again else "poll.failed",
                  logging.DEBUG if again else logging.ERROR, bot=self._bot,
                  feed=self.settings.feed_url, error=str(exc))  # fmt: skip
            return True, None
        self._failing = None
        # One line per pass, so an idle daemon is seen to be alive (and what it did).
        event(
            logger,
            "poll.done",
            bot=self._bot,
            feed=self.settings.feed_url,
            fetched=result.fetched,
            new=result.new,
            posted=result.count(Outcome.POSTED),
            waiting=result.count(Outcome.WAITING) or None,
            held=result.count(Outcome.HELD) or None,
            would_post=result.count(Outcome.WOULD_POST) or None,
            problems=len(result.problems) or None,
        )
        return any(o.outcome is Outcome.DEFERRED for o in result.outcomes), result.next_due


class Daemon:
    """Runs every bot's passes on a schedule; `run()` blocks until `stop()` (or a signal)."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        max_interval: float = MAX_INTERVAL,
        lease_seconds: float = LEASE_SECONDS,
        daemon: str | None = None,
    ) -> None:
        self.fleet = fleet
        self.store = fleet.store
        self.id = daemon or daemon_id()
        self._standing_by: dict[str, str] = {}  # bot → the other daemon serving it (said once)
        self.lease_seconds = lease_seconds
        named = len(fleet.bots) > 1
        self.runners = {
            s.name: BotRunner(s, fleet.workers[s.name], max_interval=max_interval,
                              turn=partial(fleet.turn, s.name), named=named)  # fmt: skip
            for s in fleet.bots
        }
        for runner in self.runners.values():
            runner.reschedule = self._reschedule
        self.owned: set[str] = set()
        self._stopped = threading.Event()
        self._scheduler: Any = None
        self._lock = threading.Lock()

    @property
    def passes(self) -> int:
        return sum(r.passes for r in self.runners.values())

    def stop(self) -> None:
        """Stop after the current passes' threads; `run()` then returns."""
        self.fleet.stop()
        self._stopped.set()

    def run(self) -> int:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        for s in self.fleet.bots:
            # A bot of BOTS_FILE keeps its handle and was named as a dry run when the file was
            # read (its password variable is unset); the environment's one bot is said here.
            if s.dry_run and not s.bsky_handle:
                logger.warning(DRY_RUN_NOTICE + (f" (bot {s.name})" if len(self.runners) > 1
                                                 else ""))
        first = self.fleet.bots[0]
        event(
            logger,
            "daemon.start",
            feed=first.feed_url if len(self.runners) == 1 else None,
            bots=len(self.runners) if len(self.runners) > 1 else None,
            interval=self.runners[first.name].base_interval if len(self.runners) == 1 else None,
            db=self.store.url,
            handle=first.bsky_handle if len(self.runners) == 1 else None,
        )
        self._leases()  # before the first passes: which bots are this daemon's
        threads = min(MAX_THREADS, len(self.runners) + 1)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(threads)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        now = datetime.now(UTC)
        for runner in self.runners.values():
            self._scheduler.add_job(
                self._run_bot, self._trigger(runner.interval), args=(runner.name,),
                id=self._job(runner.name), name=runner.name,
                next_run_time=now if runner.name in self.owned else None,
            )  # fmt: skip
        self._scheduler.add_job(
            self._leases, "interval", seconds=self._lease_tick(), id="leases", name="leases"
        )
        self._scheduler.start()
        try:
            while not self._stopped.wait(3600):
                pass
        finally:
            event(logger, "daemon.stopping", note="finishing the current thread, if any")
            if not self._finish_passes(STOP_GRACE):
                abandon_running_pass()
            self.fleet.close()
            leave(self.store, self.id)
        event(logger, "daemon.stopped", passes=self.passes)
        return 0

    def _finish_passes(self, grace: float) -> bool:
        """Shut the scheduler down, waiting up to `grace` seconds for running passes; False
        when one is still running then."""
        done = threading.Thread(target=self._scheduler.shutdown, kwargs={"wait": True},
                                name="stopping", daemon=True)
        done.start()
        done.join(grace)
        return not done.is_alive()

    @staticmethod
    def _job(name: str) -> str:
        return f"poll:{name}"

    def _lease_tick(self) -> float:
        """How often leases are renewed: a quarter lease, or sooner for short intervals."""
        shortest = min(r.base_interval for r in self.runners.values())
        return max(5.0, min(self.lease_seconds / 4, shortest))

    def _trigger(self, interval: float) -> Any:
        from apscheduler.triggers.interval import IntervalTrigger

        return IntervalTrigger(seconds=interval, jitter=jitter_for(interval), timezone=UTC)

    def _run_bot(self, name: str) -> None:
        if name in self.owned and not self._stopped.is_set():
            self.runners[name].run_pass()

    def _reschedule(self, runner: BotRunner, due: datetime | None) -> None:
        """A new interval after a backoff or recovery; an earlier run when an issue's grace
        window ends before the next pass."""
        if self._scheduler is None or self._stopped.is_set():
            return
        job_id = self._job(runner.name)
        job = self._scheduler.get_job(job_id)
        if job is None:
            return
        if job.trigger.interval.total_seconds() != runner.interval:
            self._scheduler.reschedule_job(job_id, trigger=self._trigger(runner.interval))
            job = self._scheduler.get_job(job_id)
        if due is not None and (job.next_run_time is None or due < job.next_run_time):
            self._scheduler.modify_job(job_id, next_run_time=max(due, datetime.now(UTC)))
            event(logger, "daemon.wake_at", due=due.isoformat(), note="a grace window ends")

    def _leases(self) -> None:
        """Take, renew or give back bots' leases (see the module docstring); never raises."""
        try:
            self._balance()
        except BotError as exc:
            event(logger, "daemon.leases_failed", logging.WARNING, error=str(exc))

    def _balance(self) -> None:
        names = list(self.runners)
        seen = self.store.leases.daemon_seen(self.id, alive_for=self.lease_seconds)
        gone = [d for d in seen if holder_gone(d, self.id)]
        for daemon in gone:  # killed on this host: not counted, its bots free at once
            self.store.leases.daemon_gone(daemon)
            event(logger, "daemon.gone", daemon=daemon, note="its process is gone from this host")
        live = len(seen) - len(gone)
        fair = math.ceil(len(names) / max(live, 1))
        holders = self.store.leases.bot_holders(names)
        mine = [n for n in names if holders.get(n, ("",))[0] == self.id]
        keep = mine[:fair]
        for name in mine[fair:]:  # another daemon joined: give back what is beyond our share
            if self.runners[name].running:
                keep.append(name)
                continue
            self.store.leases.release_bot(name, self.id)
            event(logger, "daemon.bot_released", bot=name, daemons=live)
        owned = {n for n in keep if self.store.leases.claim_bot(n, self.id, self.lease_seconds)}
        for name in names:
            if len(owned) >= fair or name in owned or name in mine:
                continue
            holder = holders.get(name, (None, None))[0]
            if holder is not None and holder_gone(holder, self.id):
                self.store.leases.release_bot(name, holder)  # a daemon killed on this host
            if self.store.leases.claim_bot(name, self.id, self.lease_seconds):
                owned.add(name)
                event(logger, "daemon.bot_taken", bot=name, daemons=live,
                      previous=holder if holder else None)  # fmt: skip
                if name in self._standing_by:  # said in words: the editor saw it stand by
                    before = self._standing_by.pop(name)
                    event(logger, "daemon.taking_over", bot=name,
                          note=f"bot {name} was served by {_who(before)}; this daemon serves "
                               "it now")
                if self._scheduler is not None:  # its first pass now, not an interval later
                    self._scheduler.modify_job(self._job(name), next_run_time=datetime.now(UTC))
            elif holder and holder != self.id and self._standing_by.get(name) != holder:
                self._standing_by[name] = holder  # said once per holder, until it takes over
                event(logger, "daemon.standing_by", bot=name,
                      note=f"bot {name} is served by {_who(holder)}; standing by")
        with self._lock:
            self.owned = owned


def _who(holder: str | None) -> str:
    """A daemon's id (host:pid:token) in words: "another daemon (pid 1234 on host x)"."""
    host, _, rest = (holder or "").partition(":")
    pid = rest.partition(":")[0]
    return f"another daemon (pid {pid} on host {host})" if host and pid else "another daemon"


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


def build_daemon(bots: Sequence[Settings]) -> tuple[Store, Daemon]:
    """The store (migrated) and the daemon of `bots`, as `run` starts them."""
    store = Store(bots[0].database_url, bot=None)
    store.upgrade()
    ident = daemon_id()
    fleet = Fleet(bots, store, worker_id=ident)
    # one read, not one per bot
    refused = {b.bot for b in store.leases.heartbeats() if b.auth_error}
    for name in refused & set(fleet.workers):
        verify_refused_credentials(fleet.workers[name])
    if len(bots) >= rounds_from():
        from bot.service.checks import RoundsDaemon  # imports this module: not at the top

        return store, RoundsDaemon(fleet, daemon=ident)
    return store, Daemon(fleet, daemon=ident)


def rounds_from() -> int:
    """From how many bots a daemon checks its feeds in rounds (bot.service.checks)."""
    from bot.service.checks import ROUNDS_FROM

    return ROUNDS_FROM


def run_daemon(bots: Sequence[Settings]) -> int:
    """Migrate, then poll every bot on schedule until a signal. Returns the exit status (0)."""
    store, daemon = build_daemon(bots)
    install_signal_handlers(daemon.stop)
    try:
        return daemon.run()
    finally:
        store.close()


def abandon_running_pass() -> None:
    """Exit now, leaving a pass that is still running after STOP_GRACE. A write that hangs (a
    PDS answering late) must not keep a stopping daemon past the platform's patience:
    applyWrites is atomic, so leaving now leaves the thread whole or absent, and the next start
    completes it."""
    event(logger, "daemon.abandoned", logging.WARNING, after=STOP_GRACE,
          note="a pass still running is left; its thread is completed at the next start")
    logging.shutdown()
    os._exit(0)


def leave(store: Store, daemon_id: str) -> None:
    """Release this daemon's leases, so its bots are free for the others at once."""
    try:
        store.leases.daemon_gone(daemon_id)
    except BotError as exc:
        event(logger, "daemon.leases_kept", logging.WARNING, error=str(exc))
