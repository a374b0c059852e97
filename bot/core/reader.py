"""Turn a feed's bytes into a Feed of Issues: feedparser for the feed, bot.core.issue for the HTML.

The edge for feedparser: its surprises become a FeedError here, or `Feed.problem` when a
malformed feed still yields entries. An entry that is not shaped like a BWR issue (any other
Substack newsletter) is still an Issue, with its title, subtitle and link and no sections.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser

from bot.core.blocks import clean, plain_text
from bot.core.excerpt import (
    cut_to_words,
    decode_entities,
    excerpt,
    repair,
    web_address,
    without_title,
)
from bot.core.formats import readable, sniff, what_it_is
from bot.core.issue import IssueSections, read_sections
from bot.core.jsonfeed import feed_and_entries
from bot.core.language import detect_language, language_tag
from bot.core.links import untracked
from bot.core.model import Feed, FeedInfo, Issue
from bot.core.profile import Profile
from bot.errors import BotError, FeedError, one_line
from bot.log import event

logger = logging.getLogger(__name__)

_EPOCH = datetime.min.replace(tzinfo=UTC)


def parse_feed(data: bytes, profile: Profile, source: str = "the feed") -> Feed:
    """Read a feed's bytes (RSS, Atom or JSON Feed) into a Feed, issues newest first.

    Raises FeedError (one line, naming `source` and saying what the bytes are) only when they
    hold no feed at all. An entry with no address to point a post at is not an issue: it is
    named in `Feed.skipped`, and the others are read as ever.
    """
    try:
        sniffed = sniff(data)
    except ValueError as exc:
        raise FeedError(f"{source} {exc}; check FEED_URL or the file") from exc
    problem: str | None = None
    if sniffed.json_feed is not None:
        meta, entries = feed_and_entries(sniffed.json_feed)
    else:
        try:
            # sanitize_html=False keeps Substack's data-* attributes; resolve_relative_uris=False
            # skips a second HTML pass over every entry (2/3 of feedparser's time):
            # bot.core.blocks resolves the few relative links itself.
            parsed = feedparser.parse(
                sniffed.data, sanitize_html=False, resolve_relative_uris=False
            )
        except Exception as exc:  # feedparser's failures have no common base class
            raise FeedError(f"{source} could not be parsed as a feed: {one_line(exc)}") from exc
        entries = parsed.get("entries") or []
        if parsed.get("bozo"):
            problem = readable(one_line(parsed.get("bozo_exception")), sniffed.data)
        version = str(parsed.get("version") or "")
        if not entries and (
            problem
            or not version
            or (version.startswith("rss") and b"<channel" not in sniffed.data.lower())
        ):
            raise FeedError(
                f"{source} {what_it_is(sniffed.data, source, problem)}; "
                "check FEED_URL or the file"
            )
        meta = parsed.get("feed") or {}
    if problem:
        event(
            logger,
            "feed.malformed",
            logging.WARNING,
            source=source,
            problem=problem,
            entries=len(entries),
        )
    declared = language_tag(meta.get("language"))
    info = FeedInfo(
        title=repair(_text(meta.get("title"), meta.get("title_detail"))),
        link=str(meta.get("link") or ""),
        language=declared or profile.language,
    )
    # Where a relative item link is resolved, after the entry's xml:base and guid: the
    # channel's link, the feed's own address as it says it (rel="self"), then where it was read.
    bases = (info.link, _self_link(meta), source)
    issues: list[Issue] = []
    skipped: list[str] = []
    for position, entry in enumerate(entries, start=1):
        try:
            issue = _issue(entry, profile, declared, bases, info.title)
        except Exception as exc:  # a safety net: one strange entry must not stop the feed
            skipped.append(f"entry {position} could not be read ({one_line(exc)}): not posted")
            continue
        if issue.link:
            issues.append(issue)
        else:
            skipped.append(f"entry {position} ({_what_it_has(issue)}) has no link: not posted")
    for line in skipped:
        event(logger, "feed.entry_skipped", logging.WARNING, source=source, entry=line)
    # Newest first; undated issues last; equal dates keep the feed's order (sort is stable).
    issues.sort(key=lambda i: i.published or _EPOCH, reverse=True)
    return Feed(info=info, issues=tuple(issues), problem=problem, skipped=tuple(skipped))


def _what_it_has(issue: Issue) -> str:
    """What an entry without a link has, to name it by: its title, else its first words."""
    if issue.title:
        return repr(cut_to_words(issue.title, 80))
    if issue.subtitle:
        return "untitled: " + repr(cut_to_words(issue.subtitle, 60))
    if issue.guid:
        return f"guid {issue.guid!r}"
    return "no title, no text"


def _self_link(meta: Any) -> str:
    for link in meta.get("links") or []:
        if link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return ""


def _entry_link(entry: Any, bases: Sequence[str]) -> tuple[str, str | None]:
    """(the link as the entry gives it, the address to post) — FeedBurner's original address
    before its redirect, else the link, else a guid that is an address; resolved against the
    entry's xml:base, its guid, then the feed's `bases`; tracking parameters removed."""
    guid = str(entry.get("id") or "").strip()
    raw = str(entry.get("link") or "").strip()
    entry_base = str((entry.get("title_detail") or {}).get("base") or "")
    own_bases = (entry_base, guid, *bases)
    for candidate in (str(entry.get("feedburner_origlink") or "").strip(), raw):
        if candidate:
            address = web_address(candidate, own_bases)
            if address is not None:
                return raw or candidate, untracked(address)
    # A guid that is an http(s) address is the item's, even marked isPermaLink="false"
    # (WordPress's "https://site/?p=123" answers with the post).
    if guid.lower().startswith(("http://", "https://")):
        address = web_address(guid)
        if address is not None:
            return raw or guid, untracked(address)
    return raw, None


def _issue(
    entry: Any, profile: Profile, declared: str, bases: Sequence[str], feed_title: str = ""
) -> Issue:
    raw_link, resolved = _entry_link(entry, bases)
    link = resolved or raw_link
    guid = str(entry.get("id") or link)
    title = decode_entities(repair(_text(entry.get("title"), entry.get("title_detail"))))
    own = _own_html(entry)
    html = repair(_content_html(entry))  # the own HTML when there is one
    summary = repair(str(entry.get("summary") or ""))
    # A feed with only a description (no HTML content) says everything there: it is the
    # subtitle. With content, the description is the subtitle only when it is not the content.
    subtitle = excerpt(summary, link) if summary and summary != (html if own else "") else ""
    link_warnings: list[str] = []
    if raw_link and resolved is None:
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
    is_bwr = bool(sections.takeaways or sections.follow_ups or sections.quick_bites)
    if not subtitle and not is_bwr and (own or not summary):
        # The description was the content itself (or absent): the entry's own words.
        subtitle = excerpt(own or html, link)
    subtitle = without_title(subtitle, title)
    language = language_tag(entry.get("language")) or declared
    if not language:
        language = detect_language(f"{title}. {subtitle}") or profile.language
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
        feed_title="" if title else feed_title,  # only needed (for the card) without a title
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
        href = str(enclosure.get("href") or "")
        # Without a type, the address's extension says what it is ("….jpg"); an enclosure that
        # says nothing (a podcast's "…/episode") is not taken for a picture.
        kind = str(enclosure.get("type") or mimetypes.guess_type(urlsplit(href).path)[0] or "")
        if href and kind.startswith("image/"):
            return web_address(href)
    return None


def pick_issue(issues: Sequence[Issue], entry: str | None, source: str) -> Issue:
    """The issue whose link or guid is `entry`, else the newest; BotError when there is none."""
    if entry is not None:
        for issue in issues:
            # The link as the feed gives it finds the issue too (with its tracking parameters).
            if entry in (issue.link, issue.guid) or untracked(entry) == issue.link:
                return issue
        raise BotError(
            f"no issue with link {entry} in {source}; `inspect --feed {source}` lists them"
        )
    if not issues:
        raise BotError(f"the feed {source} has no issues")
    return issues[0]
