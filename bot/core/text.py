"""Measuring, linking and splitting post text exactly as Bluesky counts it.

- `graphemes` / `utf8_len`: the PDS refuses a post over 300 graphemes (Intl.Segmenter, which
  `regex`'s \\X matches) or over 3000 UTF-8 bytes.
- `short_link`: the visible text Bluesky's app writes for a link (social-app's `toShortUrl`).
- `RichText`: plain text, links and hashtags; `.facets()` gives facet values on UTF-8 byte
  offsets (byteStart inclusive, byteEnd exclusive).
- `split`: text that does not fit one post is split, never cut: at paragraph, line, sentence,
  clause (after `;`, `:`, a dash), word and, for one monstrous word, grapheme boundaries; never
  inside a link or a hashtag.

Pure: stdlib and `regex` only.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import regex

from bot.core.post import Facet, Link, Tag

MAX_GRAPHEMES = 300
MAX_BYTES = 3000

_GRAPHEME = regex.compile(r"\X")
# Python's \s on str is exactly str.isspace(), which is what str.strip() removes.
_WS = re.compile(r"\s+")


def graphemes(s: str) -> int:
    """Graphemes as the PDS counts them."""
    return len(_GRAPHEME.findall(s))


def utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def fits(s: str, max_graphemes: int = MAX_GRAPHEMES, max_bytes: int = MAX_BYTES) -> bool:
    """Whether `s` is within both limits (bytes first: cheap, and a bound on graphemes)."""
    return utf8_len(s) <= max_bytes and graphemes(s) <= max_graphemes


# --- short links ---------------------------------------------------------------------------
# The rule of Bluesky's app (bluesky-social/social-app, src/lib/strings/url-helpers.ts,
# `toShortUrl`, applied by `shortenLinks` when a post is composed): host as the URL parser gives
# it (lower case, "www." kept, port kept) + path, query and fragment ("/" alone dropped); when
# that tail is over 15 characters, its first 13 and "...". Anything not http(s) stays as it is.
# We follow the app's code rather than a prettier rule so our posts look like anyone's.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/%:@!$&'()*+,;=-._~?[]{}|\\^`"


def short_link(url: str) -> str:
    """The visible text Bluesky's app shows for `url`, e.g.
    `https://www.npr.org/2024/12/27/x` -> `www.npr.org/2024/12/27/x`,
    a longer path -> `www.npr.org/2024/12/27/...`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # keep the host as written; the app would too when it cannot convert it
    default_port = 80 if parts.scheme.lower() == "http" else 443
    if port is not None and port != default_port:
        host = f"{host}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    tail = "" if path == "/" else path
    if parts.query:
        tail += "?" + quote(parts.query, safe=_QUERY_SAFE)
    if parts.fragment:
        tail += "#" + quote(parts.fragment, safe=_QUERY_SAFE + "#")
    if len(tail) > 15:
        # The app cuts at 13; we never cut a %-escape in two (the app shows "%E2%8" otherwise).
        cut = 13
        escape = tail.rfind("%", cut - 2, cut)
        if escape != -1:
            cut = escape
        return host + tail[:cut] + "..."
    return host + tail


# --- rich text -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A run of text: plain, a link (`uri`) or a hashtag (`tag`, without "#").

    Links and hashtags are never split. `keep` marks plain text that should stay with what
    follows it (a heading and its first words, a reading's title and its link): the splitter
    breaks inside it only when nothing else fits."""

    text: str
    uri: str | None = None
    tag: str | None = None
    keep: bool = False

    @property
    def atomic(self) -> bool:
        return self.uri is not None or self.tag is not None


@dataclass(frozen=True)
class RichText:
    """Text made of spans; `text` is what is posted, `facets()` what makes links clickable."""

    spans: tuple[Span, ...] = ()

    def __add__(self, other: RichText | str) -> RichText:
        if isinstance(other, str):
            other = plain(other)
        return RichText(_merge(self.spans + other.spans))

    def __radd__(self, other: str) -> RichText:
        return plain(other) + self

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.spans)

    def __bool__(self) -> bool:
        return bool(self.text.strip())

    @property
    def graphemes(self) -> int:
        return graphemes(self.text)

    @property
    def utf8_len(self) -> int:
        return utf8_len(self.text)

    def links(self) -> list[tuple[str, str]]:
        """(visible text, full URI) of each link, in order."""
        return [(s.text, s.uri) for s in self.spans if s.uri is not None]

    def facets(self) -> tuple[Facet, ...]:
        """The links and tags as facets, on UTF-8 byte offsets."""
        out: list[Facet] = []
        pos = 0
        for s in self.spans:
            size = utf8_len(s.text)
            if s.atomic and size:
                feature = Link(s.uri) if s.uri is not None else Tag(s.tag or "")
                out.append(Facet(pos, pos + size, (feature,)))
            pos += size
        return tuple(out)

    def slice(self, start: int, end: int) -> RichText:
        """The spans between two character offsets (which must not fall inside a link or tag)."""
        out: list[Span] = []
        pos = 0
        for s in self.spans:
            a, b = pos, pos + len(s.text)
            pos = b
            lo, hi = max(a, start), min(b, end)
            if lo >= hi:
                continue
            if s.atomic and (lo, hi) != (a, b):
                raise ValueError(f"cannot cut inside {s.text!r}")
            out.append(Span(s.text[lo - a : hi - a], s.uri, s.tag, s.keep))
        return RichText(tuple(out))

    def strip(self) -> RichText:
        """Without leading and trailing whitespace (plain spans only)."""
        t = self.text
        start = len(t) - len(t.lstrip())
        end = len(t.rstrip())
        return self.slice(start, end) if start < end else RichText()


def plain(text: str, keep: bool = False) -> RichText:
    return RichText((Span(text, keep=keep),)) if text else RichText()


# A web address typed into the text (Bluesky's app links these too, as it composes a post).
_BARE_URL = re.compile(r"\bhttps?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAIL = ".,;:!?'\"”’»…"  # "…" too: an address never ends with one, a cut text may


def linked(text: str, keep: bool = False) -> RichText:
    """Plain text in which each bare web address becomes a link, shown short as the app
    shows it (a raw address would be long and not clickable)."""
    out, pos = RichText(), 0
    for m in _BARE_URL.finditer(text):
        url = m.group()
        # The sentence's punctuation, or a bracket around the address, is not part of it.
        while url[-1] in _URL_TRAIL or (url[-1] == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
        try:
            host = urlsplit(url).hostname
        except ValueError:
            host = None
        if not host or "." not in host:
            continue
        out = out + plain(text[pos : m.start()], keep) + link(url)
        pos = m.start() + len(url)
    return out + plain(text[pos:], keep) if pos else plain(text, keep)


def link(uri: str, visible: str | None = None) -> RichText:
    """A link shown as `visible` (default: the app's short form of `uri`)."""
    shown = visible if visible else short_link(uri)
    return RichText((Span(shown, uri=uri),))


def hashtag(tag: str) -> RichText:
    bare = tag.lstrip("#")
    return RichText((Span("#" + bare, tag=bare),))


def join(parts: Iterable[RichText], sep: str) -> RichText:
    """The non-empty parts joined by `sep`."""
    out = RichText()
    for p in parts:
        if not p:
            continue
        out = out + sep + p if out.spans else p
    return out


def _merge(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    out: list[Span] = []
    for s in spans:
        if not s.text:
            continue
        if out and not s.atomic and not out[-1].atomic and out[-1].keep == s.keep:
            out[-1] = Span(out[-1].text + s.text, keep=s.keep)
        else:
            out.append(s)
    return tuple(out)


# --- splitting -----------------------------------------------------------------------------


class SplitError(ValueError):
    """Text holds an unbreakable part (a link or hashtag) longer than a post."""


# Break priorities: the splitter takes the best break among those that fit, the furthest on ties.
P_PARAGRAPH, P_LINE, P_SENTENCE, P_CLAUSE, P_WORD, P_CJK = 7, 6, 5, 4, 3, 2
# A clause break ("…; ", "…: ", "… — ") in the first half of what fits ranks as a word break: a
# post cut after "Follow-up:" would say nothing.
_CLAUSE_END = ";:—–"
# A space inside `keep` text breaks only when nothing else fits but cutting a word in two.
P_KEEP_WORD, P_GRAPHEME, P_KEEP_GRAPHEME = 1, 0, -1
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
_CJK_SENTENCE_END = "。！？"
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]")
# "Mr. Rogers" is not the end of a sentence; nor is an initial ("Adam A. Blanco").
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st vs etc e.g i.e no vol jr sr prof gen col lt capt sgt gov sen rep".split()
)


@dataclass(frozen=True)
class _Break:
    end: int  # the piece before ends here
    resume: int  # the next piece starts here
    priority: int


def split(
    rt: RichText,
    max_graphemes: int = MAX_GRAPHEMES,
    max_bytes: int = MAX_BYTES,
    reserve: str = "",
) -> list[RichText]:
    """Split `rt` into pieces that each fit a post with `reserve` (e.g. "\\n\\n99/99") added.

    Pieces are stripped and never empty; joined with the whitespace removed at the split
    points they give back the text. Raises SplitError if a link or hashtag alone is too long."""
    g_budget = max_graphemes - graphemes(reserve)
    b_budget = max_bytes - utf8_len(reserve)
    if g_budget < 1 or b_budget < 1:
        raise SplitError(f"no room left in a post after reserving {reserve!r}")
    text = rt.text
    n = len(text)
    first, last = len(text) - len(text.lstrip()), len(text.rstrip())
    if last <= first:
        return []
    if fits(text[first:last], g_budget, b_budget):
        # Most texts fit one post: skip finding every break (one per grapheme), the bulk of
        # composing time (see benchmarks/README.md). Same result as the loop's first step.
        return [rt.slice(first, last)]
    # Whitespace breaks first: finding a break at every grapheme is most of composing's time,
    # and a grapheme break (priority <= P_CJK) can only win where no word break fits — unless
    # the text has CJK sentence ends, whose grapheme breaks rank as sentences.
    fine = any(c in text for c in _CJK_SENTENCE_END)
    breaks = _breaks(rt, fine)
    positions = [b.end for b in breaks]
    pieces: list[RichText] = []
    s = len(text) - len(text.lstrip())
    while s < n:
        last = len(text.rstrip())
        if last <= s:
            break
        if fits(text[s:last], g_budget, b_budget):
            pieces.append(rt.slice(s, last))
            break
        lo = bisect.bisect_right(positions, s)
        # Furthest break that still fits (fitting is monotonic in the end position).
        hi_ok = lo - 1
        a, b = lo, len(breaks) - 1
        while a <= b:
            mid = (a + b) // 2
            if fits(text[s : breaks[mid].end], g_budget, b_budget):
                hi_ok, a = mid, mid + 1
            else:
                b = mid - 1
        if not fine and (
            hi_ok < lo or max(br.priority for br in breaks[lo : hi_ok + 1]) < P_WORD
        ):
            fine = True  # the same window with every grapheme break: same answer as always fine
            breaks = _breaks(rt, fine)
            positions = [b.end for b in breaks]
            continue
        if hi_ok < lo:
            raise SplitError(
                f"cannot fit {text[s : s + 60]!r}… in a post: an unbreakable part is too long"
            )
        half = s + (breaks[hi_ok].end - s) // 2

        def rank(br: _Break, half: int = half) -> tuple[int, int]:
            early_clause = br.priority == P_CLAUSE and br.end < half
            return (P_WORD if early_clause else br.priority, br.end)

        best = max(breaks[lo : hi_ok + 1], key=rank)
        pieces.append(rt.slice(s, best.end))
        s = best.resume
    return pieces


def _breaks(rt: RichText, fine: bool = True) -> list[_Break]:
    """Every place the text may be split, with its priority, in order (`fine=False`: only the
    whitespace breaks)."""
    text = rt.text
    n = len(text)
    atomic: list[tuple[int, int]] = []
    keep = bytearray(n)
    pos = 0
    for s in rt.spans:
        end = pos + len(s.text)
        if s.atomic:
            atomic.append((pos, end))
        elif s.keep:
            keep[pos:end] = b"\x01" * (end - pos)
        pos = end

    def inside_atomic(a: int, b: int) -> bool:
        # A split exactly at a link's edge is fine; anywhere inside it is not.
        if a == b:
            return any(x < a < y for x, y in atomic)
        return any(a < y and x < b for x, y in atomic)

    found: dict[int, _Break] = {}
    for m in _WS.finditer(text):
        i, j = m.span()
        if i == 0 or j == n or inside_atomic(i, j):
            continue
        run = m.group()
        if any(keep[i:j]):
            prio = P_KEEP_WORD
        elif run.count("\n") >= 2:
            prio = P_PARAGRAPH
        elif "\n" in run or "\r" in run or "\u2028" in run or "\u2029" in run:
            prio = P_LINE
        elif _ends_sentence(text[max(0, i - 40) : i]):
            prio = P_SENTENCE
        elif text[i - 1] in _CLAUSE_END:
            prio = P_CLAUSE
        else:
            prio = P_WORD
        found[i] = _Break(i, j, prio)
    if not fine:
        return [found[k] for k in sorted(found)]
    for m in _GRAPHEME.finditer(text):
        p = m.start()
        if p == 0 or p in found or text[p - 1].isspace() or text[p].isspace():
            continue
        if inside_atomic(p, p):
            continue
        if keep[p - 1] or keep[p]:
            prio = P_KEEP_GRAPHEME
        elif text[p - 1] in _CJK_SENTENCE_END:
            prio = P_SENTENCE
        elif _CJK.match(text[p - 1]) or _CJK.match(text[p]):
            prio = P_CJK
        else:
            prio = P_GRAPHEME
        found[p] = _Break(p, p, prio)
    return [found[k] for k in sorted(found)]


def _ends_sentence(before: str) -> bool:
    if not _SENTENCE_END.search(before):
        return False
    word = before.rstrip("\"'”’»)]").rstrip(".").split()[-1:] or [""]
    w = word[0].lower().lstrip("(\"'“‘«")
    if w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha()):
        return False
    return True
