"""Reading the takeaways: each bullet split into its ALL-CAPS label and its text ("FOREVER
NEIGHBORS—It’s a tough neighborhood…"), tolerant of the dashes, colons and bold the newsletter
uses, and the Takeaways section read bullet by bullet until their shape ends. Pure."""

from __future__ import annotations

from collections.abc import Iterable

import regex

from bot.core.blocks import Block, clean, inline_links
from bot.core.model import Link, Takeaway
from bot.core.sections import short

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


def _share_links(links: Iterable[Link], texts: list[str]) -> list[tuple[Link, ...]]:
    """A paragraph's <a>s shared among the takeaways typed as its lines: each link goes to the
    first one whose text holds its words."""
    shares: list[list[Link]] = [[] for _ in texts]
    for lk in inline_links(links, "\n".join(texts)):
        for share, text in zip(shares, texts, strict=True):
            if lk.title in text:
                share.append(lk)
                break
    return [tuple(x) for x in shares]


class TakeawaysReader:
    """Reads one Takeaways section, block by block, until the takeaways' shape ends: labelled
    bullets (in a list or as paragraphs), a label whose text follows in the next paragraph, a
    bullet's second paragraph. Up to two paragraphs before the first takeaway are left out."""

    def __init__(self, warnings: list[str]) -> None:
        self.takeaways: list[Takeaway] = []
        self.warnings = warnings
        self.found = 0  # blocks read as (the start of) a takeaway
        self.list_id = 0  # the list and list item of the last takeaway
        self.item_id = 0
        self.skipped = 0  # paragraphs left out before the first takeaway
        self.pending = ""  # the last takeaway is only a label, typed as this, awaiting its text
        self.pending_links: tuple[Link, ...] = ()

    def take(self, b: Block) -> bool:
        """Place `b` as a takeaway (or part of one); False when the takeaways have ended."""
        if b.kind == "divider":
            return True
        if b.kind == "heading":
            return False
        if self.pending and b.item_id == self.item_id:
            return self._text_of_label(b)
        self._label_without_text()
        if self.found and self.list_id and not b.list_id:
            return False  # the bulleted list is over; what follows is the essay
        return (
            self._labelled(b)
            or self._second_paragraph(b)
            or self._label_alone(b)
            or self._unlabelled_bullet(b)
            or self._before_the_first(b)
        )

    def finish(self) -> list[Takeaway]:
        """The section is over: report what is missing; the takeaways read."""
        self._label_without_text()
        if not self.found:
            self.warnings.append("takeaways: a Takeaways heading with no takeaways under it")
        return self.takeaways

    # -- the shapes of a takeaway ---------------------------------------------------------------
    def _add(self, b: Block, *takeaways: Takeaway) -> bool:
        self.takeaways += takeaways
        self.found += 1
        self.list_id, self.item_id = b.list_id, b.item_id
        return True

    def _labelled(self, b: Block) -> bool:
        """"FOREVER NEIGHBORS—text", or several typed as lines of one paragraph (shift-enter)."""
        lines = b.text.split("\n")
        found = [parse_takeaway(b.text, b.lead)]
        if len(lines) > 1:
            found = [parse_takeaway(lines[0], b.lead)] + [parse_takeaway(x) for x in lines[1:]]
            if not all(found):
                found = [parse_takeaway(b.text, b.lead)]
        if not all(found):
            return False
        texts = [f[1] for f in found if f]
        shares = _share_links(b.links, texts)
        return self._add(
            b,
            *(
                Takeaway(label=f[0], text=f[1], links=share)
                for f, share in zip(found, shares, strict=True)
                if f
            ),
        )

    def _text_of_label(self, b: Block) -> bool:
        """"**FOREVER NEIGHBORS**", then its text in the same bullet."""
        self.pending = ""
        text = clean(b.text)
        self.takeaways[-1] = Takeaway(self.takeaways[-1].label, text, inline_links(b.links, text))
        return True

    def _second_paragraph(self, b: Block) -> bool:
        """A second paragraph of the same bullet joins its text."""
        if not (self.found and b.item_id and b.item_id == self.item_id):
            return False
        last = self.takeaways[-1]
        text = clean(f"{last.text} {b.text}")
        more = inline_links(b.links, clean(b.text))
        links = last.links + tuple(lk for lk in more if lk not in last.links)
        self.takeaways[-1] = Takeaway(last.label, text, links)
        return True

    def _in_list(self, b: Block) -> bool:
        return bool(b.list_id and (b.list_id == self.list_id or not self.found))

    def _label_alone(self, b: Block) -> bool:
        """A label whose text follows in the next paragraph of its bullet."""
        label = b.text.strip(LABEL_TRIM)
        if not (
            label
            and "\n" not in label
            and len(label.split()) <= 8
            and (
                (self._in_list(b) and (is_label(label) or b.bold_only))
                # Outside a list only a label that says its text follows: "FOREVER NEIGHBORS:".
                or (is_label(label) and b.text.rstrip()[-1:] in ":\u2014\u2013")
            )
        ):
            return False
        self.pending = clean(b.text)
        self.pending_links = tuple(b.links)
        return self._add(b, Takeaway(label=label, text=""))

    def _unlabelled_bullet(self, b: Block) -> bool:
        if not self._in_list(b):
            return False
        text = clean(b.text)
        self.warnings.append(f"takeaways: a bullet without an ALL-CAPS label: {short(b.text)!r}")
        return self._add(b, Takeaway(label="", text=text, links=inline_links(b.links, text)))

    def _before_the_first(self, b: Block) -> bool:
        if self.found or self.skipped >= 2:
            return False
        self.skipped += 1
        self.warnings.append(
            f"takeaways: left out a paragraph before the first one: {short(b.text)!r}"
        )
        return True

    def _label_without_text(self) -> None:
        """A label-shaped bullet that no text followed: a label in capitals, else the text."""
        if not self.pending:
            return
        bullet, self.pending = self.pending, ""
        if is_label(self.takeaways[-1].label):
            self.warnings.append(f"takeaways: a label with no text after it: {bullet!r}")
        else:
            links = inline_links(self.pending_links, bullet)
            self.takeaways[-1] = Takeaway(label="", text=bullet, links=links)
            self.warnings.append(
                f"takeaways: a bullet without an ALL-CAPS label: {short(bullet)!r}"
            )
