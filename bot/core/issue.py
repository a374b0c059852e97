"""Read an issue's sections: Takeaways, Follow-ups and Quick Bites with their reading links, and
the closing volume line.

The newsletter's markup drifts from week to week (heading levels, bold paragraphs standing in
for headings, bullets as lists or paragraphs, dashes or colons after a label), so sections are
recognised by their words (the profile's variants, any case, any punctuation) and by shape, not
by exact markup. Whatever is seen inside a section but cannot be placed becomes a warning, so
`inspect` can show it. Pure: stdlib, lxml and regex only; never raises on any HTML.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import regex

from bot.core.blocks import Block, clean, html_blocks
from bot.core.model import Item, Link, Takeaway
from bot.core.profile import Profile
from bot.core.takeaway import LABEL_TRIM, is_label, parse_takeaway

__all__ = ["IssueSections", "read_sections", "read_blocks", "parse_takeaway", "heading_key"]

ITEM_KINDS = ("follow_ups", "quick_bites")
_ITEM_MODES = ("follow_ups", "quick_bites", "combined")
_NON_WORD = regex.compile(r"[\W_]+")
_MAX_HEADING = 80  # longer text is prose, never a section's name
_BOLD_HEADING = 7  # a bold-only paragraph: a heading below every real one
_LEAD_ENDS = frozenset(".:!?\u2014\u2013-")
# Substack's own button words when they slip out of their widgets.
_UI_WORDS = frozenset({"share", "subscribe", "subscribe now", "leave a comment", "share this post"})
_UI_WORDS_MAX = max(map(len, _UI_WORDS))
_PREFIXES = {
    "follow_ups": regex.compile(r"(?i)^\s*follow[\s-]*ups?\s*[:\u2014\u2013-]\s*"),
    "quick_bites": regex.compile(r"(?i)^\s*quick[\s-]*bites?\s*[:\u2014\u2013-]\s*"),
}


@dataclass(frozen=True)
class IssueSections:
    """What the reader found in an issue's HTML."""

    takeaways: tuple[Takeaway, ...] = ()
    follow_ups: tuple[Item, ...] = ()
    quick_bites: tuple[Item, ...] = ()
    volume: str | None = None
    warnings: tuple[str, ...] = ()


def heading_key(text: str) -> str:
    """A heading reduced to its words: "Follow-ups & Quick Bites:" -> "followupsandquickbites"."""
    text = text.casefold().replace("&amp;", "&").replace("&", " and ").replace("+", " and ")
    return _NON_WORD.sub("", text)


def _singular(key: str) -> str:
    return key[:-1] if key.endswith("s") else key


# How many paragraphs after the takeaways ended are still checked for a takeaway's shape.
_TAKEAWAY_LOOKAHEAD = 3


def _short(text: str, width: int = 60) -> str:
    text = clean(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _starts(variants: Iterable[str]) -> regex.Pattern[str]:
    """A pattern for any of `variants` at the start of a text (any case; ’ or ', … or ...)."""
    spellings = {"'": "['\u2019]", "\u2019": "['\u2019]", "\u2026": r"(?:\u2026|\.\.\.)"}
    alternatives = [
        "".join(spellings.get(c, regex.escape(c)) for c in v)
        for v in sorted({v.strip() for v in variants} - {""}, key=len, reverse=True)
    ]
    return regex.compile(r"(?if)\s*(?:" + ("|".join(alternatives) or "(?!)") + ")")


@dataclass
class _ItemDraft:
    kind: str
    headline: str
    lead_style: bool = False  # made from a "**Headline.** body" paragraph
    paragraphs: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    paragraph_links: list[tuple[Link, ...]] = field(default_factory=list)
    readings_label: bool = False

    def add(self, paragraph: str, links: Iterable[Link] = ()) -> None:
        """A paragraph of the item, with the <a>s inside it."""
        self.paragraphs.append(paragraph)
        self.paragraph_links.append(_inline_links(links, paragraph))

    def build(self) -> Item:
        seen: set[Link] = set()
        links = tuple(x for x in self.links if not (x in seen or seen.add(x)))  # type: ignore[func-returns-value]
        inline = tuple(self.paragraph_links) if any(self.paragraph_links) else ()
        return Item(
            headline=self.headline,
            paragraphs=tuple(self.paragraphs),
            links=links,
            paragraph_links=inline,
        )


# An anchor that is itself a web address: the composer links typed addresses on its own.
_ADDRESS = regex.compile(r"(?i)https?://\S+")


def _inline_links(links: Iterable[Link], text: str) -> tuple[Link, ...]:
    """The <a>s of a paragraph that keep their address as a link on their words when posted:
    each once, in order, only those whose words are in `text` and are not an address."""
    out: list[Link] = []
    for lk in links:
        if lk.title and lk.title in text and not _ADDRESS.fullmatch(lk.title) and lk not in out:
            out.append(lk)
    return tuple(out)


def _share_links(links: Iterable[Link], texts: list[str]) -> list[tuple[Link, ...]]:
    """A paragraph's <a>s shared among the takeaways typed as its lines: each link goes to the
    first one whose text holds its words."""
    shares: list[list[Link]] = [[] for _ in texts]
    for lk in _inline_links(links, "\n".join(texts)):
        for share, text in zip(shares, texts, strict=True):
            if lk.title in text:
                share.append(lk)
                break
    return [tuple(x) for x in shares]


def _reading_links(links: list[Link], text: str) -> list[Link]:
    """A reading is often written `<a>Title</a> (Source, date)`: the source is part of its title,
    as a follower needs it to know where the link goes. `text`: the reading's paragraph (one
    reading a line when several were typed in one paragraph)."""
    if len(links) > 1 and "\n" in text:
        out, queue = [], list(links)
        for line in text.split("\n"):
            n = 0
            while n < len(queue) and queue[n].title in line:
                n += 1
            out += _reading_links(queue[:n], line)
            queue = queue[n:]
        return out + queue
    if len(links) != 1:
        return links
    link, text = links[0], clean(text)
    if text != link.title and link.title in text and len(text) <= len(link.title) + 120:
        return [Link(title=text, url=link.url)]
    return links


class _Reader:
    """Walks the blocks once, top to bottom, keeping track of which section it is in."""

    def __init__(self, profile: Profile) -> None:
        sec = profile.sections
        self.keys = {
            "takeaways": {_singular(heading_key(v)) for v in sec.takeaways} - {""},
            "follow_ups": {_singular(heading_key(v)) for v in sec.follow_ups} - {""},
            "quick_bites": {_singular(heading_key(v)) for v in sec.quick_bites} - {""},
            "combined": {_singular(heading_key(v)) for v in sec.combined} - {""},
        }
        self.readings = {_singular(heading_key(v)) for v in sec.readings} - {""}
        self.readings_start = _starts(sec.readings)
        self.boilerplate = _starts(sec.boilerplate)
        self.volume_re = sec.volume
        self.takeaways: list[Takeaway] = []
        self.items: dict[str, list[Item]] = {k: [] for k in ITEM_KINDS}
        self.volume: str | None = None
        self.warnings: list[str] = []
        self.mode: str | None = None  # "takeaways" | "follow_ups" | "quick_bites" | "combined"
        self.level = 0  # heading level of the open section
        self.outer = 0  # level of an enclosing "Follow-ups & Quick Bites" heading
        self.item: _ItemDraft | None = None
        self.item_level = 0  # heading level the open section's items use
        self.section_items = 0
        self.reading = False
        self.tk_found = 0
        self.tk_list = 0
        self.tk_item = 0
        self.tk_intro = 0
        self.tk_pending = ""  # the last takeaway is only a label, typed as this, awaiting text
        self.tk_pending_links: tuple[Link, ...] = ()  # the <a>s of that label's paragraph
        self.tk_after = 0  # paragraphs after the takeaways ended still checked for their shape

    # -- recognising words -------------------------------------------------------------------
    def section_kind(self, text: str) -> tuple[str | None, bool]:
        """Which section a heading opens, and whether its words matched exactly."""
        key = _singular(heading_key(text)) if len(text) <= _MAX_HEADING else ""
        if not key:
            return None, False
        for kind in ("combined", "takeaways", "follow_ups", "quick_bites"):
            if key in self.keys[kind]:
                return kind, True
        has_fu = any(k in key for k in self.keys["follow_ups"])
        has_qb = any(k in key for k in self.keys["quick_bites"])
        if has_fu and has_qb:
            return "combined", False
        for kind in ("takeaways", "follow_ups", "quick_bites"):
            # Allow a little decoration around the words: "This week's Quick Bites", "My Takeaways".
            if any(
                (key.startswith(k) or key.endswith(k)) and len(key) - len(k) <= 10
                for k in self.keys[kind]
            ):
                return kind, False
        return None, False

    def is_readings_label(self, text: str) -> bool:
        return len(text) <= _MAX_HEADING and _singular(heading_key(text)) in self.readings

    def readings_prefix(self, text: str) -> int:
        """Where a reading label that `text` starts with ends (0: none)."""
        m = self.readings_start.match(text)
        return m.end() if m else 0

    def is_boilerplate(self, text: str) -> bool:
        if len(text) <= _UI_WORDS_MAX and text.casefold() in _UI_WORDS:
            return True
        return self.boilerplate.match(text) is not None

    def take_volume(self, text: str) -> bool:
        m = self.volume_re.match(text)
        if m and m.group(0).strip():
            found = clean(m.group(0))
        elif (
            len(text) <= 60
            and "\n" not in text
            and (m := self.volume_re.search(text))
            and m.start() <= 12  # "BWR Vol 3, No 28", not a sentence that cites an issue
        ):
            found = clean(text)
        else:
            return False
        if self.volume is None:
            self.volume = found
        return True

    # -- the walk ----------------------------------------------------------------------------
    def feed(self, b: Block) -> None:
        if b.kind == "divider":
            return
        text = b.text
        if self.take_volume(text) or self.is_boilerplate(text):
            return
        if "\n" in text:  # the volume line typed after a <br> at the end of the last paragraph
            body, _, last = text.rpartition("\n")
            if self.volume_re.match(last) and self.take_volume(last):
                b.text = text = body
        head = b.level if b.kind == "heading" else 0
        if not head and b.bold_only and not b.quote and not b.list_id:
            head = _BOLD_HEADING
        # The reading label may be a heading, a bold paragraph or a plain one.
        if (head or self.item is not None) and self.is_readings_label(text):
            self.start_readings(b)
            return
        if head:
            kind, exact = self.section_kind(text)
            # "Follow-up on Slovakia" deep inside a section is an item's headline, not a section.
            if kind and (exact or self.mode not in _ITEM_MODES or head <= self.level):
                self.open(kind, head)
                return
        if self.mode == "takeaways":
            if self.takeaway(b):
                return
            self.close()  # the takeaways end where their shape ends
            self.tk_after = _TAKEAWAY_LOOKAHEAD
        elif self.mode is None and self.tk_after:
            # A takeaway typed after a stray paragraph is not taken (the essay may start
            # anywhere), but it is reported, never lost silently. A heading: the essay is on.
            self.tk_after = 0 if head else self.tk_after - 1
            found = None if head else parse_takeaway(b.text, b.lead)
            if found and is_label(found[0]):
                self.warnings.append(
                    f"takeaways: left out a takeaway-shaped paragraph after they ended: "
                    f"{_short(b.text)!r}"
                )
        if self.mode in _ITEM_MODES:
            self.in_items(b, head)

    def open(self, kind: str, level: int) -> None:
        keep_outer = (
            kind in ITEM_KINDS and self.outer and self.mode in _ITEM_MODES and level > self.outer
        )
        outer = self.outer if keep_outer else 0
        self.close()
        self.mode, self.level = kind, level
        self.outer = level if kind == "combined" else outer
        self.item_level = 0
        self.section_items = 0
        self.tk_found = self.tk_list = self.tk_item = self.tk_intro = 0
        self.tk_pending = ""

    def close(self) -> None:
        self.finish_item()
        self.label_without_text()
        if self.mode == "takeaways" and not self.tk_found:
            self.warnings.append("takeaways: a Takeaways heading with no takeaways under it")
        elif self.mode in ITEM_KINDS and not self.section_items:
            self.warnings.append(f"{self._name(self.mode)}: a heading with no items under it")
        self.mode = None
        self.outer = 0

    def finish_item(self) -> None:
        item = self.item
        if item is None:
            return
        if item.readings_label and not item.links:
            self.warnings.append(f"{item.headline!r}: a reading label with no links after it")
        if not item.paragraphs and not item.links:
            self.warnings.append(f"{item.headline!r}: a headline with nothing under it")
        self.items[item.kind].append(item.build())
        self.item = None
        self.reading = False

    @staticmethod
    def _name(kind: str | None) -> str:
        return {"follow_ups": "follow-ups", "quick_bites": "quick bites"}.get(kind or "", "section")

    # -- takeaways ---------------------------------------------------------------------------
    def takeaway(self, b: Block) -> bool:
        """Place `b` as a takeaway (or part of one); False when the takeaways have ended."""
        if b.kind == "heading":
            return False
        if self.tk_pending and b.item_id == self.tk_item:
            self.tk_pending = ""  # "**FOREVER NEIGHBORS**", then its text in the same bullet
            text = clean(b.text)
            self.takeaways[-1] = Takeaway(
                self.takeaways[-1].label, text, _inline_links(b.links, text)
            )
            return True
        self.label_without_text()
        if self.tk_found and self.tk_list and not b.list_id:
            return False  # the bulleted list is over; what follows is the essay
        lines = b.text.split("\n")
        found = [parse_takeaway(b.text, b.lead)]
        if len(lines) > 1:  # bullets typed as lines of one paragraph (shift-enter)
            found = [parse_takeaway(lines[0], b.lead)] + [parse_takeaway(x) for x in lines[1:]]
            if not all(found):
                found = [parse_takeaway(b.text, b.lead)]
        if all(found):
            texts = [f[1] for f in found if f]
            shares = _share_links(b.links, texts)
            self.takeaways += [
                Takeaway(label=f[0], text=f[1], links=share)
                for f, share in zip(found, shares, strict=True)
                if f
            ]
            self.tk_found += 1
            self.tk_list, self.tk_item = b.list_id, b.item_id
            return True
        if self.tk_found and b.item_id and b.item_id == self.tk_item:
            last = self.takeaways[-1]  # a second paragraph of the same bullet
            text = clean(f"{last.text} {b.text}")
            more = _inline_links(b.links, clean(b.text))
            links = last.links + tuple(lk for lk in more if lk not in last.links)
            self.takeaways[-1] = Takeaway(last.label, text, links)
            return True
        in_list = b.list_id and (b.list_id == self.tk_list or not self.tk_found)
        label = b.text.strip(LABEL_TRIM)
        if (
            label
            and "\n" not in label
            and len(label.split()) <= 8
            and (
                (in_list and (is_label(label) or b.bold_only))
                # Outside a list only a label that says its text follows: "FOREVER NEIGHBORS:".
                or (is_label(label) and b.text.rstrip()[-1:] in ":\u2014\u2013")
            )
        ):
            self.takeaways.append(Takeaway(label=label, text=""))
            self.tk_pending = clean(b.text)
            self.tk_pending_links = tuple(b.links)
            self.tk_found += 1
            self.tk_list, self.tk_item = b.list_id, b.item_id
            return True
        if in_list:
            text = clean(b.text)
            self.takeaways.append(Takeaway(label="", text=text, links=_inline_links(b.links, text)))
            self.warnings.append(
                f"takeaways: a bullet without an ALL-CAPS label: {_short(b.text)!r}"
            )
            self.tk_found += 1
            self.tk_list, self.tk_item = b.list_id, b.item_id
            return True
        if not self.tk_found and self.tk_intro < 2:
            self.tk_intro += 1
            self.warnings.append(
                f"takeaways: left out a paragraph before the first one: {_short(b.text)!r}"
            )
            return True
        return False

    def label_without_text(self) -> None:
        """A label-shaped bullet that no text followed: a label in capitals, else the text."""
        if not self.tk_pending:
            return
        bullet, self.tk_pending = self.tk_pending, ""
        if is_label(self.takeaways[-1].label):
            self.warnings.append(f"takeaways: a label with no text after it: {bullet!r}")
        else:
            links = _inline_links(self.tk_pending_links, bullet)
            self.takeaways[-1] = Takeaway(label="", text=bullet, links=links)
            self.warnings.append(
                f"takeaways: a bullet without an ALL-CAPS label: {_short(bullet)!r}"
            )

    # -- follow-ups and quick bites ----------------------------------------------------------
    def starts_item(self, head: int) -> bool:
        """Whether a heading of this level opens an item here (False: it ends the section)."""
        if head == _BOLD_HEADING or head > self.level:
            return True
        if self.outer and head > self.outer:
            return True
        if self.item_level and head >= self.item_level:
            return True
        # Items written at the section's own level (or under a bold "heading") when none yet.
        return not self.section_items and (head >= self.level or self.level == _BOLD_HEADING)

    def new_item(self, headline: str, lead_style: bool = False) -> _ItemDraft:
        self.finish_item()
        kind = self.mode if self.mode in ITEM_KINDS else "quick_bites"
        for k, prefix in _PREFIXES.items():
            m = prefix.match(headline)
            if m and m.end() < len(headline):
                kind, headline = k, headline[m.end() :]
        headline = clean(headline).rstrip(":").strip()
        self.item = _ItemDraft(kind=kind, headline=headline, lead_style=lead_style)
        self.section_items += 1
        return self.item

    def start_readings(self, b: Block) -> None:
        if self.item is None:
            if self.mode in _ITEM_MODES:
                self.warnings.append(f"{self._name(self.mode)}: a reading label outside any item")
            return
        self.item.readings_label = True
        rest = b.text[self.readings_prefix(b.text) :].lstrip(" :\u2014\u2013-")
        self.item.links.extend(_reading_links(b.links, rest))
        self.reading = True

    def in_items(self, b: Block, head: int) -> None:
        if (b.kind == "heading") or (head == _BOLD_HEADING and not (self.reading and b.links)):
            if not self.starts_item(head):
                self.close()
                return
            if head != _BOLD_HEADING and not self.item_level:
                self.item_level = head
            self.new_item(b.text).links.extend(b.links)  # a linked headline links its source
            return
        if self.reading:
            if b.links:
                self.item.links.extend(_reading_links(b.links, b.text))  # type: ignore[union-attr]
                return
            self.reading = False
        if self.readings_prefix(b.text) and b.links:
            self.start_readings(b)
            return
        lead = b.lead.strip()
        # "**Gudkov Killed.** A general died." is a whole item; one bold word is just emphasis.
        headline_like = lead[-1:] in _LEAD_ENDS or len(lead.split()) >= 2
        if (
            lead
            and headline_like
            and not b.quote
            and len(lead) < len(b.text)
            and (self.item is None or self.item.lead_style)
        ):
            item = self.new_item(lead.strip(" :.\u2014\u2013-"), lead_style=True)
            rest = (
                b.text[len(lead) :].lstrip(" :.\u2014\u2013-")
                if b.text.startswith(lead)
                else b.text
            )
            if rest.strip():
                item.add(rest.strip(), b.links)
            return
        if self.item is not None:
            self.item.add(b.text, b.links)
        else:
            self.warnings.append(
                f"{self._name(self.mode)}: left out a paragraph outside any item: "
                f"{_short(b.text)!r}"
            )


def read_blocks(blocks: list[Block], profile: Profile) -> IssueSections:
    """The sections found in an issue's blocks (see bot.core.blocks.html_blocks)."""
    reader = _Reader(profile)
    for block in blocks:
        reader.feed(block)
    reader.close()
    return IssueSections(
        takeaways=tuple(reader.takeaways),
        follow_ups=tuple(reader.items["follow_ups"]),
        quick_bites=tuple(reader.items["quick_bites"]),
        volume=reader.volume,
        warnings=tuple(reader.warnings),
    )


def read_sections(html: str | bytes, profile: Profile, base_url: str = "") -> IssueSections:
    """Takeaways, follow-ups, quick bites, volume line and warnings of one issue's HTML.

    An issue without some section yields () for it; any HTML (empty, garbage, deeply nested)
    yields a result, never an exception. Relative reading links resolve against `base_url`.
    """
    return read_blocks(html_blocks(html, base_url), profile)
