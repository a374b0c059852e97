"""What a page says about itself for a card: title, description and image address.

Precedence, field by field: `og:*` > `twitter:*` > the page's `<title>` / `<meta name=description>`
> the caller's fallback (the feed). Explicit card tags are what the publisher chose to show; the
HTML title still names the page better than link text; the feed's data is the last resort."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from bot.core.excerpt import decode_entities

MAX_DESCRIPTION = 300
MAX_TITLE = 300
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.I)
_HEAD_END = re.compile(rb"</head\s*>|<body[\s>]", re.I)


def is_http(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme in ("http", "https")


def head_done(html: bytes | bytearray) -> bool:
    """True once the page's <head> is complete: everything a card needs has been read."""
    return _HEAD_END.search(html) is not None


def _clean(text: str | None, limit: int) -> str:
    """Collapse whitespace and cut at a word boundary, ending with '…', so it is at most `limit`."""
    # A page that escaped its description twice ("AT&amp;amp;T") shows "&amp;" once read.
    text = " ".join(decode_entities(text or "").split())
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
        fields["thumb_url"] = image if is_http(image) else ""
    return {k: v for k, v in fields.items() if v}
