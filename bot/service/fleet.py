"""The bots one process serves, each with its own Worker: one database (each bot its own rows),
one publisher per Bluesky account (so one saved session and one createSession per account, and
one bot of an account posts at a time), and each feed fetched once when several bots read it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import Stopped
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import Store

if TYPE_CHECKING:
    from bot.bluesky.publisher import Publisher
    from bot.feed import FetchResult, Validators

SHARED_FOR = 30.0  # seconds a fetched feed serves the other bots that read it (at most)


def shared_window(bots: Sequence[Settings]) -> float:
    """How long a fetched feed serves the other bots: the passes of one round (bots on equal
    intervals run within their jitter, a tenth of the interval), never a bot's next pass, which
    must see the feed as it is then (a window past the interval would make POLL_INTERVAL=10
    fetch every 30 s)."""
    return min([SHARED_FOR, *(b.poll_interval / 2 for b in bots)])


@dataclass
class _Fetched:
    result: FetchResult
    validators: Validators | None
    at: float


class SharedFeeds:
    """Fetches a feed once for all the bots that read it: a fetch within `window` seconds of
    another of the same URL gets its answer. A 200 serves any bot (its body is the feed now); a
    304 only a bot that asked with the same validators. Thread-safe; concurrent fetches of one
    URL wait for the first."""

    def __init__(self, window: float = SHARED_FOR, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        self._last: dict[str, _Fetched] = {}
        self.fetches = 0  # real requests made (the rest were shared)

    def fetch(self, url: str, validators: Validators | None = None, **kwargs: Any) -> FetchResult:
        from bot.feed import fetch_feed

        with self._lock:
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:
            now = self._clock()
            with self._lock:
                for old in [u for u, f in self._last.items() if now - f.at > self.window]:
                    del self._last[old]  # bodies are not kept past their window
                cached = self._last.get(url)
            if cached is not None and (
                not cached.result.not_modified or cached.validators == validators
            ):
                return cached.result
            result = fetch_feed(url, validators, **kwargs)
            self.fetches += 1
            self.remember(result, validators)
            return result

    def remember(self, result: FetchResult, validators: Validators | None = None) -> None:
        """A fetch made elsewhere (a large daemon's concurrent checks, bot.service.checks):
        the bot's pass that follows gets this answer instead of asking the feed again."""
        with self._lock:
            self._last[result.url] = _Fetched(result, validators, self._clock())


class _Account:
    """One Bluesky account of the fleet: its lock (one of its bots posts at a time) and its
    publisher, made when the first of its bots posts, so a fleet whose feeds answer 304 never
    imports the Bluesky SDK (tens of MB per process) nor signs in."""

    def __init__(self, settings: Settings, store: Store, sleep: Callable[[float], None],
                 lock: threading.Lock | None = None) -> None:
        self.lock = lock or threading.Lock()
        self._settings = settings
        self._store = store
        self._sleep = sleep
        self._made = threading.Lock()
        self._publisher: Publisher | None = None

    def publisher(self) -> Publisher:
        with self._made:
            if self._publisher is None:
                from bot.bluesky.connection import Connection
                from bot.bluesky.publisher import Publisher

                s = self._settings
                keeper = self._store.sessions.keeper(s.bsky_handle or "", s.bsky_service)
                connection = Connection.from_settings(s, keeper, sleep=self._sleep)
                self._publisher = Publisher(connection)
            return self._publisher

    def close(self) -> None:
        with self._made:
            if self._publisher is not None:
                self._publisher.close()
                self._publisher = None


class Fleet:
    """The Workers of `bots` on `store` (see the module docstring). `close()` at the end."""

    def __init__(
        self,
        bots: Sequence[Settings],
        store: Store,
        *,
        worker_id: str | None = None,
        share_feeds: bool = True,
        **worker_options: Any,
    ) -> None:
        self.bots = list(bots)
        self.store = store
        self.stop_event = threading.Event()
        self.feeds = SharedFeeds(shared_window(self.bots)) if share_feeds else None
        # One publisher per account and password: bots of one account may hold different app
        # passwords (one may be mistyped); each signs in with its own through the account's one
        # saved session, so a refused password stops only its bots. One lock per account.
        self._accounts: dict[tuple[str, str, str], _Account] = {}
        self._account_locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks: dict[str, threading.Lock] = {}
        self.workers: dict[str, Worker] = {}
        profiles: dict[str, Any] = {}  # one per profile file: read once, not once per bot
        for settings in self.bots:
            account = self._account(settings)
            options = dict(worker_options)
            if "profile" not in options:
                from bot.core.profile import load_profile

                key = str(settings.bot_config or "")
                if key not in profiles:
                    profiles[key] = load_profile(settings.bot_config)
                options["profile"] = profiles[key]
            self._locks[settings.name] = account.lock if account else threading.Lock()
            self.workers[settings.name] = Worker(
                settings,
                store.for_bot(settings.name),
                make_publisher=account.publisher if account else None,
                worker_id=worker_id,
                stop_event=self.stop_event,
                feed_fetch=self.feeds.fetch if self.feeds is not None else None,
                **options,
            )

    def _account(self, settings: Settings) -> _Account | None:
        """The bot's account, shared by every bot of that account (None for a dry run)."""
        if settings.dry_run:
            return None
        account = (settings.bsky_service, settings.bsky_handle or "")
        key = (*account, settings.bsky_app_password or "")
        if key not in self._accounts:
            lock = self._account_locks.setdefault(account, threading.Lock())
            self._accounts[key] = _Account(settings, self.store, self._sleep, lock)
        return self._accounts[key]

    def _sleep(self, seconds: float) -> None:
        """Backoff waits of the shared publishers, ended at once by a stop."""
        if self.stop_event.wait(seconds):
            raise Stopped()

    @contextmanager
    def turn(self, name: str) -> Iterator[Worker]:
        """Bot `name`'s Worker, while no other bot of its account is posting."""
        with self._locks[name]:
            yield self.workers[name]

    @property
    def accounts(self) -> int:
        return len(self._account_locks)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        for account in self._accounts.values():
            account.close()
