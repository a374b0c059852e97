"""Conditional GETs of many feeds at once, on one asyncio event loop (aiohttp): the hot path of a
daemon of many bots, where most feeds answer 304 and a check should cost one request and almost
nothing else.

Why aiohttp here and httpx elsewhere: measured on this machine against one loopback server
answering 304 (benchmarks/README.md), a bare aiohttp loop spends ~0.08 ms of client CPU per
conditional GET, a bare httpx async loop ~1.2 ms. The rest of the bot makes a few requests a pass
(one feed, card pages, the PDS through the atproto SDK, which is built on httpx) and keeps httpx,
its retries and its one-line errors (bot/feed.py, bot/cards/).

The same rules as every feed fetch: the bot's User-Agent and validators (bot.feed), http(s)
only (`allowed` checks the feed's address and every redirect's before it is asked), at most
`MAX_REDIRECTS` redirects, a deadline by the clock on the whole request (redirects, connect,
headers and body), a body of at most `MAX_BYTES`; HTTP/1.1 keep-alive with a cap on the
connections to one host, and on the requests in flight overall, so one slow host holds only its
own slots, for its deadline at most. A check never retries: anything but a 304 or a 200 is
handed back, and the bot's ordinary pass (bot.feed.fetch_feed, with its retries and messages)
deals with it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from bot.feed import MAX_BYTES, MAX_REDIRECTS, FetchResult, Validators, _headers
from bot.net import Refused

if TYPE_CHECKING:
    import aiohttp

    from bot.net import Guard

T = TypeVar("T")

DEADLINE = 10.0  # seconds for a whole request, as bot.feed.fetch_feed's timeout
PER_HOST = 8  # connections to one host at a time (several bots' feeds on one platform)
IN_FLIGHT = 256  # requests in flight at once, over all hosts

def http_only(url: str) -> str | None:
    """None when `url` (the feed's, or a redirect's) may be fetched; else why not, one line."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return f"feed {url} is not an http(s) address: check FEED_URL"
    return None


@dataclass(frozen=True)
class Check:
    """How one feed answered: a 304 (`result.not_modified`), a 200 with its body in `result`,
    or `error` (one line) for anything else, which the bot's ordinary pass then handles."""

    url: str
    result: FetchResult | None = None
    error: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.result is not None and self.result.not_modified

class FeedChecks:
    """An event loop in a thread of its own with two aiohttp sessions: `guarded`, whose every
    connection (each redirect hop's too) goes through `guard` (bot.net.Guard: the host resolved
    once, every address checked, the checked address connected to), for feeds at public
    addresses; and `open`, for feeds the operator put at a private address (bot.feed.feed_guard
    gives them no guard either). `submit` runs a coroutine on the loop from any thread.
    `close()` at the end."""

    def __init__(self, *, deadline: float = DEADLINE, per_host: int = PER_HOST,
                 in_flight: int = IN_FLIGHT, max_bytes: int = MAX_BYTES,
                 allowed: Callable[[str], str | None] = http_only,
                 guard: Guard | None = None) -> None:
        from bot.net import Guard

        self.deadline = deadline
        self.allowed = allowed
        self.max_bytes = max_bytes
        self.guard = guard if guard is not None else Guard()
        self._per_host = per_host
        self._in_flight = in_flight
        self._private: dict[str, bool] = {}  # host → the operator put a feed there (no guard)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="feed-checks",
                                        daemon=True)
        self._thread.start()
        self._guarded: aiohttp.ClientSession | None = None
        self._open_session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self.submit(self._open()).result()

    async def _open(self) -> None:
        import aiohttp

        def session(resolver: Any) -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                limit=self._in_flight, limit_per_host=self._per_host, keepalive_timeout=60,
                resolver=resolver, ttl_dns_cache=60)
            # No cookies (a feed is the same for everyone) and no proxy settings from the
            # environment, as bot.feed's client.
            return aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
                timeout=aiohttp.ClientTimeout(total=self.deadline))

        self._guarded = session(_GuardResolver(self.guard))
        self._open_session = session(None)
        self._slots = asyncio.Semaphore(self._in_flight)

    async def _session_for(self, url: str) -> aiohttp.ClientSession:
        """The guarded session, unless the feed's own address is private (decided once per
        host, in a thread: it may take a DNS lookup)."""
        assert self._guarded is not None and self._open_session is not None
        host = urlsplit(url).hostname or ""
        private = self._private.get(host)
        if private is None:
            private = self._private[host] = await self.in_thread(self._is_private, url)
        return self._open_session if private else self._guarded

    def _is_private(self, url: str) -> bool:
        """As bot.feed.feed_guard: a feed the operator put at a private address is followed
        anywhere; a name that does not resolve stays guarded."""
        parts = urlsplit(url)
        try:
            self.guard.addresses(parts.hostname or "", parts.port or 443)
        except Refused as exc:
            return str(exc).startswith("refused:")
        except ValueError:
            return False
        return False

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run `coro` on the checks' loop; its concurrent.futures.Future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the loop's default thread pool (the store is synchronous)."""
        return await self.loop.run_in_executor(None, fn, *args)

    async def check(self, url: str, validators: Validators | None) -> Check:
        """One conditional GET of `url` (see the module docstring). Never raises but
        CancelledError."""
        import aiohttp

        assert self._slots is not None
        async with self._slots:
            try:
                # The deadline is the whole request's, redirects included, by the clock.
                async with asyncio.timeout(self.deadline):
                    return await self._follow(url, validators)
            except TimeoutError:
                return Check(url, error=f"feed {url} timed out after {self.deadline:g} s")
            except Refused as exc:  # the guard: an address the bot may not reach
                return Check(url, error=f"feed {url}: {exc}")
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                return Check(url, error=f"feed {url}: {type(exc).__name__}: {exc}".rstrip(": "))

    async def _follow(self, url: str, validators: Validators | None) -> Check:
        """The GET, and each redirect checked by `allowed` before it is followed."""
        from yarl import URL  # aiohttp's own URL type

        session = await self._session_for(url)
        address = url
        for _hop in range(MAX_REDIRECTS + 1):
            refused = self.allowed(address)
            if refused is not None:
                return Check(url, error=refused)
            parts = urlsplit(address)
            if session is self._guarded and _literal(parts.hostname or ""):
                # aiohttp does not resolve an address given as digits: the guard checks it here.
                self.guard.addresses(parts.hostname or "", parts.port or 443)
            async with session.get(address, headers=_headers(validators),
                                         allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    address = str(response.url.join(URL(location)))
                    continue
                return await self._answer(url, validators, response)
        return Check(url, error=f"feed {url} redirects more than {MAX_REDIRECTS} times")

    async def _answer(self, url: str, validators: Validators | None,
                      response: aiohttp.ClientResponse) -> Check:
        status = response.status
        if status == 304:
            return Check(url, FetchResult(url, 304, None, validators or Validators()))
        if not 200 <= status < 300:
            return Check(url, error=f"feed {url} answered HTTP {status}")
        length = response.content_length
        if length is not None and length > self.max_bytes:
            return Check(url, error=f"feed {url} is larger than {self.max_bytes} bytes")
        body = await response.content.read(self.max_bytes + 1)
        if len(body) > self.max_bytes:
            return Check(url, error=f"feed {url} is larger than {self.max_bytes} bytes")
        found = Validators(etag=response.headers.get("ETag"),
                           last_modified=response.headers.get("Last-Modified"))
        return Check(url, FetchResult(url, status, body, found))

    def close(self) -> None:
        async def shut() -> None:
            for session in (self._guarded, self._open_session):
                if session is not None:
                    await session.close()

        if self.loop.is_running():
            try:
                self.submit(shut()).result(timeout=5)
            except Exception:  # closing quietly is all that is left to do
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        self.loop.close()


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _GuardResolver:
    """aiohttp's resolver through bot.net.Guard: the addresses it checked are the ones
    connected to; a refused one raises Refused (the check's one line)."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def resolve(self, host: str, port: int = 0,
                      family: int = socket.AF_INET) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, self.guard.addresses, host, port)
        return [{"hostname": host, "host": a.split("%", 1)[0], "port": port,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for a in found]

    async def close(self) -> None:
        pass
