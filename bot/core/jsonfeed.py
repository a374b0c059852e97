"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) in the shape feedparser gives RSS
and Atom, so one reader reads all three: a feed dict (`title`, `link`, `language`, `links` with
rel="self") and entry dicts (`id`, `link`, `title`, `content`, `summary`, `*_parsed` dates,
`enclosures`). feedparser 6 does not read JSON Feed itself.

Pure: the stdlib.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

_TEXT = {"type": "text/plain", "base": ""}


def feed_and_entries(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The JSON Feed `doc` as (feed, entries), feedparser's keys; items that are not objects are
    left out (a JSON Feed's items are objects by its spec)."""
    feed: dict[str, Any] = {
        "title": _str(doc.get("title")),
        "title_detail": _TEXT,
        "link": _str(doc.get("home_page_url")),
        "language": _str(doc.get("language")),  # 1.1
        "links": [{"rel": "self", "href": _str(doc.get("feed_url"))}] if doc.get("feed_url")
        else [],
    }
    items = doc.get("items")
    entries = [_entry(item) for item in items if isinstance(item, dict)] if isinstance(
        items, list
    ) else []
    return feed, entries


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    # `url` is the item's own page; `external_url` the page a link blog points at: the post's
    # link only when the item has no page of its own.
    link = _str(item.get("url")) or _str(item.get("external_url"))
    content = []
    if item.get("content_html"):
        content.append({"type": "text/html", "value": _str(item["content_html"]), "base": link})
    if item.get("content_text"):
        content.append({"type": "text/plain", "value": _str(item["content_text"]), "base": link})
    entry: dict[str, Any] = {
        "id": _str(item.get("id")) or link,
        "link": link,
        "title": _str(item.get("title")),
        "title_detail": dict(_TEXT, base=link),
        "content": content,
        "summary": _str(item.get("summary")),
        "language": _str(item.get("language")),
        "enclosures": _enclosures(item),
    }
    for key, field in (("published_parsed", "date_published"), ("updated_parsed", "date_modified")):
        parsed = _date(item.get(field))
        if parsed is not None:
            entry[key] = parsed
    return entry


def _enclosures(item: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for key in ("image", "banner_image"):
        if item.get(key):
            out.append({"href": _str(item[key]), "type": "image/"})  # pictures by the spec
    attachments = item.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict) and attachment.get("url"):
            out.append({"href": _str(attachment["url"]),
                        "type": _str(attachment.get("mime_type"))})  # fmt: skip
    return out


def _date(value: Any) -> time.struct_time | None:
    """An RFC 3339 date as UTC struct_time (what feedparser gives); None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).timetuple()


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
