"""Reading the items of a Follow-ups or Quick Bites section: each item a headline (a heading, a
bold line, or the bold lead-in of its first paragraph), its paragraphs, and the reading links
under its "Additional Reading(s)" label. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import regex

from bot.core.blocks import Block, clean, inline_links
from bot.core.model import Item, Link
from bot.core.sections import BOLD_HEADING, ITEM_KINDS, SectionWords, section_name, short

_LEAD_ENDS = frozenset(".:!?\u2014\u2013-")
# "Follow-up: Slovakia" under a combined heading says which kind of item it is.
_PREFIXES = {
    "follow_ups": regex.compile(r"(?i)^\s*follow[\s-]*ups?\s*[:\u2014\u2013-]\s*"),
    "quick_bites": regex.compile(r"(?i)^\s*quick[\s-]*bites?\s*[:\u2014\u2013-]\s*"),
}


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
        self.paragraph_links.append(inline_links(links, paragraph))

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


def reading_links(links: list[Link], text: str) -> list[Link]:
    """A reading is often written `<a>Title</a> (Source, date)`: the source is part of its title,
    as a follower needs it to know where the link goes. `text`: the reading's paragraph (one
    reading a line when several were typed in one paragraph)."""
    if len(links) > 1 and "\n" in text:
        out, queue = [], list(links)
        for line in text.split("\n"):
            n = 0
            while n < len(queue) and queue[n].title in line:
                n += 1
            out += reading_links(queue[:n], line)
            queue = queue[n:]
        return out + queue
    if len(links) != 1:
        return links
    link, text = links[0], clean(text)
    if text != link.title and link.title in text and len(text) <= len(link.title) + 120:
        return [Link(title=text, url=link.url)]
    return links


class ItemsReader:
    """Reads one Follow-ups, Quick Bites or combined "Follow-ups & Quick Bites" section into its
    items, until a heading that is not an item's headline ends it."""

    def __init__(
        self,
        kind: str,
        level: int,
        outer: int,
        words: SectionWords,
        items: dict[str, list[Item]],
        warnings: list[str],
    ) -> None:
        self.kind = kind  # "follow_ups" | "quick_bites" | "combined"
        self.level = level  # heading level of the section
        self.outer = outer  # level of an enclosing "Follow-ups & Quick Bites" heading (0: none)
        self.words = words
        self.items = items
        self.warnings = warnings
        self.item: _ItemDraft | None = None
        self.item_level = 0  # heading level the section's items use
        self.count = 0  # items started in this section
        self.reading = False  # inside the item's reading list

    def take(self, b: Block, head: int) -> bool:
        """Place `b` in the section; False when it is a heading that ends the section."""
        if b.kind == "divider":
            return True
        if b.kind == "heading" or (head == BOLD_HEADING and not (self.reading and b.links)):
            return self._headline(b, head)
        if self.reading:
            if b.links:
                self.item.links.extend(reading_links(b.links, b.text))  # type: ignore[union-attr]
                return True
            self.reading = False
        if self.words.readings_prefix(b.text) and b.links:
            self.readings(b)
        elif not self._lead_in_item(b):
            self._paragraph(b)
        return True

    def readings(self, b: Block) -> None:
        """A reading label ("Additional Reading(s)"), perhaps with the first reading after it."""
        if self.item is None:
            self.warnings.append(f"{section_name(self.kind)}: a reading label outside any item")
            return
        self.item.readings_label = True
        rest = b.text[self.words.readings_prefix(b.text) :].lstrip(" :\u2014\u2013-")
        self.item.links.extend(reading_links(b.links, rest))
        self.reading = True

    def finish(self) -> None:
        """The section is over: keep its last item, report a section with none."""
        self._finish_item()
        if self.kind in ITEM_KINDS and not self.count:
            self.warnings.append(f"{section_name(self.kind)}: a heading with no items under it")

    # -- headlines -----------------------------------------------------------------------------
    def _starts_item(self, head: int) -> bool:
        """Whether a heading of this level opens an item here (False: it ends the section)."""
        if head == BOLD_HEADING or head > self.level:
            return True
        if self.outer and head > self.outer:
            return True
        if self.item_level and head >= self.item_level:
            return True
        # Items written at the section's own level (or under a bold "heading") when none yet.
        return not self.count and (head >= self.level or self.level == BOLD_HEADING)

    def _headline(self, b: Block, head: int) -> bool:
        if not self._starts_item(head):
            return False
        if head != BOLD_HEADING and not self.item_level:
            self.item_level = head
        self._new_item(b.text).links.extend(b.links)  # a linked headline links its source
        return True

    def _new_item(self, headline: str, lead_style: bool = False) -> _ItemDraft:
        self._finish_item()
        kind = self.kind if self.kind in ITEM_KINDS else "quick_bites"
        for k, prefix in _PREFIXES.items():
            m = prefix.match(headline)
            if m and m.end() < len(headline):
                kind, headline = k, headline[m.end() :]
        headline = clean(headline).rstrip(":").strip()
        self.item = _ItemDraft(kind=kind, headline=headline, lead_style=lead_style)
        self.count += 1
        return self.item

    def _finish_item(self) -> None:
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

    # -- paragraphs ----------------------------------------------------------------------------
    def _lead_in_item(self, b: Block) -> bool:
        """"**Gudkov Killed.** A general died." is a whole item; one bold word is just emphasis."""
        lead = b.lead.strip()
        headline_like = lead[-1:] in _LEAD_ENDS or len(lead.split()) >= 2
        if not (
            lead
            and headline_like
            and not b.quote
            and len(lead) < len(b.text)
            and (self.item is None or self.item.lead_style)
        ):
            return False
        item = self._new_item(lead.strip(" :.\u2014\u2013-"), lead_style=True)
        rest = b.text[len(lead) :].lstrip(" :.\u2014\u2013-") if b.text.startswith(lead) else b.text
        if rest.strip():
            item.add(rest.strip(), b.links)
        return True

    def _paragraph(self, b: Block) -> None:
        if self.item is not None:
            self.item.add(b.text, b.links)
        else:
            self.warnings.append(
                f"{section_name(self.kind)}: left out a paragraph outside any item: "
                f"{short(b.text)!r}"
            )
