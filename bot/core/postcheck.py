"""What is wrong with a post record, as the editor should hear it before posting.

`check_post` looks at one post (the value that is written, or one read back from a record by
bot.bluesky.lexicon) and returns Findings: "error" for what the PDS refuses (over 300 graphemes or
3000 bytes, facets off the text, a post that is only a link), "warning" for what would post but
looks wrong (near a limit, empty text, a link the app cannot open, raw HTML or entities, a feed's
"read more" boilerplate). Pure: no network; counting is bot.core.text's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bot.core.post import Facet, Feature, Link, OtherFeature, Post, Tag
from bot.core.text import MAX_BYTES, MAX_GRAPHEMES, graphemes, utf8_len

NEAR_GRAPHEMES = 280  # close enough that a small edit of the template would tip it over
NEAR_BYTES = 2800
MAX_TAG_GRAPHEMES = 64
MAX_LANGS = 3
MAX_THUMB_BYTES = 1_000_000

# What is left of a post without its links when it says nothing: space, separators, "2/3".
_NOTHING = re.compile(r"[\s\W]*(?:\d{1,3}\s*/\s*\d{1,3})?[\s\W]*")
_RAW_HTML = re.compile(
    r"</?(?:p|a|div|span|br|img|b|i|em|strong|ul|ol|li|h[1-6]|figure|blockquote)\b[^<>]*>",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
# What feeds append to an excerpt: never the author's words (English and the forms seen in
# real feeds; the reader drops them by structure, this catches what slips through).
_BOILERPLATE = re.compile(
    r"The post .{1,300} appeared first on|\[(?:…|\.\.\.|&hellip;)\]\s*$|Continue reading\W*$"
    r"|Read more\W*$|Lire la (?:suite|publication complète)|Leia mais\W*$|Weiterlesen\W*$",
    re.IGNORECASE,
)

@dataclass(frozen=True)
class Finding:
    """One thing to tell the editor about a post: `error` (refused) or `warning` (looks wrong)."""

    level: Literal["error", "warning"]
    message: str


def check_post(post: Post) -> list[Finding]:
    """Everything wrong with one post, errors first in the order they occur."""
    text = post.text
    found: list[Finding] = []
    found += _check_length(text)
    if not text.strip():
        if post.card is not None:
            found.append(Finding("warning", "the post has no text, only a card"))
        else:
            found.append(Finding("error", "empty post: no text and no card"))
    data = text.encode("utf-8")
    spans: list[tuple[int, int]] = []
    for number, facet in enumerate(post.facets, 1):
        found += _check_facet(number, facet, data, spans)
    found += _check_words(text, data, spans)
    langs = post.langs
    if len(langs) > MAX_LANGS:
        found.append(Finding("error", f"{len(langs)} languages (at most {MAX_LANGS})"))
    return sorted(found, key=lambda f: f.level != "error")


def _check_words(text: str, data: bytes, spans: list[tuple[int, int]]) -> list[Finding]:
    """A post must say something besides its links, in plain words, not a feed's leftovers."""
    found = []
    if spans and text.strip():
        rest, pos = bytearray(), 0
        for start, end in sorted(spans):
            rest += data[pos:start]
            pos = max(pos, end)
        rest += data[pos:]
        if _NOTHING.fullmatch(rest.decode("utf-8", "replace")):
            found.append(Finding("error", "the post is only a link: it says nothing"))
    if _RAW_HTML.search(text):
        found.append(Finding("warning", "raw HTML in the text"))
    if _ENTITY.search(text):
        found.append(Finding("warning", "an HTML entity in the text (&…;) was not decoded"))
    m = _BOILERPLATE.search(text)
    if m:
        found.append(Finding("warning", f"a feed's boilerplate in the text: {m.group().strip()!r}"))
    return found


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
    number: int, facet: Facet, data: bytes, spans: list[tuple[int, int]]
) -> list[Finding]:
    name = f"facet {number}"
    start, end = facet.start, facet.end
    if start is None or end is None:
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
    features = facet.features
    if not features:
        found.append(Finding("error", f"{where} has no feature"))
    for feature in features:
        found += _check_feature(where, feature)
    return found


def _check_feature(where: str, feature: Feature) -> list[Finding]:
    match feature:
        case Link(uri) if not is_web_address(uri):
            return [Finding("warning", f"{where} links to {uri!r}, not a web address")]
        case Tag(tag) if not tag or any(c.isspace() for c in tag):
            return [Finding("error", f"{where} has an invalid tag {tag!r}")]
        case Tag(tag) if graphemes(tag) > MAX_TAG_GRAPHEMES:
            return [Finding("error", f"{where} tag is over {MAX_TAG_GRAPHEMES} graphemes")]
        case OtherFeature(kind):
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
