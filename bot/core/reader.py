"""Turn a feed's bytes into a Feed of Issues: feedparser for the feed, bot.core.issue for the HTML.

The edge for feedparser: its surprises become a FeedError here, or `Feed.problem` when a
malformed feed still yields entries. An entry that is not shaped like a BWR issue (any other
Substack newsletter) is still an Issue, with its title, subtitle and link and no sections.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.core.blocks import clean, plain_text
from bot.core.excerpt import excerpt, repair, web_address
from bot.core.issue import IssueSections, read_sections
from bot.core.model import Feed, FeedInfo, Issue
from bot.core.profile import Profile
from bot.errors import BotError, FeedError, one_line
from bot.log import event

logger = logging.getLogger(__name__)

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_EPOCH = datetime.min.replace(tzinfo=UTC)


def parse_feed(data: bytes, profile: Profile, source: str = "the feed") -> Feed:
    """Read a feed's bytes into a Feed, issues newest first.

    Raises FeedError (one line, naming `source`) only when the bytes hold no feed at all.
    """
    try:
        # sanitize_html=False keeps Substack's data-* attributes; resolve_relative_uris=False
        # skips a second HTML pass over every entry (2/3 of feedparser's time): bot.core.blocks
        # resolves the few relative links itself.
        parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser's failures have no common base class
        raise FeedError(f"{source} could not be parsed as a feed: {one_line(exc)}") from exc
    entries = parsed.get("entries") or []
    problem = one_line(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not entries and (problem or not parsed.get("version")):
        why = problem or ("it is empty" if not data.strip() else "no RSS or Atom elements found")
        raise FeedError(f"{source} is not an RSS or Atom feed ({why}); check FEED_URL or the file")
    if problem:
        event(
            logger,
            "feed.malformed",
            logging.WARNING,
            source=source,
            problem=problem,
            entries=len(entries),
        )
    meta = parsed.get("feed") or {}
    language = _language(meta.get("language"), profile.language)
    info = FeedInfo(
        title=_text(meta.get("title"), meta.get("title_detail")),
        link=str(meta.get("link") or ""),
        language=language,
    )
    # Where a relative item link is resolved: the channel's link, then the feed's own address.
    bases = (str(meta.get("link") or ""), source)
    issues = [_issue(entry, profile, language, bases) for entry in entries]
    # Newest first; undated issues last; equal dates keep the feed's order (sort is stable).
    issues.sort(key=lambda i: i.published or _EPOCH, reverse=True)
    return Feed(info=info, issues=tuple(issues), problem=problem)


def _issue(entry: Any, profile: Profile, language: str, bases: Sequence[str]) -> Issue:
    raw_link = str(entry.get("link") or "").strip()
    # xml:base of the entry (feedparser keeps it on each detail) comes before the feed's bases.
    entry_base = str((entry.get("title_detail") or {}).get("base") or "")
    resolved = web_address(raw_link, (entry_base, *bases))
    link = resolved or raw_link
    guid = str(entry.get("id") or link)
    title = repair(_text(entry.get("title"), entry.get("title_detail")))
    own = _own_html(entry)
    html = repair(_content_html(entry))  # the own HTML when there is one
    summary = repair(str(entry.get("summary") or ""))
    # A feed with only a description (no HTML content) says everything there: it is the
    # subtitle. With content, the description is the subtitle only when it is not the content.
    subtitle = excerpt(summary, link) if summary and summary != (html if own else "") else ""
    link_warnings: list[str] = []
    if not raw_link:
        link_warnings.append("the issue has no link: it cannot be announced")
    elif resolved is None:
        link_warnings.append(
            f"the issue's link {raw_link!r} is not a web address: posted without a card or link"
        )
    try:
        base = str((entry.get("content") or [{}])[0].get("base") or link)
        sections = read_sections(html, profile, base) if html else IssueSections()
    except Exception as exc:  # a safety net: one strange entry must not stop the feed
        event(logger, "issue.unreadable", logging.WARNING, link=link, error=one_line(exc))
        sections = IssueSections(
            warnings=(f"the issue's HTML could not be read: {one_line(exc)}",)
        )
    return Issue(
        guid=guid,
        link=link,
        title=title,
        subtitle=subtitle,
        published=_published(entry),
        cover_image=_cover(entry),
        volume=sections.volume,
        language=language,
        takeaways=sections.takeaways,
        follow_ups=sections.follow_ups,
        quick_bites=sections.quick_bites,
        content_hash=hashlib.sha256(html.encode("utf-8", "replace")).hexdigest(),
        warnings=(*link_warnings, *sections.warnings),
        notes=sections.notes,
    )


def _own_html(entry: Any) -> str:
    """The entry's own full HTML (content:encoded, Atom content); "" without it. A podcast's
    itunes:summary arrives as text/plain content and is not this."""
    for content in entry.get("content") or []:
        if "html" in str(content.get("type", "")) and content.get("value"):
            return str(content["value"])
    return ""


def _content_html(entry: Any) -> str:
    """The entry's full HTML (content:encoded), else any content it has, else its description."""
    own = _own_html(entry)
    if own:
        return own
    for content in entry.get("content") or []:
        if content.get("value"):
            return str(content["value"])
    return str(entry.get("summary") or "")


def _text(value: Any, detail: Any) -> str:
    """A title as plain text: feedparser leaves entities in when it thinks the title is HTML."""
    if not value:
        return ""
    kind = str((detail or {}).get("type", "")) if isinstance(detail, dict) else ""
    return plain_text(str(value)) if "html" in kind else clean(str(value))


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: feedparser's own get() maps a missing updated_parsed to published_parsed
        # with a DeprecationWarning.
        t = dict.get(entry, key)
        if t:
            try:
                return datetime(*t[:6]).replace(tzinfo=UTC)  # feedparser gives UTC struct_time
            except (TypeError, ValueError):
                continue
    return None


def _cover(entry: Any) -> str | None:
    for enclosure in entry.get("enclosures") or []:
        href = enclosure.get("href")
        kind = str(enclosure.get("type") or "image/")
        if href and kind.startswith("image/"):
            return web_address(str(href))
    return None


def _language(value: Any, default: str) -> str:
    lang = str(value or "").strip().replace("_", "-")
    return lang if _LANGUAGE.fullmatch(lang) else default


def pick_issue(issues: Sequence[Issue], entry: str | None, source: str) -> Issue:
    """The issue whose link or guid is `entry`, else the newest; BotError when there is none."""
    if entry is not None:
        for issue in issues:
            if entry in (issue.link, issue.guid):
                return issue
        raise BotError(
            f"no issue with link {entry} in {source}; `inspect --feed {source}` lists them"
        )
    if not issues:
        raise BotError(f"the feed {source} has no issues")
    return issues[0]
