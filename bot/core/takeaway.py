"""A takeaway bullet split into its ALL-CAPS label and its text ("FOREVER NEIGHBORS—It’s a tough
neighborhood…"), tolerant of the dashes, colons and bold the newsletter uses. Pure."""

from __future__ import annotations

import regex

from bot.core.blocks import clean

# Separators between a takeaway's label and its text, strongest first.
_SEPARATORS = (
    regex.compile(r"\s*[\u2014\u2013\u2015]+\s*"),  # em dash, en dash, horizontal bar
    regex.compile(r"\s*:\s*"),
    regex.compile(r"\s+-{1,2}\s+|\s*--\s*"),
)
_LABEL_WORD = regex.compile(r"[^\s:\u2014\u2013\u2015]+")
LABEL_TRIM = " \t:;.,\u2014\u2013\u2015-"


def is_label(text: str) -> bool:
    """An ALL-CAPS label: no lower-case letter, at least two capitals, short."""
    if not text or len(text) > 100 or any(c.islower() for c in text):
        return False
    return sum(1 for c in text if c.isupper()) >= 2


def _joins_label(text: str, m: regex.Match[str]) -> bool:
    """A dash with no space around it and an ALL-CAPS word after it ("U.S.–RUSSIA TALKS")
    joins two words of the label; it separates the label only when nothing else does."""
    if m.group() != m.group().strip():
        return False
    word = _LABEL_WORD.match(text, m.end())
    return word is not None and is_label(word.group())


def parse_takeaway(text: str, lead: str = "") -> tuple[str, str] | None:
    """Split a takeaway bullet into (label, text), or None when it is not takeaway-shaped.

    The label is the ALL-CAPS part before an em dash, en dash, colon or " - "; a bold lead-in
    counts as the label even without a separator or capitals.
    """
    text = clean(text)
    fallback = None
    for sep in _SEPARATORS:
        for m in sep.finditer(text):
            label, rest = text[: m.start()].strip(), text[m.end() :].strip()
            # "LIGHT HOLIDAY READING - MAYBE" is a shouted heading, not a label and its text.
            if not (m.start() > 0 and is_label(label) and rest and not rest.isupper()):
                continue
            if not _joins_label(text, m):
                return label, rest
            fallback = fallback or (label, rest)
    if fallback:
        return fallback
    lead = clean(lead)
    if lead and text.startswith(lead) and len(lead) < len(text):
        label = lead.strip(LABEL_TRIM)
        rest = text[len(lead) :].lstrip(LABEL_TRIM).strip()
        separated = lead.rstrip()[-1:] in ":\u2014\u2013-" or text[len(lead) :].lstrip()[:1] in (
            ":",
            "\u2014",
            "\u2013",
            "-",
        )
        if label and rest and len(label.split()) <= 8 and (separated or is_label(label)):
            return label, rest
    return None
