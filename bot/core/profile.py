"""The newsletter profile (config/*.toml): section headings and their variants, the thread's
layout, post templates, hashtags. Loaded and validated once at start-up; a wrong profile stops
start-up with one line naming the key at fault."""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import bundled
from bot.errors import ConfigError

TEMPLATE_FIELDS = frozenset(
    {"title", "subtitle", "link", "volume", "label", "text", "headline", "gist", "newsletter"}
)
REPLIES = ("everyone", "followers", "following", "mentioned", "nobody")
SHORT_ISSUE = ("hold", "announce", "post")
TEMPLATE_NAMES = ("root", "takeaway", "follow_up", "quick_bite", "quick_bites_root", "closing")
_DEFAULT_PATH = bundled("config") / "bwr.toml"


@dataclass(frozen=True)
class Sections:
    takeaways: tuple[str, ...]
    follow_ups: tuple[str, ...]
    quick_bites: tuple[str, ...]
    combined: tuple[str, ...]
    readings: tuple[str, ...]
    boilerplate: tuple[str, ...]
    volume: re.Pattern[str]


@dataclass(frozen=True)
class ThreadLayout:
    quick_bites: str  # "same" | "separate"
    numbered: bool
    number_format: str
    hashtags: tuple[str, ...]
    closing: bool
    cards_for_readings: bool
    templates: dict[str, str]
    replies: str = "everyone"  # who may reply: a threadgate on the root unless "everyone"
    quotes: bool = True  # false: a postgate on the root that disables quoting
    pin_latest: bool = False  # the newest issue's root becomes the account's pinned post


@dataclass(frozen=True)
class Review:
    """What a normal issue has, and what the daemon does with one that falls short."""

    min_takeaways: int  # fewer takeaways found: the issue falls short
    short_issue: str  # "hold" (for the editor) | "announce" (root post and card) | "post" (as read)
    hold_on_warnings: bool  # an issue the reader warned about is held too


@dataclass(frozen=True)
class Profile:
    name: str
    language: str
    sections: Sections
    thread: ThreadLayout
    path: str = ""
    review: Review = Review(min_takeaways=0, short_issue="post", hold_on_warnings=False)


def load_profile(path: str | Path | None = None) -> Profile:
    """Read and validate a profile; `None` means the bundled BWR profile."""
    p = Path(path) if path else _DEFAULT_PATH
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"BOT_CONFIG: profile file {p} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"BOT_CONFIG: cannot read {p}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"BOT_CONFIG: {p} is not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per level of nesting
        raise ConfigError(f"BOT_CONFIG: {p} nests arrays or tables too deep to read") from exc
    return parse_profile(data, str(p))


def parse_profile(data: dict[str, Any], where: str = "<profile>") -> Profile:
    """Validate a profile's parsed TOML (a dict) and build the Profile."""

    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"BOT_CONFIG: {where}: [{key}] {why}")

    def table(d: dict[str, Any], key: str, ctx: str) -> dict[str, Any]:
        v = d.get(key, {})
        if not isinstance(v, dict):
            raise fail(f"{ctx}{key}", "must be a table")
        return v

    def only(d: dict[str, Any], ctx: str, keys: Iterable[str]) -> None:
        """A key the bot does not know is a typo the editor must hear about, not a no-op."""
        allowed = set(keys)
        for key in d:
            if key not in allowed:
                where = f"{ctx}.{key}" if ctx else key
                raise fail(where, f"is not a setting; known here: {', '.join(sorted(allowed))}")

    def strings(d: dict[str, Any], key: str, ctx: str, default: list[str]) -> tuple[str, ...]:
        v = d.get(key, default)
        if not isinstance(v, list) or not all(isinstance(s, str) and s.strip() for s in v):
            raise fail(f"{ctx}.{key}", "must be a list of non-empty strings")
        return tuple(s.strip() for s in v)

    def boolean(d: dict[str, Any], key: str, ctx: str, default: bool) -> bool:
        v = d.get(key, default)
        if not isinstance(v, bool):
            raise fail(f"{ctx}.{key}", "must be true or false")
        return v

    only(data, "", ("newsletter", "sections", "thread", "review"))
    news = table(data, "newsletter", "")
    only(news, "newsletter", ("name", "language"))
    name = news.get("name", "")
    if not isinstance(name, str) or not name.strip():
        raise fail("newsletter.name", "must be a non-empty string")
    language = news.get("language", "en")
    if not isinstance(language, str) or not re.fullmatch(
        r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", language
    ):
        raise fail("newsletter.language", f"{language!r} is not a BCP-47 language tag like 'en'")

    sec = table(data, "sections", "")
    only(sec, "sections", ("takeaways", "follow_ups", "quick_bites", "combined", "readings",
                           "boilerplate", "volume"))  # fmt: skip
    volume_src = sec.get("volume", r"(?i)\bVol\.?\s*\d+\s*,?\s*No\.?\s*\d+\b.*")
    try:
        volume = re.compile(volume_src)
    except (re.error, TypeError) as exc:
        raise fail("sections.volume", f"is not a valid regular expression: {exc}") from exc
    sections = Sections(
        takeaways=strings(sec, "takeaways", "sections", ["Takeaways"]),
        follow_ups=strings(sec, "follow_ups", "sections", ["Follow-ups"]),
        quick_bites=strings(sec, "quick_bites", "sections", ["Quick Bites"]),
        combined=strings(sec, "combined", "sections", []),
        readings=strings(sec, "readings", "sections", ["Additional Reading(s)"]),
        boilerplate=strings(sec, "boilerplate", "sections", []),
        volume=volume,
    )

    th = table(data, "thread", "")
    only(th, "thread", ("quick_bites", "numbered", "number_format", "hashtags", "closing",
                        "cards_for_readings", "templates", "replies", "quotes",
                        "pin_latest"))  # fmt: skip
    replies = th.get("replies", "everyone")
    if replies not in REPLIES:
        raise fail("thread.replies", f"must be one of {', '.join(REPLIES)}, not {replies!r}")
    qb = th.get("quick_bites", "same")
    if qb not in ("same", "separate"):
        raise fail("thread.quick_bites", f'must be "same" or "separate", not {qb!r}')
    number_format = th.get("number_format", "{n}/{total}")
    if not isinstance(number_format, str) or not _fields_ok(number_format, {"n", "total"}):
        raise fail("thread.number_format", "must be a string using only {n} and {total}")
    hashtags = strings(th, "hashtags", "thread", [])
    for tag in hashtags:
        bare = tag.lstrip("#")
        if not bare or len(bare) > 64 or re.search(r"\s", bare):
            raise fail("thread.hashtags", f"{tag!r} is not a valid hashtag (no spaces, 1-64 chars)")
    tpl_in = table(th, "templates", "thread.")
    templates = dict(_DEFAULT_TEMPLATES)
    for key, value in tpl_in.items():
        if key not in TEMPLATE_NAMES:
            raise fail(
                f"thread.templates.{key}", f"is not a template; known: {', '.join(TEMPLATE_NAMES)}"
            )
        if not isinstance(value, str) or not value.strip():
            raise fail(f"thread.templates.{key}", "must be a non-empty string")
        if not _fields_ok(value, TEMPLATE_FIELDS):
            raise fail(
                f"thread.templates.{key}",
                f"uses an unknown field; known: {', '.join(sorted(TEMPLATE_FIELDS))}",
            )
        templates[key] = value
    layout = ThreadLayout(
        quick_bites=qb,
        numbered=boolean(th, "numbered", "thread", False),
        number_format=number_format,
        hashtags=tuple(t.lstrip("#") for t in hashtags),
        closing=boolean(th, "closing", "thread", True),
        cards_for_readings=boolean(th, "cards_for_readings", "thread", True),
        templates=templates,
        replies=replies,
        quotes=boolean(th, "quotes", "thread", True),
        pin_latest=boolean(th, "pin_latest", "thread", False),
    )

    rv = table(data, "review", "")
    only(rv, "review", ("min_takeaways", "short_issue", "hold_on_warnings"))
    min_takeaways = rv.get("min_takeaways", 0)
    if not isinstance(min_takeaways, int) or isinstance(min_takeaways, bool) or min_takeaways < 0:
        raise fail("review.min_takeaways", "must be a whole number, 0 or more")
    short = rv.get("short_issue", "post")
    if short not in SHORT_ISSUE:
        raise fail("review.short_issue", f"must be one of {', '.join(SHORT_ISSUE)}, not {short!r}")
    review = Review(
        min_takeaways=min_takeaways,
        short_issue=short,
        hold_on_warnings=boolean(rv, "hold_on_warnings", "review", False),
    )
    return Profile(
        name=name.strip(),
        language=language,
        sections=sections,
        thread=layout,
        path=where,
        review=review,
    )


_DEFAULT_TEMPLATES = {
    "root": "{title}\n\n{subtitle}",
    "takeaway": "{label} — {text}",
    "follow_up": "Follow-up: {headline}\n\n{gist}",
    "quick_bite": "Quick bite: {headline}\n\n{gist}",
    "quick_bites_root": "Quick Bites from {newsletter}: {title}",
    "closing": "Read the full issue of {newsletter}: {link}",
}


def _fields_ok(template: str, allowed: set[str] | frozenset[str]) -> bool:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError:
        return False
    return all(n in allowed for n in names)
