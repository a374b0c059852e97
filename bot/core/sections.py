"""Finding an issue's sections: which heading opens Takeaways, Follow-ups or Quick Bites, which
paragraph is a reading label, and what a reader of the issue never sees as content (the volume
line, the greeting and notices, Substack's buttons, dividers).

The words come from the newsletter profile (any case, any punctuation, a little decoration around
them); the shape (heading level, a bold-only paragraph) says whether a text is a heading. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import regex

from bot.core.blocks import Block, clean
from bot.core.profile import Profile

ITEM_KINDS = ("follow_ups", "quick_bites")
ITEM_MODES = ("follow_ups", "quick_bites", "combined")
BOLD_HEADING = 7  # a bold-only paragraph: a heading below every real one
_MAX_HEADING = 80  # longer text is prose, never a section's name
_NON_WORD = regex.compile(r"[\W_]+")
# Substack's own button words when they slip out of their widgets.
_UI_WORDS = frozenset({"share", "subscribe", "subscribe now", "leave a comment", "share this post"})
_UI_WORDS_MAX = max(map(len, _UI_WORDS))


def heading_key(text: str) -> str:
    """A heading reduced to its words: "Follow-ups & Quick Bites:" -> "followupsandquickbites"."""
    text = text.casefold().replace("&amp;", "&").replace("&", " and ").replace("+", " and ")
    return _NON_WORD.sub("", text)


def singular(key: str) -> str:
    return key[:-1] if key.endswith("s") else key


def short(text: str, width: int = 60) -> str:
    """A paragraph cut to fit in a warning."""
    text = clean(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def section_name(kind: str | None) -> str:
    """How a warning names a section."""
    return {"follow_ups": "follow-ups", "quick_bites": "quick bites"}.get(kind or "", "section")


def heading_level(b: Block) -> int:
    """1-6 for a heading, BOLD_HEADING for a bold-only paragraph standing in for one, else 0."""
    if b.kind == "heading":
        return b.level
    return BOLD_HEADING if b.bold_only and not b.quote and not b.list_id else 0


# Words in quotation marks: “Follow-ups” in a sentence names a section; it is not its heading.
_QUOTED = regex.compile(r"[\u201c\u201e\"\u00ab][^\u201c\u201d\"\u00ab\u00bb]*[\u201d\"\u00bb]")


def _quoted(text: str) -> list[str]:
    """The words `text` quotes, when it says more than them: in "The sections are “Follow-ups”
    and “Quick Bites”" the sections are named, and the sentence is not their heading."""
    outside = _QUOTED.sub(" ", text)
    if outside == text or not any(c.isalnum() for c in outside):
        return []
    return [m.group()[1:-1] for m in _QUOTED.finditer(text)]


def _starts(variants: Iterable[str]) -> regex.Pattern[str]:
    """A pattern for any of `variants` at the start of a text (any case; ’ or ', … or ...)."""
    spellings = {"'": "['\u2019]", "\u2019": "['\u2019]", "\u2026": r"(?:\u2026|\.\.\.)"}
    alternatives = [
        "".join(spellings.get(c, regex.escape(c)) for c in v)
        for v in sorted({v.strip() for v in variants} - {""}, key=len, reverse=True)
    ]
    return regex.compile(r"(?if)\s*(?:" + ("|".join(alternatives) or "(?!)") + ")")


class SectionWords:
    """The profile's words for the sections, the reading label, boilerplate and volume line."""

    def __init__(self, profile: Profile) -> None:
        sec = profile.sections
        self.keys = {
            "takeaways": {singular(heading_key(v)) for v in sec.takeaways} - {""},
            "follow_ups": {singular(heading_key(v)) for v in sec.follow_ups} - {""},
            "quick_bites": {singular(heading_key(v)) for v in sec.quick_bites} - {""},
            "combined": {singular(heading_key(v)) for v in sec.combined} - {""},
        }
        self.readings = {singular(heading_key(v)) for v in sec.readings} - {""}
        self.readings_start = _starts(sec.readings)
        self.boilerplate = _starts(sec.boilerplate)
        self.volume_re = sec.volume

    def section_kind(self, text: str) -> tuple[str | None, bool]:
        """Which section a heading opens, and whether its words matched exactly."""
        key = singular(heading_key(text)) if len(text) <= _MAX_HEADING else ""
        if not key or any(self.section_kind(q)[0] for q in _quoted(text)):
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

    def names_takeaways(self, text: str) -> bool:
        """Whether a sentence starts by naming the takeaways: "Takeaways are at the end…"."""
        key = heading_key(text)
        return any(key.startswith(k) for k in self.keys["takeaways"])

    def is_readings_label(self, text: str) -> bool:
        return len(text) <= _MAX_HEADING and singular(heading_key(text)) in self.readings

    def readings_prefix(self, text: str) -> int:
        """Where a reading label that `text` starts with ends (0: none)."""
        m = self.readings_start.match(text)
        return m.end() if m else 0

    def is_boilerplate(self, text: str) -> bool:
        if len(text) <= _UI_WORDS_MAX and text.casefold() in _UI_WORDS:
            return True
        return self.boilerplate.match(text) is not None

    def volume_in(self, text: str) -> str | None:
        """The volume line ("Vol 3, No 28 - BWR 06.07.2025") when `text` is one, else None."""
        m = self.volume_re.match(text)
        if m and m.group(0).strip():
            return clean(m.group(0))
        if (
            len(text) <= 60
            and "\n" not in text
            and (m := self.volume_re.search(text))
            and m.start() <= 12  # "BWR Vol 3, No 28", not a sentence that cites an issue
        ):
            return clean(text)
        return None

    def content(self, blocks: Iterable[Block]) -> tuple[list[Block], str | None]:
        """The blocks that may be content, and the volume line: the volume line, boilerplate
        and Substack's button words are taken out; dividers stay (they may end a section)."""
        volume: str | None = None
        out: list[Block] = []
        for b in blocks:
            if b.kind == "divider":
                out.append(b)
                continue
            found = self.volume_in(b.text)
            if found is not None:
                volume = volume or found
                continue
            if self.is_boilerplate(b.text):
                continue
            if "\n" in b.text:  # the volume line typed after a <br> ending the last paragraph
                body, _, last = b.text.rpartition("\n")
                if self.volume_re.match(last) and (found := self.volume_in(last)) is not None:
                    volume = volume or found
                    b = dataclasses.replace(b, text=body)
            out.append(b)
        return out, volume
