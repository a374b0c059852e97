"""Fetch the newsletter's feed: the only module that reads the feed over HTTP.

One polite conditional GET per poll (a User-Agent naming the bot, If-None-Match /
If-Modified-Since from the last 200), bounded in size and in time (each attempt, connect, headers
and body, ends within `timeout` seconds by the clock: bot.net), redirects at most 5 and never
from a public address to a private one (unless FEED_URL itself is private), retried with backoff on
failures that may pass (timeouts, dropped connections, 5xx, 429), and turned into one-line
`FeedError`s that say what to do when it will not pass (403/404/410, other 4xx).

httpx is imported only when a URL is fetched, so reading a local feed file (`inspect`) stays light.
"""

from __future__ import annotations

import codecs
import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from bot import USER_AGENT
from bot.errors import FeedError
from bot.log import event, redact_url

if TYPE_CHECKING:
    from typing import TypeAlias

    import httpx

    from bot.net import Guard

    # What a test gives the feed reader instead of the network: named here, so that the service
    # names it without importing httpx (each edge owns its library).
    FeedTransport: TypeAlias = httpx.BaseTransport

logger = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
# Statuses worth asking again: the server may be busy or briefly broken.
_RETRY_AFTER_STATUSES = (429, 503)
_GONE_HINTS = {
    401: "the feed needs a login; check FEED_URL is the public feed",
    403: "the server refuses the bot; check FEED_URL is the public feed",
    404: "no feed there; check FEED_URL",
    410: "the feed is gone; check FEED_URL",
}


@dataclass(frozen=True)
class Validators:
    """ETag and Last-Modified of the last 200, sent back so an unchanged feed costs a 304."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One fetch of the feed: the URL asked for, the status (200 or 304), body and validators."""

    url: str
    status: int
    body: bytes | None  # None on 304
    validators: Validators  # the new ones on 200; on 304 the ones that were sent

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class _Retry(Exception):
    """An attempt failed in a way that may pass; `wait` is what the server asked for."""

    def __init__(self, cause: str, wait: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.wait = wait


def _size(n: int) -> str:
    mb = 1024 * 1024
    return f"{n // mb} MB" if n % mb == 0 else f"{n} bytes"


def _too_large(url: str, max_bytes: int) -> FeedError:
    return FeedError(f"feed {redact_url(url)} is larger than {_size(max_bytes)}: check FEED_URL")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT; a naive result means "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# Whether an XML document arrived whole is judged by its structure, not by the parser: feedparser
# recovers from a document cut short exactly as from an undefined entity or a bare `&`, and a
# lenient read of half a feed is an issue without its takeaways (or half a thread).
_PROLOG = re.compile(
    r"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.S | re.I
)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _as_text(body: bytes) -> str:
    """Enough of a decoding to see the markup: UTF-16/32 by BOM or by the NULs around the first
    `<`; anything else ASCII-compatible, where latin-1 keeps every `<` and `>` where it is."""
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8):].decode("latin-1")
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace")
    head = body[:4]
    if len(head) == 4 and 0 in head:
        if head[:2] == b"\0\0":
            codec = "utf-32-be"
        elif head[1:3] == b"\0\0":
            codec = "utf-32-le"
        else:
            codec = "utf-16-be" if head[0] == 0 else "utf-16-le"
        return body.decode(codec, errors="replace")
    return body.decode("latin-1")


def cut_short(body: bytes) -> str | None:
    """Why this XML document is not whole (its root element never closes), or None when it is
    whole or is not XML at all (a JSON Feed, an empty body: the parser judges those)."""
    text = _as_text(body)
    pos = 0
    while match := _PROLOG.match(text, pos):
        if match.end() == pos:
            break
        pos = match.end()
    if pos == len(text) and text.strip():
        return "it ends before its root element"
    if not text.startswith("<", pos) or text.startswith("<!", pos) or text.startswith("<?", pos):
        # Not XML (or an unclosed prolog: a comment or DOCTYPE that never ends).
        return "it ends inside its prolog" if text.startswith("<", pos) else None
    root = _ROOT.match(text, pos)
    if root is None:
        return "it ends before its root element"
    name = root.group(1)
    opened = text.find(">", root.end())
    if opened == -1:
        return f"it ends inside the tag of its root element <{name}>"
    if text[opened - 1] == "/":
        return None  # an empty root element, self-closed: <rss/>
    # Its closing tag, looked for from the end: whatever follows it (a comment, a server's
    # warning printed after the feed) is the parser's business, as it always was.
    closing = re.compile(rf"</{re.escape(name)}\s*>")
    at = text.rfind(f"</{name}", opened)
    while at != -1:
        if closing.match(text, at):
            return None
        at = text.rfind(f"</{name}", opened, at)
    return f"its root element <{name}> never closes"


def _headers(validators: Validators | None) -> dict[str, str]:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/xml;q=0.9, */*;q=0.8",
    }
    if validators and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _attempt(
    client: httpx.Client, url: str, validators: Validators | None, max_bytes: int
) -> FetchResult:
    """One GET: a result, or _Retry for trouble that may pass, or FeedError for lasting trouble."""
    import httpx

    shown = redact_url(url)
    try:
        with client.stream("GET", url, headers=_headers(validators)) as response:
            status = response.status_code
            if status == 304:
                return FetchResult(url, 304, None, validators or Validators())
            if status == 429 or status >= 500:
                wait = None
                if status in _RETRY_AFTER_STATUSES:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                raise _Retry(f"HTTP {status} {response.reason_phrase}".strip(), wait)
            if not 200 <= status < 300:
                hint = _GONE_HINTS.get(status, "check FEED_URL")
                raise FeedError(
                    f"feed {shown} answered HTTP {status} {response.reason_phrase}: {hint}"
                )
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise _too_large(url, max_bytes)
            chunks: list[bytes] = []
            received = 0
            # Count while streaming too: Content-Length may be absent (chunked) or wrong.
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise _too_large(url, max_bytes)
                chunks.append(chunk)
            body = b"".join(chunks)
            # httpx notices a body shorter than its Content-Length on most connections; this
            # check does not depend on how the connection ended.
            if length.isdigit() and received < int(length):
                raise _Retry(f"the body ended at {received} of {length} bytes")
            cut = cut_short(body)
            if cut is not None:
                raise _Retry(f"the document arrived cut short ({len(body)} bytes: {cut})")
            found = Validators(
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
            return FetchResult(url, status, body, found)
    except httpx.TimeoutException as exc:
        raise _Retry(f"timed out ({type(exc).__name__})") from exc
    except httpx.TooManyRedirects as exc:
        raise FeedError(
            f"feed {shown} redirects more than {MAX_REDIRECTS} times: check FEED_URL"
        ) from exc
    except httpx.ConnectError as exc:
        if str(exc).startswith("refused:"):  # the guard: asking again will not help
            where = redact_url(str(exc.request.url))
            raise FeedError(f"feed {shown} leads to {where}, {exc}: check FEED_URL") from exc
        raise _Retry(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    except (httpx.TransportError, httpx.DecodingError) as exc:
        # Connection refused/reset, protocol errors, a body cut short.
        raise _Retry(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
    except httpx.InvalidURL as exc:
        raise FeedError(f"feed URL {shown!r} is not valid: {exc}; check FEED_URL") from exc
    except httpx.HTTPError as exc:
        raise FeedError(f"feed {shown} could not be fetched: {exc}; check FEED_URL") from exc


def feed_guard(url: str) -> Guard | None:
    """The guard for every hop of the feed's fetch: a FEED_URL at a public address may not be
    redirected to a private one (a cloud's metadata service, the host's own ports); a FEED_URL
    the operator pointed at a private address (an intranet feed, tests) is followed anywhere."""
    from bot.net import Guard, Refused

    strict = Guard()
    parts = urlsplit(url)
    try:
        strict.addresses(parts.hostname or "", parts.port or 443)
    except Refused as exc:
        # Private by the operator's choice; a name that does not resolve stays guarded.
        return None if str(exc).startswith("refused:") else strict
    except ValueError:
        return strict
    return strict


def _transport(timeout: float, guard: Guard | None) -> httpx.BaseTransport:
    """A transport that ends each request within `timeout` s by the clock, through `guard`.
    One per fetch: the TLS context is shared (loading the CA bundle is ~20 ms of CPU per poll
    and growing memory in the daemon, benchmarks/README.md)."""
    from bot.net import DeadlineTransport

    return DeadlineTransport(timeout, guard=guard)


def fetch_feed(
    url: str,
    validators: Validators | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    guard: Guard | None = None,
    timeout: float = 10.0,
    max_bytes: int = MAX_BYTES,
    retries: int = 3,
    backoff: float = 1.0,
    max_wait: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """GET the feed at `url`, conditionally if `validators` are given.

    `retries` is how many times a failed attempt is repeated (so at most retries + 1 requests).
    Waits double from `backoff` seconds (plus up to 10 % jitter); a Retry-After on 429/503 is
    honoured instead. Every wait is capped at `max_wait`. `guard`: which addresses the fetch
    may reach (default `feed_guard(url)`; tests declare loopback addresses public with one).
    Raises FeedError, one line; the URL in it and in the log has its secrets hidden.
    """
    import httpx

    if transport is None:
        transport = _transport(timeout, guard if guard is not None else feed_guard(url))
    shown = redact_url(url)
    client = httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )
    with client:
        for attempt in range(retries + 1):
            try:
                result = _attempt(client, url, validators, max_bytes)
            except _Retry as trouble:
                if attempt == retries:
                    tries = "1 try" if retries == 0 else f"{retries + 1} tries"
                    raise FeedError(
                        f"feed {shown} failed after {tries}: {trouble.cause}; "
                        "check FEED_URL or try again later"
                    ) from trouble.__cause__
                if trouble.wait is not None:
                    wait = trouble.wait
                else:
                    base = backoff * 2**attempt
                    wait = base + random.uniform(0, base * 0.1)
                wait = min(wait, max_wait)
                event(
                    logger,
                    "feed.retry",
                    logging.WARNING,
                    url=url,
                    attempt=attempt + 1,
                    wait=f"{wait:.1f}",
                    cause=trouble.cause,
                )
                sleep(wait)
                continue
            if result.not_modified:
                event(logger, "feed.not_modified", url=url)
            else:
                event(logger, "feed.fetched", url=url, bytes=len(result.body or b""))
            return result
    raise AssertionError("unreachable")  # the loop returns or raises


def _read_file(path: Path, source: str, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise FeedError(f"feed file {source} does not exist: check FEED_URL") from exc
    except OSError as exc:
        raise FeedError(
            f"feed file {source} cannot be read ({exc.strerror or exc}): check FEED_URL"
        ) from exc
    if len(data) > max_bytes:
        raise _too_large(source, max_bytes)
    return data


def read_source(source: str, **kwargs: object) -> bytes:
    """The feed's bytes from a local path, a file:// URL or an http(s) URL (an unconditional GET).

    `kwargs` go to fetch_feed for URLs; for files only `max_bytes` applies.
    """
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        body = fetch_feed(source, None, **kwargs).body  # type: ignore[arg-type]
        return body if body is not None else b""
    max_bytes = kwargs.get("max_bytes", MAX_BYTES)
    assert isinstance(max_bytes, int)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise FeedError(f"feed {source} is on another host; use a local path or an http(s) URL")
        return _read_file(Path(url2pathname(parts.path)), source, max_bytes)
    if scheme == "" or Path(source).exists():
        return _read_file(Path(source), source, max_bytes)
    raise FeedError(f"feed {source} is neither a local file nor an http(s) URL: check FEED_URL")
