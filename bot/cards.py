"""Link cards: title, description and thumbnail for a link, from the page itself when it can be
fetched, else from what the feed says (the caller's fallback Card).

Precedence, field by field: `og:*` > `twitter:*` > the page's `<title>` / `<meta name=description>`
> the fallback. Explicit card tags are what the publisher chose to show; the HTML title still
names the page better than link text; the feed's data is the last resort.

Everything fetched is cached (in memory, and on disk under `cache_dir` keyed by sha256 of the URL)
so a retry builds the very same card without fetching again. Failures are cached for a short
while only. This is the one edge module that talks HTTP for cards: httpx errors become CardError
here and are caught before they leave `card()` / `thumb()`, which never raise."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import lxml.etree
import lxml.html
from PIL import Image, ImageOps

from bot import USER_AGENT
from bot.core.post import Card
from bot.errors import CardError
from bot.log import event
from bot.settings import private_dir

logger = logging.getLogger(__name__)

MAX_THUMB_BYTES = 1_000_000  # Bluesky's limit for an external embed's thumb blob
MAX_DESCRIPTION = 300
MAX_TITLE = 300
MAX_SIDE = 2000  # long side of a re-encoded thumb, in pixels
MAX_PIXELS = 50_000_000  # refuse to decode anything larger (decompression bombs)
PASS_THROUGH = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.I)


@dataclass(frozen=True)
class Thumb:
    """A card's image, ready to upload: at most 1,000,000 bytes, an image Pillow can open."""

    data: bytes
    mime: str


def _is_http(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme in ("http", "https")


def _clean(text: str | None, limit: int) -> str:
    """Collapse whitespace and cut at a word boundary, ending with '…', so it is at most `limit`."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # a word boundary not too far back; else cut mid-word
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def parse_head(html: bytes, base_url: str, encoding: str | None = None) -> dict[str, str]:
    """Card fields found in an HTML page: title, description, thumb_url (absolute http(s))."""
    if not encoding:
        found = _META_CHARSET.search(html[:4096])
        encoding = found.group(1).decode("ascii") if found else "utf-8"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "utf-8"
    try:
        parser = lxml.html.HTMLParser(encoding=encoding)
        doc = lxml.html.fromstring(html, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return {}
    meta: dict[str, str] = {}
    for el in doc.iter("meta"):
        key = (el.get("property") or el.get("name") or "").strip().lower()
        value = el.get("content")
        if key and value and value.strip() and key not in meta:  # the first of duplicates wins
            meta[key] = value.strip()
    titles = doc.xpath("//title/text()")

    def first(*keys: str) -> str:
        return next((meta[k] for k in keys if k in meta), "")

    fields = {
        "title": _clean(first("og:title", "twitter:title") or (titles[0] if titles else ""),
                        MAX_TITLE),
        "description": _clean(first("og:description", "twitter:description", "description"),
                              MAX_DESCRIPTION),
    }
    image = first("og:image:secure_url", "og:image", "og:image:url", "twitter:image",
                  "twitter:image:src")
    if image:
        image = urljoin(base_url, image)
        fields["thumb_url"] = image if _is_http(image) else ""
    return {k: v for k, v in fields.items() if v}


def _fit(data: bytes) -> Thumb:
    """`data` as an image of at most MAX_THUMB_BYTES; raises CardError if it is not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise CardError(f"image too large to decode ({img.width}x{img.height})")
            fmt = img.format or ""
            img.load()  # a truncated or fake image fails here, not at upload time
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise CardError(f"not an image: {exc}") from exc
    if fmt in PASS_THROUGH and len(data) <= MAX_THUMB_BYTES and max(img.size) <= MAX_SIDE:
        return Thumb(data, PASS_THROUGH[fmt])
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")  # flatten onto white: JPEG has no alpha
        img = Image.new("RGB", rgba.size, "white")
        img.paste(rgba, mask=rgba.getchannel("A"))
    else:
        img = img.convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    while True:
        for quality in (85, 70):
            out = io.BytesIO()
            img.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= MAX_THUMB_BYTES:
                return Thumb(out.getvalue(), "image/jpeg")
        # Still too big: shrink by about what the byte count says (bytes ~ pixels), and retry.
        scale = min(0.85, 0.9 * (MAX_THUMB_BYTES / out.tell()) ** 0.5)
        size = (int(img.width * scale), int(img.height * scale))
        if min(size) < 16:
            raise CardError("image does not fit in 1,000,000 bytes")
        img = img.resize(size, Image.Resampling.LANCZOS)


class CardFetcher:
    """Builds link cards and thumbs over HTTP, caching what it fetched."""

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        max_page_bytes: int = 2_000_000,
        max_image_bytes: int = 15_000_000,
        failure_ttl: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None:
            private_dir(self.cache_dir)  # owner only, like the store beside it
        self.timeout = timeout
        self.max_page_bytes = max_page_bytes
        self.max_image_bytes = max_image_bytes
        self.failure_ttl = failure_ttl
        self.clock = clock
        self._memory: dict[str, tuple[dict[str, Any], bytes | None]] = {}
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT, "Accept-Language": "en"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CardFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ------------------------------------------------------------------------------

    def card(self, url: str, fallback: Card) -> Card:
        """The card for `url`: the page's tags where present, else the fallback's fields."""
        key = "page:" + url
        found = self._cached(key)
        if found is None:
            try:
                if not _is_http(url):
                    raise CardError("not an http(s) URL")
                body, final_url, content_type, charset = self._get(
                    url, self.max_page_bytes, "text/html,application/xhtml+xml", truncate=True)
                fields: dict[str, Any] = {}
                if "html" in content_type or not content_type:
                    fields = parse_head(body, final_url, charset)
                event(logger, "card.fetched", url=url, fields=",".join(sorted(fields)) or "-")
            except CardError as exc:
                event(logger, "card.page_failed", logging.WARNING, url=url, reason=str(exc))
                fields = {"failed": str(exc)}
            self._store(key, fields)
            found = (fields, None)
        fields = found[0]
        return replace(
            fallback,
            uri=url,
            title=fields.get("title") or fallback.title,
            description=fields.get("description") or fallback.description,
            thumb_url=fields.get("thumb_url") or fallback.thumb_url,
        )

    def thumb(self, image_url: str | None) -> Thumb | None:
        """The image at `image_url`, downscaled/re-encoded to ≤ 1,000,000 bytes; None on failure."""
        if not image_url:
            return None
        key = "thumb:" + image_url
        found = self._cached(key)
        if found is not None:
            meta, data = found
            return Thumb(data, meta["mime"]) if data is not None and "mime" in meta else None
        try:
            if not _is_http(image_url):
                raise CardError("not an http(s) URL")
            body, _, content_type, _ = self._get(image_url, self.max_image_bytes, "image/*")
            if content_type.startswith(("text/", "application/json")):
                raise CardError(f"not an image: {content_type}")
            thumb = _fit(body)
        except CardError as exc:
            event(logger, "card.thumb_failed", logging.WARNING, url=image_url, reason=str(exc))
            self._store(key, {"failed": str(exc)})
            return None
        self._store(key, {"mime": thumb.mime}, thumb.data)
        return thumb

    def cards_for(self, urls: Iterable[tuple[str, Card]]) -> dict[str, Card]:
        """Cards for many links at once (each URL fetched once), keyed by URL."""
        cards: dict[str, Card] = {}
        for url, fallback in urls:
            if url not in cards:
                cards[url] = self.card(url, fallback)
        return cards

    # -- HTTP --------------------------------------------------------------------------------

    def _get(self, url: str, cap: int, accept: str, *, truncate: bool = False
             ) -> tuple[bytes, str, str, str | None]:
        """GET `url` → (body, final URL, content type, charset). Reads at most `cap` bytes: more
        is an error, or (truncate=True, for pages whose <head> comes first) simply not read."""
        deadline = time.monotonic() + self.timeout * 3  # a slow drip must not hold us forever
        try:
            with self._client.stream("GET", url, headers={"Accept": accept}) as resp:
                if resp.status_code >= 400:
                    raise CardError(f"HTTP {resp.status_code}")
                length = resp.headers.get("content-length", "")
                if not truncate and length.isdigit() and int(length) > cap:
                    raise CardError(f"too large ({length} bytes > {cap})")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > cap:
                        if not truncate:
                            raise CardError(f"too large (over {cap} bytes)")
                        break
                    if time.monotonic() > deadline:
                        raise CardError("too slow")
                ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                return b"".join(chunks)[:cap], str(resp.url), ctype, resp.charset_encoding
        except httpx.TimeoutException as exc:
            raise CardError("timeout") from exc
        except httpx.TooManyRedirects as exc:
            raise CardError("too many redirects") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise CardError(f"{type(exc).__name__}: {exc}") from exc

    # -- cache -------------------------------------------------------------------------------

    def _path(self, key: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / hashlib.sha256(key.encode("utf-8")).hexdigest()

    def _cached(self, key: str) -> tuple[dict[str, Any], bytes | None] | None:
        found = self._memory.get(key)
        path = self._path(key)
        if found is None and path is not None:
            try:
                meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
                data = path.with_suffix(".bin").read_bytes() if "mime" in meta else None
                found = (meta, data)
            except (OSError, ValueError):
                return None  # absent or half-written: fetch again
        if found is not None and "failed" in found[0]:
            if self.clock() - found[0].get("at", 0) > self.failure_ttl:
                self._memory.pop(key, None)
                return None  # failures are remembered only briefly
        if found is not None:
            self._memory[key] = found
        return found

    def _store(self, key: str, meta: dict[str, Any], data: bytes | None = None) -> None:
        meta = {**meta, "key": key, "at": self.clock()}
        self._memory[key] = (meta, data)
        path = self._path(key)
        if path is None:
            return
        try:  # the bytes first, then the JSON that points at them; each written atomically
            if data is not None:
                _write(path.with_suffix(".bin"), data)
            _write(path.with_suffix(".json"), json.dumps(meta).encode("utf-8"))
        except OSError as exc:
            event(logger, "card.cache_failed", logging.WARNING, key=key, reason=str(exc))


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
