"""What platforms add to an item's text that is not the author's: a small list, for what the
reader cannot drop by structure (bot.core.excerpt drops links back to the item, "[…]" and
arrows by structure first). Each pattern names the platform it was seen on.

Pure: the stdlib.
"""

from __future__ import annotations

import re

# "Read more" in the languages the real feeds show, with whatever arrow or dots follow it.
_READ_MORE = (
    r"read more|read (?:the )?full (?:article|story|post)|read on|continue reading"
    r"|keep reading|lire la suite|lire plus|weiterlesen|mehr lesen|leia mais|continue lendo"
    r"|leer más|seguir leyendo|continua a leggere|leggi tutto|lees meer|verder lezen"
    r"|czytaj dalej|читать далее|далее"
)
# What may follow it: arrows, dots, and a date in brackets ("Leia mais (09/24/2018 - 19h22)").
_TAIL = r"[\s.…:!»›>→)\]]*(?:\(\d[\d/.: h-]{4,30}\)\s*)?"
_LINE_RULES = (
    # Reddit: "submitted by /u/name to r/gifs [link] [12 comments]" (its own line or the end).
    re.compile(
        r"(?i)\s*submitted\s+by\s+\S+(?:\s+to\s+\S+)?(?:\s*\[link\])?(?:\s*\[\s*\d*\s*comments?\s*\])?\s*$"
    ),
    re.compile(r"(?i)\s*\[link\]\s*(?:\[\s*\d*\s*comments?\s*\])?\s*$"),
    # "Read more", "Read full article >>", "Continue reading →", "Weiterlesen…" at the end.
    re.compile(rf"(?i)(?:^|(?<=[.!?…:|–—-]))[\s(\[«‹<-]*(?:{_READ_MORE}){_TAIL}$"),
)
# Flickr: "kebernet posted a photo:" before the picture (the picture itself is dropped).
_FLICKR = re.compile(r"(?i)^\s*\S+(?: \S+)? posted (?:a photo|a video|photos):\s*")
# WordPress themes: a last sentence that only tells the reader to click "read more"
# ("Check 'em out by clicking the read more link!").
_READ_MORE_SENTENCE = re.compile(
    r"(?i)(?:^|(?<=[.!?…]))\s*[^.!?…\n]{0,80}\b(?:click|clicking|tap|tapping)\b[^.!?…\n]{0,40}"
    r"\b(?:read more|continue reading)\b[^.!?…\n]{0,40}[.!?…]*\s*$"
)


def drop_boilerplate(text: str) -> str:
    """`text` (lines of plain text) without the platforms' additions, at its start and end."""
    text = _FLICKR.sub("", text, count=1)
    lines = text.split("\n")
    while lines:
        last = lines[-1]
        for rule in (*_LINE_RULES, _READ_MORE_SENTENCE):
            last = rule.sub("", last)
        if last.strip():
            lines[-1] = last.rstrip()
            break
        lines.pop()
    return "\n".join(lines).strip()
