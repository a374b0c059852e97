"""A daemon of many bots (`python -m bot run` with a BOTS_FILE of `ROUNDS_FROM` bots or more):
each bot's check costs one conditional GET and almost nothing else.

Every round (about a second):
1. the bots due now (bot.service.schedule: each on its stable slot in its interval) are taken
   from the schedule;
2. their feeds' validators and whether they have issues pending are read in one go
   (bot.store.feeds: two SELECTs, whatever the number of bots);
3. each feed gets a conditional GET on one event loop (bot.feed_checks: aiohttp, keep-alive,
   connections per host capped, a deadline per request), side by side;
4. the feeds that answered 304 have their checks and heartbeats written together (one UPDATE
   and one upsert per round), and nothing is logged per bot: one `daemon.checks` line a minute
   says how many were due and done;
5. any other bot — its feed changed (the 200 is handed over, not fetched again), failed, has
   issues pending, is a local file, a dry run, or is backing off after failures — gets the
   ordinary pass (`BotRunner.run_pass`: `Worker.poll`, its heartbeat, its alerts, its log lines)
   in a bounded thread pool, as the daemon of a few bots does.

Several such daemons on one Postgres divide the bots by leases claimed in batches (one UPDATE
takes a slice of the free leases: `Leases.take`), each up to its fair share; a daemon that
cannot keep up says so (`daemon.behind`, due vs done per minute) and `status --check` does too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import BotError
from bot.log import event
from bot.service.daemon import (
    DRY_RUN_NOTICE,
    MAX_INTERVAL,
    MAX_THREADS,
    STOP_GRACE,
    BotRunner,
    Daemon,
    abandon_running_pass,
    leave,
)
from bot.service.posting import holder_gone
from bot.service.schedule import Schedule, next_slot
from bot.service.worker import is_url
from bot.store.feeds import Checked, CheckState

if TYPE_CHECKING:
    from bot.feed_checks import FeedChecks
    from bot.service.fleet import Fleet

logger = logging.getLogger(__name__)

ROUNDS_FROM = 50  # bots in a daemon from which it checks in rounds (below: one job per bot)
ROUND = 1.0  # seconds between rounds at most
MIN_WAIT = 0.5  # ... and at least, so a round gathers the bots due meanwhile
BEHIND = 0.9  # fewer checks done than this share of those due in a minute: behind
LEASE_SECONDS = 90.0  # a dead daemon's bots are taken over within this plus a lease tick


@dataclass
class Minute:
    """The checks of the current minute, for the `daemon.checks` line."""

    due: int = 0
    done: int = 0
    unchanged: int = 0  # 304s
    passes: int = 0  # ordinary passes (changed, pending, failing …)
    failed: int = 0
    late: float = 0.0  # the longest a bot waited past its slot, seconds

    def clear(self) -> None:
        for f in fields(self):
            setattr(self, f.name, f.default)


class RoundsDaemon(Daemon):
    """The daemon of many bots (see the module docstring); `run()` blocks until `stop()`."""

    def __init__(self, fleet: Fleet, *, max_interval: float = MAX_INTERVAL,
                 lease_seconds: float = LEASE_SECONDS, daemon: str | None = None,
                 threads: int = MAX_THREADS, checks: FeedChecks | None = None) -> None:
        super().__init__(fleet, max_interval=max_interval, lease_seconds=lease_seconds,
                         daemon=daemon)
        self.schedule = Schedule()
        self.minute = Minute()
        self.checked = 0  # 304 checks written, since the start
        self.completed = 0  # checks and passes finished, since the start
        self.busy: set[str] = set()  # being checked or in a pass now
        self._threads = threads
        self._checks = checks
        self._own_checks = checks is None
        self._done: list[Checked] = []
        self._wake: dict[str, datetime] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def passes(self) -> int:
        return self.checked + sum(r.passes for r in self.runners.values())

    # -- running --------------------------------------------------------------------------------

    def run(self) -> int:
        from bot.feed_checks import FeedChecks

        # As Daemon.run: a bot of BOTS_FILE without its password was named when the file was read.
        dry = sum(1 for s in self.fleet.bots if s.dry_run and not s.bsky_handle)
        if dry:
            logger.warning(DRY_RUN_NOTICE + f" ({dry} bots)")
        first = self.fleet.bots[0]
        event(logger, "daemon.start", bots=len(self.runners), db=self.store.url,
              interval=first.poll_interval, rounds=True)  # fmt: skip
        if self._checks is None:
            self._checks = FeedChecks()
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="pass")
        future = self._checks.submit(self._loop())
        try:
            while not self._stopped.wait(1.0) and not future.done():
                pass
            future.result()
        finally:
            event(logger, "daemon.stopping", note="finishing the current thread, if any")
            self._stopped.set()
            self.fleet.stop()
            if not self._finish_pool(STOP_GRACE):  # as Daemon.run: a hanging write is left
                abandon_running_pass()
            if self._own_checks:
                self._checks.close()
            self.fleet.close()
            leave(self.store, self.id)
        event(logger, "daemon.stopped", passes=self.passes)
        return 0

    def _finish_pool(self, grace: float) -> bool:
        """Wait up to `grace` seconds for the passes running (those not started are dropped);
        False when one is still running then."""
        assert self._pool is not None
        pool = self._pool
        done = threading.Thread(target=pool.shutdown, kwargs={"wait": True,
                                                              "cancel_futures": True},
                                name="stopping", daemon=True)
        done.start()
        done.join(grace)
        return not done.is_alive()

    async def _loop(self) -> None:
        assert self._checks is not None
        checks = self._checks
        tick = self._lease_tick()
        started = time.time()
        await self._apply_leases(await checks.in_thread(self._leases_now), first=True)
        next_lease, minute_from = started + tick, started
        while not self._stopped.is_set():
            now = time.time()
            try:
                if now >= next_lease:
                    await self._apply_leases(await checks.in_thread(self._leases_now))
                    next_lease = now + tick
                due = self.schedule.due(now)
                if due:
                    await self._round(due, now)
                if self._done:
                    await self._flush()
                if now - minute_from >= 60.0:
                    self._report(now - minute_from)
                    minute_from = now
            except Exception as exc:  # a bug must not stop the daemon: say it, go on
                event(logger, "daemon.round_failed", logging.ERROR,
                      error=f"{type(exc).__name__}: {exc}", unexpected=True)
                logger.debug("traceback", exc_info=True)
            nxt = self.schedule.next_time()
            wait = ROUND if nxt is None else min(ROUND, max(MIN_WAIT, nxt - time.time()))
            await asyncio.sleep(wait)
        for task in list(self._tasks):  # a check in flight is simply not done: nothing to undo
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._done:
            await self._flush()

    # -- leases ---------------------------------------------------------------------------------

    def _leases_now(self) -> tuple[list[str], list[str], list[str]] | None:
        """Register, take and give back leases in a few statements (in a thread: the store is
        synchronous). (owned, taken, released), or None when the database failed."""
        try:
            return self._balance_batch()
        except BotError as exc:
            event(logger, "daemon.leases_failed", logging.WARNING, error=str(exc))
            return None

    def _balance_batch(self) -> tuple[list[str], list[str], list[str]]:
        store, leases = self.store, self.store.leases
        seen = store.leases.daemon_seen(self.id, alive_for=self.lease_seconds)
        gone = [d for d in seen if holder_gone(d, self.id)]
        for daemon in gone:  # killed on this host: not counted, its bots free at once
            store.leases.daemon_gone(daemon)
            event(logger, "daemon.gone", daemon=daemon, note="its process is gone from this host")
        live = len(seen) - len(gone)
        names = list(self.runners)
        fair = math.ceil(len(names) / max(live, 1))
        known = set(names)
        mine = [n for n in leases.held_by(self.id) if n in known]
        busy = set(self.busy)
        extra = [n for n in mine[fair:] if n not in busy]
        if extra:  # another daemon joined: give back what is beyond our share
            leases.release(self.id, extra)
            event(logger, "daemon.bots_released", bots=len(extra), daemons=live)
        released = set(extra)
        kept = [n for n in mine if n not in released]
        leases.renew(self.id, self.lease_seconds)
        taken = leases.take(self.id, names, fair - len(kept), self.lease_seconds)
        if taken:
            event(logger, "daemon.bots_taken", bots=len(taken), daemons=live,
                  serving=len(kept) + len(taken))  # fmt: skip
        return kept + taken, taken, extra

    async def _apply_leases(self, leases: tuple[list[str], list[str], list[str]] | None,
                            first: bool = False) -> None:
        if leases is None:
            return
        owned, taken, released = leases
        now = time.time()
        with self._lock:
            self.owned = set(owned)
        for name in released:
            self.schedule.remove(name)
        for name in taken:
            if name in self.busy:
                continue
            runner = self.runners[name]
            # At start every bot is checked at once (the first pass); a bot taken later is
            # checked on its slot, which its previous daemon used too.
            self.schedule.at(name, now if first else next_slot(name, runner.interval, now))

    # -- rounds ---------------------------------------------------------------------------------

    def _hot(self, runner: BotRunner) -> bool:
        """Whether a 304 can settle this bot's check (else the ordinary pass)."""
        s = runner.settings
        return not s.dry_run and runner.failures == 0 and is_url(s.feed_url)

    async def _round(self, due: list[tuple[str, float]], now: float) -> None:
        assert self._checks is not None
        names = []
        for name, when in due:
            if name not in self.owned or name in self.busy:
                continue
            names.append(name)
            self.minute.late = max(self.minute.late, now - when)
        self.minute.due += len(names)
        self.busy.update(names)
        hot = [(n, self.runners[n].settings.feed_url) for n in names if self._hot(self.runners[n])]
        try:
            states = await self._checks.in_thread(self.store.feeds.check_states, hot) if hot else {}
        except BotError as exc:
            event(logger, "daemon.checks_failed", logging.WARNING, error=str(exc))
            states = {}
        for name in names:
            state = states.get(name)
            if state is None or state.pending or not (state.etag or state.last_modified):
                self._pass(name)  # never fetched, issues pending, or not a 304 candidate
                continue
            task = asyncio.get_running_loop().create_task(self._check(name, state))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _check(self, name: str, state: CheckState) -> None:
        from bot.feed import Validators

        assert self._checks is not None
        runner = self.runners[name]
        validators = Validators(state.etag, state.last_modified)
        try:
            check = await self._checks.check(runner.settings.feed_url, validators)
        except Exception as exc:  # never a bot lost from the schedule: its ordinary pass
            event(logger, "daemon.check_failed", logging.ERROR, bot=name,
                  error=f"{type(exc).__name__}: {exc}", unexpected=True)
            self._pass(name)
            return
        if check.not_modified:
            self._done.append(Checked(name, state.feed_id, runner.settings.poll_interval))
            return
        if check.result is not None and self.fleet.feeds is not None:
            self.fleet.feeds.remember(check.result, validators)  # the pass takes it from here
        self._pass(name)

    def _pass(self, name: str) -> None:
        """The ordinary pass of bot `name`, in the thread pool."""
        assert self._pool is not None
        loop = asyncio.get_running_loop()
        runner = self.runners[name]
        future = self._pool.submit(runner.run_pass)
        future.add_done_callback(lambda _f: loop.call_soon_threadsafe(self._passed, name))

    def _passed(self, name: str) -> None:
        runner = self.runners[name]
        self.completed += 1
        self.minute.done += 1
        self.minute.passes += 1
        self.minute.failed += runner.failures > 0
        self._again(name, runner, wake=self._wake.pop(name, None))

    def _again(self, name: str, runner: BotRunner, wake: datetime | None = None) -> None:
        """Back in the schedule: its next slot, or its backoff after failures, or sooner when
        an issue's grace window ends first."""
        self.busy.discard(name)
        if name not in self.owned or self._stopped.is_set():
            return
        now = time.time()
        if runner.failures:
            when = now + runner.interval
        else:
            # Its slot after the one just done (even when that one ran late, up to half an
            # interval); after the first pass at start-up, at least half an interval away.
            when = next_slot(name, runner.base_interval, now + runner.base_interval / 2)
        if wake is not None:
            when = min(when, max(now, wake.timestamp()))
        self.schedule.at(name, when)

    def _reschedule(self, runner: BotRunner, due: datetime | None) -> None:
        """From a pass (in a pool thread): remember when a waiting issue goes out; the new
        interval of a backoff is read by `_again`."""
        if due is not None:
            self._wake[runner.name] = due

    async def _flush(self) -> None:
        """Write the 304s of the round (one transaction), then put their bots back."""
        assert self._checks is not None
        done, self._done = self._done, []
        try:
            await self._checks.in_thread(self.store.feeds.record_not_modified, done)
        except BotError as exc:  # their heartbeats stay as they were: status --check sees it
            event(logger, "daemon.checks_failed", logging.WARNING, error=str(exc),
                  bots=len(done))  # fmt: skip
        else:
            self.checked += len(done)
            self.completed += len(done)
            self.minute.unchanged += len(done)
            self.minute.done += len(done)
        for c in done:
            self._again(c.bot, self.runners[c.bot])

    def _report(self, seconds: float) -> None:
        """One line a minute: due vs done; a warning when this daemon cannot keep up."""
        m = self.minute
        per_min = 60.0 / seconds
        due, done = round(m.due * per_min), round(m.done * per_min)
        event(logger, "daemon.checks", due_per_min=due, done_per_min=done,
              unchanged=m.unchanged, passes=m.passes, failed=m.failed or None,
              bots=len(self.owned), late_s=f"{m.late:.1f}")  # fmt: skip
        shortest = min((self.runners[n].base_interval for n in self.owned), default=ROUND)
        if done < BEHIND * due or m.late > shortest:
            event(logger, "daemon.behind", logging.WARNING, due_per_min=due, done_per_min=done,
                  late_s=f"{m.late:.1f}", bots=len(self.owned),
                  note="more checks fall due than this daemon does: add a daemon, or lengthen "
                       "POLL_INTERVAL")  # fmt: skip
        m.clear()

