"""What is wrong with a post record, as the editor should hear it before posting.

`check_record` looks at one `app.bsky.feed.post` record (the lexicon dict, as `Post.record()`
gives it) and returns Findings: "error" for what the PDS refuses (over 300 graphemes or 3000
bytes, facets off the text), "warning" for what would post but looks wrong (near a limit, empty
text, a link the app cannot open). Pure: no network; counting is bot.core.text's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from bot.core.post import LINK_FEATURE, MENTION_FEATURE, TAG_FEATURE
from bot.core.text import MAX_BYTES, MAX_GRAPHEMES, graphemes, utf8_len

NEAR_GRAPHEMES = 280  # close enough that a small edit of the template would tip it over
NEAR_BYTES = 2800
MAX_TAG_GRAPHEMES = 64
MAX_LANGS = 3
MAX_THUMB_BYTES = 1_000_000

@dataclass(frozen=True)
class Finding:
    """One thing to tell the editor about a post: `error` (refused) or `warning` (looks wrong)."""

    level: Literal["error", "warning"]
    message: str


def check_record(record: Mapping[str, Any]) -> list[Finding]:
    """Everything wrong with one post record, errors first in the order they occur."""
    text = record.get("text")
    if not isinstance(text, str):
        return [Finding("error", "the record has no text")]
    found: list[Finding] = []
    found += _check_length(text)
    if not text.strip():
        if isinstance(record.get("embed"), Mapping):
            found.append(Finding("warning", "the post has no text, only a card"))
        else:
            found.append(Finding("error", "empty post: no text and no card"))
    data = text.encode("utf-8")
    spans: list[tuple[int, int]] = []
    for number, facet in enumerate(record.get("facets") or (), 1):
        found += _check_facet(number, facet, data, spans)
    langs = record.get("langs") or ()
    if len(langs) > MAX_LANGS:
        found.append(Finding("error", f"{len(langs)} languages (at most {MAX_LANGS})"))
    return sorted(found, key=lambda f: f.level != "error")


def _check_length(text: str) -> list[Finding]:
    count, size = graphemes(text), utf8_len(text)
    found = []
    if count > MAX_GRAPHEMES:
        found.append(Finding("error", f"{count} graphemes, over the limit of {MAX_GRAPHEMES}"))
    elif count >= NEAR_GRAPHEMES:
        found.append(Finding("warning", f"{count} graphemes, near the limit of {MAX_GRAPHEMES}"))
    if size > MAX_BYTES:
        found.append(Finding("error", f"{size:,} bytes, over the limit of 3,000"))
    elif size >= NEAR_BYTES:
        found.append(Finding("warning", f"{size:,} bytes, near the limit of 3,000"))
    return found


def _check_facet(
    number: int, facet: Any, data: bytes, spans: list[tuple[int, int]]
) -> list[Finding]:
    name = f"facet {number}"
    index = facet.get("index") if isinstance(facet, Mapping) else None
    start = index.get("byteStart") if isinstance(index, Mapping) else None
    end = index.get("byteEnd") if isinstance(index, Mapping) else None
    if not isinstance(start, int) or not isinstance(end, int):
        return [Finding("error", f"{name} has no byte range")]
    where = f"{name} (bytes {start}–{end})"
    if not 0 <= start < end <= len(data):
        return [Finding("error", f"{where} is outside the text ({len(data)} bytes)")]
    if not (on_char_boundary(data, start) and on_char_boundary(data, end)):
        return [Finding("error", f"{where} cuts a character in half")]
    found = []
    if any(start < e and s < end for s, e in spans):
        found.append(Finding("warning", f"{where} overlaps another facet"))
    spans.append((start, end))
    features = facet.get("features") or ()
    if not features:
        found.append(Finding("error", f"{where} has no feature"))
    for feature in features:
        found += _check_feature(where, feature)
    return found


def _check_feature(where: str, feature: Any) -> list[Finding]:
    kind = feature.get("$type") if isinstance(feature, Mapping) else None
    if kind == LINK_FEATURE:
        uri = str(feature.get("uri", ""))
        if not is_web_address(uri):
            return [Finding("warning", f"{where} links to {uri!r}, not a web address")]
    elif kind == TAG_FEATURE:
        tag = str(feature.get("tag", ""))
        if not tag or any(c.isspace() for c in tag):
            return [Finding("error", f"{where} has an invalid tag {tag!r}")]
        if graphemes(tag) > MAX_TAG_GRAPHEMES:
            return [Finding("error", f"{where} tag is over {MAX_TAG_GRAPHEMES} graphemes")]
    elif kind != MENTION_FEATURE:
        return [Finding("warning", f"{where} has an unknown feature {kind!r}")]
    return []


def is_web_address(uri: str) -> bool:
    """An http(s) URL with a host: the only kind the page turns into a link."""
    try:
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False


def on_char_boundary(data: bytes, offset: int) -> bool:
    """Whether a UTF-8 byte offset falls between two characters."""
    # A UTF-8 character starts at any byte that is not a continuation byte (10xxxxxx).
    return offset == len(data) or (data[offset] & 0xC0) != 0x80
