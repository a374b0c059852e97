"""Reading the takeaways: each bullet split into its ALL-CAPS label and its text ("FOREVER
NEIGHBORS—It’s a tough neighborhood…"), tolerant of the dashes, colons and bold the newsletter
uses, and the Takeaways section read bullet by bullet until their shape ends. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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


# Paragraphs under the heading before the first takeaway that are left out (an introduction);
# one more such paragraph and the section is over, unless no takeaway ever follows (a summary).
_MAX_INTRO = 2
# A summary written as plain paragraphs is read as takeaways up to this many paragraphs.
_MAX_SUMMARY = 12
# The note that says where the takeaways are is one short sentence.
_MAX_NOTE_WORDS = 15


class TakeawaysReader:
    """Reads one Takeaways section, block by block, until the takeaways' shape ends: labelled
    bullets (in a list or as paragraphs), a label whose text follows in the next paragraph, a
    bullet's second paragraph. Up to two paragraphs before the first takeaway are left out.

    Two shapes are read differently: plain paragraphs with no takeaway among them, ended by a
    heading (a year-end "Summary"), are unlabelled takeaways; a note naming the takeaways
    ("Takeaways are at the end of the book reviews.") means they are found after it, in the
    last run of labelled takeaways before the next section."""

    def __init__(
        self,
        heading: str,
        warnings: list[str],
        names_takeaways: Callable[[str], bool],
        notes: list[str] | None = None,
    ) -> None:
        self.heading = heading  # the section's heading, as written
        self.takeaways: list[Takeaway] = []
        self.warnings = warnings
        # What the reader did that the editor may like to know, but that is not a problem (a
        # summary read as unlabelled takeaways): not a warning, so no review hold for it.
        self.notes = warnings if notes is None else notes
        self.names_takeaways = names_takeaways
        self.found = 0  # blocks read as (the start of) a takeaway
        self.list_id = 0  # the list and list item of the last takeaway
        self.item_id = 0
        self.plain: list[Block] = []  # paragraphs under the heading before any takeaway
        self.note = ""  # the note saying the takeaways come later
        self.later: list[Block] = []  # the blocks after that note
        self.pending = ""  # the last takeaway is only a label, typed as this, awaiting its text
        self.pending_links: tuple[Link, ...] = ()
        # Once over: how many blocks were read past the paragraph where the takeaways ended.
        self.overrun: int | None = None

    def take(self, b: Block) -> bool:
        """Place `b` as a takeaway (or part of one); False when the takeaways have ended."""
        if self.note:
            if self.later or b.kind == "divider" or not self._shaped(b):
                self.later.append(b)
                return True
            # A takeaway right after it: the note was an introduction, not a pointer.
            self.warnings.append(
                f"takeaways: left out a paragraph before the first one: {short(self.note)!r}"
            )
            self.note = ""
        if b.kind == "divider":
            return True
        if self.plain and not self.found:
            if b.kind == "heading":
                self._summary()
                return False
            if self._shaped(b):
                if not self._left_out():
                    return False
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

    def finish(self, next_kind: str | None = None, next_heading: str = "") -> list[Takeaway]:
        """The section is over (`next_heading` opens the next one, of `next_kind`): report what
        is missing; the takeaways read."""
        self._label_without_text()
        if self.note:
            if next_kind != "takeaways":  # else they are under that heading
                self._read_later(next_heading)
        elif self.plain and not self.found:
            self._summary()
        elif not self.found:
            self.warnings.append("takeaways: a Takeaways heading with no takeaways under it")
        return self.takeaways

    # -- before the first takeaway ---------------------------------------------------------------
    def _before_the_first(self, b: Block) -> bool:
        """A paragraph before any takeaway: the note saying where they are, an introduction, or
        the first paragraph of a summary; held until what follows tells which."""
        if self.found:
            return False
        text = clean(b.text)
        if (
            len(self.plain) < _MAX_INTRO
            and "\n" not in b.text
            and len(text.split()) <= _MAX_NOTE_WORDS
            and self.names_takeaways(text)
        ):
            self._left_out()
            self.note = text
            return True
        if len(self.plain) > _MAX_SUMMARY:
            return self._left_out()
        self.plain.append(b)
        return True

    def _left_out(self) -> bool:
        """The paragraphs held before the first takeaway were an introduction: report them.
        False when there were too many: the takeaways had ended at the third."""
        for b in self.plain[:_MAX_INTRO]:
            self.warnings.append(
                f"takeaways: left out a paragraph before the first one: {short(b.text)!r}"
            )
        if len(self.plain) > _MAX_INTRO:
            self.overrun = len(self.plain) - _MAX_INTRO - 1
        self.plain, ended = [], len(self.plain) > _MAX_INTRO
        return not ended

    def _summary(self) -> None:
        """Plain paragraphs and no takeaway among them: a summary, each paragraph a takeaway."""
        self.notes.append(
            f"takeaways: no ALL-CAPS labels under {short(self.heading)!r}: read its "
            f"{len(self.plain)} paragraph{'s' if len(self.plain) > 1 else ''} as takeaways "
            "without labels"
        )
        for b in self.plain:
            text = clean(b.text)
            self._add(b, Takeaway(label="", text=text, links=inline_links(b.links, text)))
        self.plain = []

    def _read_later(self, next_heading: str) -> None:
        """The takeaways after the note: the last run of labelled takeaways before the next
        section (what comes between, e.g. book reviews with ALL-CAPS topic labels, is not)."""
        blocks = self.later
        ends = [i for i, b in enumerate(blocks) if self._labelled_or_label(b)]
        if not ends:
            where = f"before {short(next_heading)!r}" if next_heading else "in the issue"
            self.warnings.append(
                f"takeaways: none found: {self.note!r} says they come later, but no ALL-CAPS "
                f"label with its text follows it {where}"
            )
            return
        start = ends[-1]
        if blocks[start].list_id:  # the whole list they are bullets of
            while start and blocks[start - 1].list_id == blocks[start].list_id:
                start -= 1
        while start and (
            self._labelled_or_label(blocks[start - 1])
            or (start > 1 and self._says_text_follows(blocks[start - 2]))
        ):
            start -= 1 if self._labelled_or_label(blocks[start - 1]) else 2
        reader = TakeawaysReader(self.heading, self.warnings, self.names_takeaways, self.notes)
        for b in blocks[start:]:
            if not reader.take(b):
                break
        self.takeaways += reader.finish("takeaways")
        self.found += reader.found

    # -- what a takeaway looks like --------------------------------------------------------------
    def _parsed(self, b: Block) -> list[tuple[str, str] | None]:
        """The takeaways a paragraph holds: one, or one a line when typed as lines of one
        paragraph (shift-enter); a None in the list when it is not takeaway-shaped."""
        lines = b.text.split("\n")
        found = [parse_takeaway(b.text, b.lead)]
        if len(lines) > 1:
            found = [parse_takeaway(lines[0], b.lead)] + [parse_takeaway(x) for x in lines[1:]]
            if not all(found):
                found = [parse_takeaway(b.text, b.lead)]
        return found

    def _says_text_follows(self, b: Block) -> bool:
        """A label alone that says its text follows: "FOREVER NEIGHBORS:"."""
        label = b.text.strip(LABEL_TRIM)
        return (
            b.kind != "heading"
            and bool(label)
            and "\n" not in label
            and len(label.split()) <= 8
            and is_label(label)
            and b.text.rstrip()[-1:] in ":\u2014\u2013"
        )

    def _shaped(self, b: Block) -> bool:
        """Whether `b` would be read as a first takeaway."""
        return bool(b.list_id) or all(self._parsed(b)) or self._says_text_follows(b)

    def _labelled_or_label(self, b: Block) -> bool:
        """A takeaway with its ALL-CAPS label, or such a label alone saying its text follows."""
        if b.kind == "heading":
            return False
        found = self._parsed(b)
        return all(f and is_label(f[0]) for f in found) or self._says_text_follows(b)

    # -- the shapes of a takeaway ---------------------------------------------------------------
    def _add(self, b: Block, *takeaways: Takeaway) -> bool:
        self.takeaways += takeaways
        self.found += 1
        self.list_id, self.item_id = b.list_id, b.item_id
        return True

    def _labelled(self, b: Block) -> bool:
        """"FOREVER NEIGHBORS—text", or several typed as lines of one paragraph (shift-enter)."""
        found = self._parsed(b)
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
