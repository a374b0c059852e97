"""The card fetcher: pages and pictures of a thread's links, fetched safely and in parallel.

Each link is fetched through the guard (bot.cards.guard) with one deadline for the whole fetch,
redirects followed by hand (at most 5, each hop checked again), content types checked and reads
capped: a page is read only until its <head> is complete (2 MB at most), a picture up to 10 MB.
At most 2 requests go to one host at a time; the links of one thread are fetched side by side,
so a thread costs about its slowest page. Everything is cached (bot.cards.cache). Failures become
CardError here and are caught before they leave `card()` / `thumb()`, which never raise: a card
that cannot be fetched is the feed's card, a picture that cannot be had is no picture."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot import USER_AGENT
from bot.cards.cache import DAY, HOUR, CardCache
from bot.cards.guard import Guard, GuardedTransport
from bot.cards.image import fit
from bot.cards.page import head_done, is_http, parse_head
from bot.core.media import Thumb
from bot.core.post import Card
from bot.errors import CardError
from bot.log import event

logger = logging.getLogger("bot.cards")

MAX_REDIRECTS = 5
PAGE_TYPES = ("text/html", "application/xhtml+xml")
PER_HOST = 2  # requests at a time to one host: a thread's links must not hammer one site
WORKERS = 8  # links fetched side by side


class CardFetcher:
    """Builds link cards and thumbs over HTTP, caching what it fetched."""

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        allow_private: bool = False,
        guard: Guard | None = None,
        timeout: float = 10.0,
        max_page_bytes: int = 2_000_000,
        max_image_bytes: int = 10_000_000,
        ttl: float = DAY,
        failure_ttl: float = HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = CardCache(cache_dir, ttl=ttl, failure_ttl=failure_ttl, clock=clock)
        guard = guard or Guard(allow_private=allow_private)
        # Which guard the cache's entries were fetched under: one fetched while private
        # addresses were allowed is never served to a fetcher that refuses them.
        self._guard = "lenient" if guard.allow_private or guard.trusted else "strict"
        self.timeout = timeout
        self.max_page_bytes = max_page_bytes
        self.max_image_bytes = max_image_bytes
        self._client = httpx.Client(
            transport=GuardedTransport(guard, timeout),
            follow_redirects=False,  # followed by hand, within the one deadline
            headers={"User-Agent": USER_AGENT, "Accept-Language": "en"},
            trust_env=False,
        )
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._hosts_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CardFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ------------------------------------------------------------------------------

    def card(self, url: str, fallback: Card) -> Card:
        """The card for `url`: the page's tags where present, else the fallback's fields."""
        fields = self.page(url)
        return replace(
            fallback,
            uri=url,
            title=fields.get("title") or fallback.title,
            description=fields.get("description") or fallback.description,
            thumb_url=fields.get("thumb_url") or fallback.thumb_url,
        )

    def cards(self, fallbacks: Iterable[Card]) -> dict[str, Card]:
        """The card of each fallback's link (its `uri`), keyed by link: the pages fetched side by
        side, each link once."""
        wanted = {card.uri: card for card in reversed(list(fallbacks))}  # the first one wins
        found = self._parallel(self.page, list(wanted))
        return {url: self.card(url, wanted[url]) for url in found}

    def page(self, url: str) -> dict[str, str]:
        """The card fields `url`'s page gives (title, description, thumb_url); {} when it cannot
        be fetched or says nothing."""
        key = "page:" + url
        cached = self._cached(key)
        if cached is not None:
            return {k: v for k, v in cached[0].items() if k in ("title", "description",
                                                                "thumb_url")}
        try:
            body, final_url, charset = self._get(url, self.max_page_bytes, PAGE_TYPES,
                                                 page=True)
            fields = parse_head(body, final_url, charset)
            event(logger, "card.fetched", url=url, fields=",".join(sorted(fields)) or "-")
        except CardError as exc:
            event(logger, "card.page_failed", logging.WARNING, url=url, reason=str(exc))
            self._put(key, {"failed": str(exc)})
            return {}
        self._put(key, dict(fields))
        return fields

    def fetched(self, url: str) -> dict[str, str]:
        """What `url`'s page gave, from the cache only (nothing is fetched): {} when unknown."""
        cached = self._cached("page:" + url)
        if cached is None:
            return {}
        return {k: v for k, v in cached[0].items() if k in ("title", "description", "thumb_url")}

    def thumb(self, image_url: str | None) -> Thumb | None:
        """The image at `image_url`, fitted for a card (bot.cards.image); None on failure."""
        if not image_url:
            return None
        key = "thumb:" + image_url
        cached = self._cached(key)
        if cached is not None:
            meta, data = cached
            if data is None or "mime" not in meta:
                return None
            return Thumb(data, meta["mime"], meta.get("width"), meta.get("height"))
        try:
            body, _, _ = self._get(image_url, self.max_image_bytes, ("image/",))
            thumb = fit(body)
        except CardError as exc:
            event(logger, "card.thumb_failed", logging.WARNING, url=image_url, reason=str(exc))
            self._put(key, {"failed": str(exc)})
            return None
        self._put(key, {"mime": thumb.mime, "width": thumb.width, "height": thumb.height},
                  thumb.data)
        return thumb

    def thumbs(self, image_urls: Iterable[str | None]) -> dict[str, Thumb]:
        """The thumbs that could be had, keyed by image address: fetched side by side, each
        address once (two cards sharing a picture share one download and one upload)."""
        urls = list(dict.fromkeys(u for u in image_urls if u))
        found = self._parallel(self.thumb, urls)
        return {url: thumb for url, thumb in found.items() if thumb is not None}

    # -- the cache, by guard --------------------------------------------------------------------

    def _cached(self, key: str) -> Any:
        """The cache's entry for `key`, unless it was fetched under a more lenient guard than
        this fetcher's (an entry of an older release, which did not say, counts as lenient)."""
        cached = self.cache.get(key)
        if cached is not None and self._guard == "strict" and cached[0].get("guard") != "strict":
            return None
        return cached

    def _put(self, key: str, meta: dict[str, Any], data: bytes | None = None) -> None:
        self.cache.put(key, {**meta, "guard": self._guard}, data)

    # -- HTTP --------------------------------------------------------------------------------

    def _parallel(self, fetch: Callable[[str], Any], urls: list[str]) -> dict[str, Any]:
        if len(urls) <= 1:
            return {url: fetch(url) for url in urls}
        with ThreadPoolExecutor(min(WORKERS, len(urls)), thread_name_prefix="card") as pool:
            return dict(zip(urls, pool.map(fetch, urls), strict=True))

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        with self._hosts_lock:
            slot = self._hosts.setdefault(host, threading.BoundedSemaphore(PER_HOST))
        with slot:
            yield

    def _get(self, url: str, cap: int, types: tuple[str, ...], *, page: bool = False
             ) -> tuple[bytes, str, str | None]:
        """GET `url` → (body, final URL, charset), following up to 5 redirects, all within one
        deadline. A page is read until its <head> is complete or `cap` bytes (the head is
        enough); anything else over `cap` is an error."""
        deadline = time.monotonic() + self.timeout
        for _hop in range(MAX_REDIRECTS + 1):
            if not is_http(url):
                raise CardError("not an http(s) URL")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CardError("too slow")
            accept = "text/html,application/xhtml+xml" if page else "image/*"
            with self._host_slot((urlsplit(url).hostname or "").lower()):
                try:
                    # The transport ends the whole request (headers and body) by `deadline`.
                    request = self._client.build_request(
                        "GET", url, headers={"Accept": accept}, timeout=remaining,
                        extensions={"deadline": deadline})
                    response = self._client.send(request, stream=True)
                    try:
                        if response.next_request is not None:
                            url = str(response.next_request.url)
                            continue
                        return self._read(response, cap, types, deadline, page)
                    finally:
                        response.close()
                except httpx.TimeoutException as exc:
                    raise CardError("timeout") from exc
                except (httpx.HTTPError, httpx.InvalidURL) as exc:
                    raise CardError(_reason(exc)) from exc
        raise CardError(f"too many redirects (over {MAX_REDIRECTS})")

    def _read(self, response: httpx.Response, cap: int, types: tuple[str, ...], deadline: float,
              page: bool) -> tuple[bytes, str, str | None]:
        if response.status_code >= 400:
            raise CardError(f"HTTP {response.status_code}")
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not ctype.startswith(types):
            raise CardError(f"not {' or '.join(types)}: {ctype or 'no content type'}")
        length = response.headers.get("content-length", "")
        if not page and length.isdigit() and int(length) > cap:
            raise CardError(f"too large ({length} bytes > {cap})")
        body = bytearray()
        # iter_bytes() yields decoded bytes, so the cap also stops a compressed bomb.
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > cap:
                if not page:
                    raise CardError(f"too large (over {cap} bytes)")
                del body[cap:]
                break
            if page and head_done(body[max(0, len(body) - len(chunk) - 16):]):
                break  # everything a card needs has been read
            if time.monotonic() > deadline:
                raise CardError("too slow")
        return bytes(body), str(response.url), response.charset_encoding


def _reason(exc: Exception) -> str:
    """One line naming what went wrong (the guard's refusal as it said it)."""
    text = str(exc) or type(exc).__name__
    return text if text.startswith("refused:") else f"{type(exc).__name__}: {text}"
