"""An issue's language for the posts' `langs`: the tag the feed declares, made a BCP-47 tag
("en_US" → "en-US", "de-DE.UTF-8" → "de-DE", "en, fr" → "en"), or, when it declares none,
the language its words are in — only when the detector is confident, since a wrong tag hides a
post from the readers who filter by language.

Detection is py3langid (an n-gram model shipped inside its wheel: nothing is downloaded at run
time), loaded on first use (~1 s, ~10 MB) so a feed that declares its language never pays.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# Bluesky's `langs` takes BCP-47 tags; the case is kept as written (tags are case-insensitive).
_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
# Below this many letters, or below this probability, a guess is not worth a wrong tag.
MIN_LETTERS = 20
MIN_CONFIDENCE = 0.9


def language_tag(value: Any) -> str:
    """`value` as a BCP-47 tag, or "" when it is not one."""
    tag = str(value or "").strip().split(",")[0].split(";")[0].split(".")[0].strip()
    tag = tag.replace("_", "-")
    return tag if _TAG.fullmatch(tag) else ""


def detect_language(text: str) -> str:
    """The language `text` is written in, as a tag ("de"), or "" when unsure."""
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return ""
    lang, probability = _identifier().classify(text)
    return str(lang) if probability >= MIN_CONFIDENCE else ""


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
