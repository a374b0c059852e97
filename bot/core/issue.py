"""Read an issue's sections: Takeaways, Follow-ups and Quick Bites with their reading links, and
the closing volume line.

The newsletter's markup drifts from week to week (heading levels, bold paragraphs standing in
for headings, bullets as lists or paragraphs, dashes or colons after a label), so sections are
recognised by their words (the profile's variants, any case, any punctuation) and by shape, not
by exact markup. Whatever is seen inside a section but cannot be placed becomes a warning, so
`inspect` can show it. Pure: stdlib, lxml and regex only; never raises on any HTML.

The steps, each in its own module: the HTML as blocks (bot.core.blocks); what is content and
where each section starts (bot.core.sections); the takeaways (bot.core.takeaways); the items of
the follow-ups and quick bites (bot.core.items). This module walks the blocks through them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.core.blocks import Block, html_blocks
from bot.core.items import ItemsReader
from bot.core.model import Item, Takeaway
from bot.core.profile import Profile
from bot.core.sections import (
    BOLD_HEADING,
    ITEM_KINDS,
    SectionWords,
    heading_key,
    heading_level,
    short,
)
from bot.core.takeaways import TakeawaysReader, is_label, parse_takeaway

__all__ = ["IssueSections", "read_sections", "read_blocks", "parse_takeaway", "heading_key"]

# How many paragraphs after the takeaways ended are still checked for a takeaway's shape.
_TAKEAWAY_LOOKAHEAD = 3


@dataclass(frozen=True)
class IssueSections:
    """What the reader found in an issue's HTML."""

    takeaways: tuple[Takeaway, ...] = ()
    follow_ups: tuple[Item, ...] = ()
    quick_bites: tuple[Item, ...] = ()
    volume: str | None = None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # how an expected variant was read (not a problem)


class _Issue:
    """The walk through an issue's blocks, top to bottom: each section heading opens its
    section's reader, which reads the blocks after it until its section ends."""

    def __init__(self, profile: Profile) -> None:
        self.words = SectionWords(profile)
        self.takeaways: list[Takeaway] = []
        self.items: dict[str, list[Item]] = {k: [] for k in ITEM_KINDS}
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.section: TakeawaysReader | ItemsReader | None = None
        self.after_takeaways = 0  # paragraphs after the takeaways ended still checked

    def read(self, b: Block) -> None:
        head = heading_level(b)
        if b.kind != "divider" and self._reading_label(b, head):
            return
        if head and self._open_section(b.text, head):
            return
        if self.section is None and self._takeaways_in_a_paragraph(b):
            return
        section = self.section
        if isinstance(section, TakeawaysReader):
            if section.take(b):
                return
            overrun = section.overrun
            self.close()  # the takeaways end where their shape ends
            self.after_takeaways = _TAKEAWAY_LOOKAHEAD
            if overrun is not None:  # they ended a few paragraphs back: `b` is after them
                self.after_takeaways = max(0, _TAKEAWAY_LOOKAHEAD - overrun)
                self._after_the_takeaways(b, head)
        elif section is None:
            if b.kind != "divider":
                self._after_the_takeaways(b, head)
        elif not section.take(b, head):
            self.close()

    def close(self, next_kind: str | None = None, next_heading: str = "") -> None:
        if isinstance(self.section, TakeawaysReader):
            self.takeaways += self.section.finish(next_kind, next_heading)
        elif self.section is not None:
            self.section.finish()
        self.section = None

    def _reading_label(self, b: Block, head: int) -> bool:
        """The reading label may be a heading, a bold paragraph or a plain one."""
        in_item = isinstance(self.section, ItemsReader) and self.section.item is not None
        if not ((head or in_item) and self.words.is_readings_label(b.text)):
            return False
        if isinstance(self.section, ItemsReader):
            self.section.readings(b)
        return True

    def _open_section(self, text: str, head: int) -> bool:
        kind, exact = self.words.section_kind(text)
        items = self.section if isinstance(self.section, ItemsReader) else None
        # "Follow-up on Slovakia" deep inside a section is an item's headline, not a section.
        if not kind or not (exact or items is None or head <= items.level):
            return False
        # "Follow-ups" under "Follow-ups & Quick Bites" keeps the enclosing heading's level.
        outer = 0
        if items is not None and kind in ITEM_KINDS and items.outer and head > items.outer:
            outer = items.outer
        self.close(kind, text)
        if kind == "takeaways":
            self.section = TakeawaysReader(
                text, self.warnings, self.words.names_takeaways, self.notes
            )
        else:
            outer = head if kind == "combined" else outer
            self.section = ItemsReader(kind, head, outer, self.words, self.items, self.warnings)
        return True

    def _takeaways_in_a_paragraph(self, b: Block) -> bool:
        """"**Takeaways:** Takeaways are at the end of the book reviews." (or the words after a
        line break): the bold words open the section, the rest is its first paragraph."""
        lead = b.lead.strip()
        if not lead or b.kind != "paragraph" or len(lead) >= len(b.text.strip()):
            return False
        if self.words.section_kind(lead) != ("takeaways", True):
            return False
        self._open_section(lead, heading_level(b) or BOLD_HEADING)
        rest = b.text.strip()[len(lead) :] if b.text.strip().startswith(lead) else ""
        rest = rest.lstrip(" :\u2014\u2013-\n")
        if rest:
            self.read(dataclasses.replace(b, text=rest, lead="", bold_only=False))
        return True

    def _after_the_takeaways(self, b: Block, head: int) -> None:
        """A takeaway typed after a stray paragraph is not taken (the essay may start anywhere),
        but it is reported, never lost silently. A heading: the essay is on."""
        if not self.after_takeaways:
            return
        self.after_takeaways = 0 if head else self.after_takeaways - 1
        found = None if head else parse_takeaway(b.text, b.lead)
        if found and is_label(found[0]):
            self.warnings.append(
                f"takeaways: left out a takeaway-shaped paragraph after they ended: "
                f"{short(b.text)!r}"
            )


def read_blocks(blocks: list[Block], profile: Profile) -> IssueSections:
    """The sections found in an issue's blocks (see bot.core.blocks.html_blocks)."""
    issue = _Issue(profile)
    content, volume = issue.words.content(blocks)
    for block in content:
        issue.read(block)
    issue.close()
    return IssueSections(
        takeaways=tuple(issue.takeaways),
        follow_ups=tuple(issue.items["follow_ups"]),
        quick_bites=tuple(issue.items["quick_bites"]),
        volume=volume,
        warnings=tuple(issue.warnings),
        notes=tuple(issue.notes),
    )


def read_sections(html: str | bytes, profile: Profile, base_url: str = "") -> IssueSections:
    """Takeaways, follow-ups, quick bites, volume line and warnings of one issue's HTML.

    An issue without some section yields () for it; any HTML (empty, garbage, deeply nested)
    yields a result, never an exception. Relative reading links resolve against `base_url`.
    """
    return read_blocks(html_blocks(html, base_url), profile)
