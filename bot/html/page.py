"""The preview as one self-contained HTML page: each thread drawn the way the Bluesky app shows it.

Built only from the posts that would be written (read back from the `preview --json` records by
bot.bluesky.lexicon), so the page cannot drift from what is posted. Text is cut at the facets' UTF-8
byte offsets, exactly as the app does. Everything shown is escaped; only http(s) addresses become
links; CSS is inline, thumbnails are data: URIs, and a Content-Security-Policy forbids any other
request, so the page works offline. Each post carries its grapheme and byte counts and a warning for
anything the PDS would refuse (error) or that looks wrong (warning). Pure: stdlib and bot.core.text,
no network.

Threads already posted (`status --html`) are drawn from the records read back from the PDS (their
`reply` and `createdAt` are ignored); a post no longer there is given as a `Gone` and drawn in its
place with a warning."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlsplit

from bot.core.media import Thumb
from bot.core.post import Card, Facet, Link, Mention, Post, Tag
from bot.core.postcheck import (
    MAX_THUMB_BYTES,
    Finding,
    check_post,
    is_web_address,
    on_char_boundary,
)
from bot.core.text import graphemes, utf8_len
from bot.html.style import CSS

__all__ = [
    "Finding",
    "Gone",
    "PageSection",
    "Thumb",
    "render_page",
]


@dataclass(frozen=True)
class Gone:
    """A posted post no longer on Bluesky (deleted?), drawn in its place."""

    uri: str


_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class PageSection:
    """One issue on the page: its entry ({guid, link, title}, and for posted threads
    `bsky_urls`: each thread's address on bsky.app) and its threads of posts."""

    entry: Mapping[str, Any]
    threads: Sequence[Sequence[Post | Gone]] = field(default_factory=tuple)
    plan: str | None = None  # what the bot does with it, when not simply posting it


def render_page(
    sections: Sequence[PageSection],
    *,
    account_name: str,
    handle: str,
    thumbs: Mapping[str, Thumb] | None = None,
    posted: bool = False,
) -> str:
    """The whole page as one HTML string (UTF-8, no external resources). `posted`: the threads
    are already on Bluesky (headed so, rather than as a preview)."""
    thumbs = thumbs or {}
    handle = handle.removeprefix("@")
    account = _Account(account_name, handle)
    bodies: list[str] = []
    totals = {"error": 0, "warning": 0, "posts": 0, "threads": 0}
    for number, section in enumerate(sections, 1):
        body, counts = _section(number, section, account, thumbs)
        bodies.append(body)
        for key, value in counts.items():
            totals[key] += value
    title = "Posted threads" if posted else "Thread preview"
    if len(sections) == 1:
        title += " · " + str(sections[0].entry.get("title", ""))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{escape(title)}</title>",
            f"<style>{CSS}</style></head><body>",
            '<main class="page">',
            _summary(sections, account, totals, posted),
            *bodies,
            "</main></body></html>",
        ]
    )


@dataclass(frozen=True)
class _Account:
    name: str
    handle: str

    @property
    def initials(self) -> str:
        words = [w for w in self.name.replace("…", " ").split() if w[:1].isalnum()]
        letters = "".join(w[0] for w in words[:2]) or self.handle[:1] or "?"
        return letters.upper()

    @property
    def shown_handle(self) -> str:
        # A dry run has no account yet: say so rather than invent a handle.
        return f"@{self.handle}" if self.handle else "(no handle: dry run)"


def _summary(
    sections: Sequence[PageSection], account: _Account, totals: Mapping[str, int], posted: bool
) -> str:
    state = "error" if totals["error"] else "warning" if totals["warning"] else "ok"
    verdict = {
        "error": f"{_n(totals['error'], 'error')} — Bluesky would refuse this",
        "warning": f"{_n(totals['warning'], 'warning')} to look at",
        "ok": "no problems found",
    }[state]
    return (
        '<header class="summary">'
        f"<h1>{'Posted threads' if posted else 'Thread preview'}</h1>"
        f'<p class="meta">{"Posted" if posted else "Posting"} as <b>{escape(account.name)}</b> '
        f'<span class="handle">{escape(account.shown_handle)}</span> · '
        f"{_n(len(sections), 'issue')} · {_n(totals['threads'], 'thread')} · "
        f"{_n(totals['posts'], 'post')}</p>"
        f'<p class="verdict {state}" data-errors="{totals["error"]}" '
        f'data-warnings="{totals["warning"]}">{escape(verdict)}</p>'
        "</header>"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _section(
    number: int, section: PageSection, account: _Account, thumbs: Mapping[str, Thumb]
) -> tuple[str, dict[str, int]]:
    entry = section.entry
    counts = {"error": 0, "warning": 0, "posts": 0, "threads": len(section.threads)}
    title = escape(str(entry.get("title") or "(untitled issue)"))
    link = str(entry.get("link") or "")
    heading = _anchor(link, title, "issue-link") if is_web_address(link) else title
    parts = [
        f'<section class="issue" id="issue-{number}">',
        f'<h2 class="issue-title">{heading}</h2>',
    ]
    shown = [escape(link)] if link else []
    for t_number, url in enumerate(entry.get("bsky_urls") or (), 1):
        if is_web_address(str(url)):
            label = f"thread {t_number} on Bluesky" if len(section.threads) > 1 else "on Bluesky"
            shown.append(_anchor(str(url), label, "bsky-link"))
    if shown:
        parts.append(f'<p class="issue-url">{" · ".join(shown)}</p>')
    if section.plan:
        parts.append(f'<p class="plan" role="status">Plan: {escape(section.plan)}</p>')
    if not section.threads:
        counts["warning"] += 1
        parts.append(_warnings([Finding("warning", "this issue makes no thread")]))
    for t_number, thread in enumerate(section.threads, 1):
        parts.append(
            f'<ol class="thread" data-thread="{t_number}" aria-label="thread {t_number}">'
        )
        for index, post in enumerate(thread):
            html, warnings = _post(post, index, len(thread), account, thumbs)
            parts.append(html)
            counts["posts"] += 1
            for w in warnings:
                counts[w.level] += 1
        parts.append("</ol>")
    parts.append("</section>")
    return "\n".join(parts), counts


def _post(
    post: Post | Gone,
    index: int,
    total: int,
    account: _Account,
    thumbs: Mapping[str, Thumb],
) -> tuple[str, list[Finding]]:
    if isinstance(post, Gone):
        return _gone(post, index, total, account)
    text = post.text
    warnings = check_post(post)
    card_html = ""
    if post.card is not None:
        card_html, card_warnings = _card(post.card, thumbs)
        warnings.extend(card_warnings)
    n_graphemes, n_bytes = graphemes(text), utf8_len(text)
    state = _worst(warnings)
    last = " last" if index == total - 1 else ""
    return (
        f'<li class="post {state}{last}" data-post="{index + 1}" '
        f'data-graphemes="{n_graphemes}" data-bytes="{n_bytes}">'
        f"{_head(account, index, total)}"
        f'<div class="text">{render_text(text, post.facets)}</div>'
        f"{card_html}"
        f"{_counts(n_graphemes, n_bytes, post)}"
        f"{_warnings(warnings)}"
        "</div></li>"
    ), warnings


def _head(account: _Account, index: int, total: int, with_handle: bool = True) -> str:
    """The avatar with the thread line, and the author line of post `index` (opens .body)."""
    handle = (
        f'<span class="handle">{escape(account.handle and "@" + account.handle)}</span>'
        if with_handle
        else ""
    )
    return (
        '<div class="gutter">'
        f'<div class="avatar" aria-hidden="true">{escape(account.initials)}</div>'
        '<div class="thread-line"></div></div>'
        '<div class="body">'
        '<div class="author">'
        f'<span class="name">{escape(account.name)}</span> '
        f"{handle}"
        f'<span class="position">{index + 1}/{total}</span></div>'
    )


def _gone(gone: Gone, index: int, total: int, account: _Account) -> tuple[str, list[Finding]]:
    """A post that is no longer on Bluesky, drawn in its place (as the app does) with a warning."""
    uri = gone.uri
    warnings = [Finding("warning", f"this post is gone from Bluesky (deleted?): {uri}")]
    last = " last" if index == total - 1 else ""
    return (
        f'<li class="post warning gone{last}" data-post="{index + 1}">'
        f"{_head(account, index, total, with_handle=False)}"
        '<div class="text"><i>Post not found</i></div>'
        f"{_warnings(warnings)}"
        "</div></li>"
    ), warnings


def render_text(text: str, facets: Sequence[Facet]) -> str:
    """The post text as HTML: escaped, with link/tag/mention facets highlighted on their bytes.

    Facets whose range is outside the text, not on a character boundary, or overlapping an
    earlier one are left out here (check_post reports them)."""
    data = text.encode("utf-8")
    spans: list[tuple[int, int, Facet]] = []
    for facet in facets:
        span = _byte_span(facet, data)
        if span is not None:
            spans.append((*span, facet))
    spans.sort(key=lambda s: s[0])
    out: list[str] = []
    pos = 0
    for start, end, facet in spans:
        if start < pos:  # overlaps the previous facet
            continue
        out.append(escape(data[pos:start].decode("utf-8")))
        out.append(_facet_html(data[start:end].decode("utf-8"), facet))
        pos = end
    out.append(escape(data[pos:].decode("utf-8")))
    return "".join(out)


def _byte_span(facet: Facet, data: bytes) -> tuple[int, int] | None:
    start, end = facet.start, facet.end
    if start is None or end is None:
        return None
    if not 0 <= start < end <= len(data):
        return None
    if not (on_char_boundary(data, start) and on_char_boundary(data, end)):
        return None
    return start, end


def _facet_html(visible: str, facet: Facet) -> str:
    shown = escape(visible)
    for feature in facet.features:
        match feature:
            case Link(uri) if is_web_address(uri):
                return _anchor(uri, shown, "facet link")
            case Link(uri):
                return f'<span class="facet link dead" title="{escape(uri)}">{shown}</span>'
            case Tag(tag):
                return f'<span class="facet tag" title="#{escape(tag)}">{shown}</span>'
            case Mention(did):
                return f'<span class="facet mention" title="{escape(did)}">{shown}</span>'
    return shown


def _card(card: Card, thumbs: Mapping[str, Thumb]) -> tuple[str, list[Finding]]:
    uri, title, description = card.uri, card.title, card.description
    warnings: list[Finding] = []
    thumb = thumbs.get(uri)
    if thumb is not None and not thumb.is_image:
        warnings.append(Finding("error", f"card thumbnail is {thumb.mime!r}, not an image"))
        thumb = None
    if thumb is not None:
        if thumb.size > MAX_THUMB_BYTES:
            warnings.append(
                Finding("error", f"card thumbnail is {thumb.size:,} bytes (limit 1,000,000)")
            )
        src = f"data:{thumb.mime};base64,{base64.b64encode(thumb.data).decode('ascii')}"
        image = f'<img class="thumb" alt="{escape(thumb.alt)}" src="{escape(src)}">'
    else:
        blob = card.uploaded is not None
        label = "thumbnail uploaded, not shown offline" if blob else "no thumbnail"
        image = f'<div class="thumb placeholder">{label}</div>'
        if not blob:
            warnings.append(Finding("warning", "card has no thumbnail"))
    if not title.strip():
        warnings.append(Finding("warning", "card has no title"))
    domain = (urlsplit(uri).hostname or "").removeprefix("www.") if is_web_address(uri) else ""
    if not domain:
        warnings.append(Finding("error", f"card address is not a web address: {uri!r}"))
    inner = (
        f"{image}<div class=\"card-text\">"
        f'<div class="card-title">{escape(title)}</div>'
        f'<div class="card-description">{escape(description)}</div>'
        f'<div class="card-domain">{escape(domain or uri)}</div></div>'
    )
    if domain:
        return _anchor(uri, inner, "card"), warnings
    return f'<div class="card">{inner}</div>', warnings


def _counts(n_graphemes: int, n_bytes: int, post: Post) -> str:
    langs = ", ".join(post.langs)
    lang = f' · <span class="langs">{escape(langs)}</span>' if langs else ""
    return (
        '<div class="counts">'
        f'<span class="{_level(n_graphemes, 300, 280)}">{n_graphemes}/300 graphemes</span> · '
        f'<span class="{_level(n_bytes, 3000, 2800)}">{n_bytes:,}/3,000 bytes</span>{lang}</div>'
    )


def _level(value: int, limit: int, near: int) -> str:
    return "error" if value > limit else "warning" if value >= near else "ok"


def _warnings(warnings: Sequence[Finding]) -> str:
    if not warnings:
        return ""
    items = "".join(
        f'<li class="finding {w.level}"><b>{w.level}</b> {escape(w.message)}</li>'
        for w in warnings
    )
    return f'<ul class="warnings">{items}</ul>'


def _worst(warnings: Sequence[Finding]) -> str:
    levels = {w.level for w in warnings}
    return "error" if "error" in levels else "warning" if "warning" in levels else "ok"


def _anchor(href: str, inner_html: str, css_class: str) -> str:
    return (
        f'<a class="{css_class}" href="{escape(href)}" target="_blank" '
        f'rel="noopener noreferrer">{inner_html}</a>'
    )
