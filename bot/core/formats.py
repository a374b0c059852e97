"""What a feed's bytes are, before feedparser reads them: RSS/Atom (as they are, or re-encoded
from UTF-16/32 written without a byte-order mark), a JSON Feed, or not a feed at all, said in
words a person can act on ("an HTML page, not a feed: its feed is https://…/feed: use that")
rather than a parser's `<unknown>:1:0`.

Pure: json, lxml and the stdlib.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from lxml import etree

_DECLARED_ENCODING = re.compile(r"""(<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""", re.I)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
               "application/json")  # fmt: skip
_PARSER_NOISE = re.compile(r"^<unknown>:(\d+):(\d+):\s*")
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})


@dataclass(frozen=True)
class Sniffed:
    """The bytes to give feedparser (`data`), or a JSON Feed already decoded (`json_feed`)."""

    data: bytes = b""
    json_feed: dict[str, Any] | None = None


def sniff(data: bytes) -> Sniffed:
    """The feed in `data`: XML bytes feedparser reads without guessing, or a JSON Feed.
    Raises ValueError saying what the bytes are when they are JSON but not a JSON Feed."""
    data = _utf8_if_wide(data)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"{", b"["):
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"is JSON that cannot be read ({exc})") from exc
        if isinstance(doc, dict) and str(doc.get("version", "")).startswith(
            ("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")
        ):
            return Sniffed(json_feed=doc)
        raise ValueError("is JSON, not a JSON Feed (no jsonfeed.org version)")
    return Sniffed(data=data)


def _utf8_if_wide(data: bytes) -> bytes:
    """UTF-16/32 text written without a BOM, as UTF-8 with its declaration saying so (feedparser
    cannot tell such bytes without a declaration, and warns with one)."""
    if data.startswith(_BOMS) or len(data) < 4:
        return data
    encoding = None
    if data[0] == 0:
        encoding = "utf-32-be" if data[:3] == b"\x00\x00\x00" else "utf-16-be"
    elif data[1] == 0:
        encoding = "utf-32-le" if data[1:4] == b"\x00\x00\x00" else "utf-16-le"
    if encoding is None:
        return data
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return data
    return _DECLARED_ENCODING.sub(r"\1\2utf-8\2", text, count=1).encode("utf-8")


def what_it_is(data: bytes, source: str, problem: str | None) -> str:
    """Why `data` yields no feed, as the end of a sentence about `source`: "is an HTML page, not
    a feed: its feed is …: use that", "is XML (<opml>), not an RSS or Atom feed", …"""
    text = data.strip()
    if not text:
        return "is not an RSS or Atom feed (it is empty)"
    lowered = text[:2048].lower()
    if b"<html" in lowered or b"<!doctype html" in lowered:
        feed = feed_named_in(data, source)
        if feed:
            return f"is an HTML page, not a feed: its feed is {feed}: use that"
        return "is an HTML page, not a feed (it names no feed of its own)"
    root = _root_tag(data)
    if root is None:
        why = f" ({readable(problem)})" if problem else ""
        return f"is not an RSS or Atom feed{why}"
    if root in ("rss", "rdf") and b"<channel" not in lowered and b"<channel" not in text.lower():
        return "is an RSS document with no <channel>, so no feed"
    if root in _FEED_ROOTS:
        why = f": {readable(problem)}" if problem else ""
        return f"is an RSS or Atom feed that cannot be read{why}"
    return f"is XML (<{root}>), not an RSS or Atom feed"


def _root_tag(data: bytes) -> str | None:
    """The XML root element's local name (lower case), or None when the bytes are not XML."""
    try:
        parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                                 huge_tree=False)  # fmt: skip
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None or not isinstance(root.tag, str):
        return None
    # Not etree.QName: a recovered root may carry a tag it refuses ("rss:").
    return root.tag.rpartition("}")[2].rpartition(":")[2].lower() or None


def feed_named_in(data: bytes, source: str) -> str | None:
    """The address of the feed an HTML page names (`<link rel="alternate" type="…rss+xml">`),
    resolved against the page's own address; None when it names none."""
    try:
        from lxml import html as lhtml

        page = lhtml.fromstring(data)
    except (etree.ParserError, ValueError):
        return None
    found: dict[str, str] = {}
    for el in page.iter("link"):
        rel = (el.get("rel") or "").lower().split()
        kind = (el.get("type") or "").lower().split(";")[0].strip()
        href = (el.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            found.setdefault(kind, href)
    # A feed's own types first: a WordPress page's "application/json" is its REST API.
    href = next((found[kind] for kind in _FEED_TYPES if kind in found), None)
    if href is None:
        return None
    base = source if source.lower().startswith(("http://", "https://")) else ""
    return urljoin(base, href) if base else href


def readable(problem: str | None, data: bytes = b"") -> str:
    """A parser's complaint without its noise: "<unknown>:2:0: not well-formed" becomes
    "not well-formed (line 2)" — the file's line: feedparser counts one more when it added an
    XML declaration the file did not have."""
    if not problem:
        return ""
    m = _PARSER_NOISE.match(problem)
    if m:
        line = int(m.group(1))
        if data and not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"):
            line = max(1, line - 1)
        return f"{problem[m.end():]} (line {line})"
    return problem
