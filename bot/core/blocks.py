"""An issue's HTML as a flat run of blocks (headings, paragraphs, dividers) in reading order.

Substack's markup nests freely (`ul>li>p`, blockquotes, widgets inside divs); the section reader
in bot/core/issue.py only needs what a reader sees, top to bottom. Here we parse the HTML once with
lxml, drop what is not content (widgets, buttons, captions, footnote anchors, embeds, polls),
decode entities and normalise whitespace. Pure: stdlib, lxml and regex only.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import regex
from lxml import etree

from bot.core.model import Link

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements whose whole subtree is never text a reader would want reposted.
_SKIP_TAGS = frozenset(
    "script style form button input iframe figure figcaption picture img svg video audio "
    "noscript template select textarea object embed canvas source map area head title meta "
    "link label".split()
)
_SKIP_CLASS = regex.compile(
    r"(?:^|\s)(?:subscription-widget\S*|subscribe-widget\S*|button-wrapper|captioned-image\S*"
    r"|captioned-button\S*|image-gallery\S*|image-link-expand|image2-inset|native-video\S*"
    r"|native-audio\S*|video-\S+|youtube-\S+|vimeo-\S+|tweet\S*|twitter-\S+|instagram\S*"
    r"|tiktok\S*|spotify\S*|apple-podcast\S*|poll-embed\S*|footnote-anchor\S*|footnote\S*"
    r"|digest-post-embed\S*|install-substack-app\S*|paywall\S*|cta-caption|share-dialog\S*"
    r"|comment-\S+|community-chat\S*|pencraft|latex-rendered|file-embed\S*|map-embed\S*"
    r"|subscribe-\S+|preamble)(?=\s|$)",
)
# Substack's component names for the same widgets (kept by sanitize_html=False).
_SKIP_COMPONENT = regex.compile(
    r"(?i)subscribe|button|video|audio|poll|image|gallery|tweet|twitter|youtube|embed|footnote"
    r"|instagram|spotify|podcast|paywall|share|latex|file|map|chat"
)
# Block containers: walked into; loose text inside them becomes a paragraph of its own.
_CONTAINERS = frozenset(
    "html body div section article main header footer aside nav details summary center table "
    "thead tbody tfoot tr td th caption dl dt dd li ul ol menu dir blockquote address fieldset "
    "hgroup".split()
)
_PARAGRAPHS = frozenset({"p", "pre"})
_LISTS = frozenset({"ul", "ol", "menu", "dir", "dl"})
_ITEMS = frozenset({"li", "dt", "dd"})
_BOLD = frozenset({"strong", "b"})
# Deeper than this the markup is not prose; take its text flat (lxml itself caps depth at 255).
_MAX_DEPTH = 120
# Zero-width spaces, direction marks, BOM, soft hyphens: invisible, and they break matching.
# (The zero-width joiner stays: emoji sequences need it.) And control characters (C0 but tab and
# newlines, DEL, C1): an ESC from a feed's title would reach posts, logs, alerts and the
# operator's terminal (OSC sequences retitle it, others rewrite what it shows).
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u2060\ufeff\u00ad"
                        "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_EMBEDDED_POST = regex.compile(r"(?i)embedded-post")


@dataclass(slots=True)
class Block:
    """One thing a reader sees: a heading (level 1-6), a paragraph (level 0) or a divider."""

    kind: str  # "heading" | "paragraph" | "divider"
    text: str = ""
    level: int = 0
    links: list[Link] = field(default_factory=list)
    bold_only: bool = False  # every visible character is bold: Substack's "poor man's heading"
    lead: str = ""  # the bold words a paragraph starts with, if any
    list_id: int = 0  # which list the paragraph sits in (0: none)
    item_id: int = 0  # which list item (0: none)
    quote: bool = False


def clean(text: str, keep_newlines: bool = False) -> str:
    """Plain text as we store it: NFC, invisible marks dropped, whitespace runs collapsed."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    if not keep_newlines:
        return " ".join(text.split())
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def parse_html(html: str | bytes) -> etree._Element | None:
    """The HTML's <body> (or root), or None when there is nothing to parse. Never raises."""
    data = html if isinstance(html, bytes) else html.encode("utf-8", "replace")
    if not data.strip():
        return None
    parser = etree.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True, recover=True
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError):
        return None
    if root is None:
        return None
    body = root.find("body")
    return body if body is not None else root


def plain_text(html: str) -> str:
    """An HTML fragment (a feed's description) as one line of plain text."""
    if "<" not in html and "&" not in html:
        return clean(html)
    root = parse_html(html)
    if root is None:
        return clean(html)
    return clean(" ".join(root.itertext()))


def is_noise(el: etree._Element) -> bool:
    """Widgets, buttons, captions, embeds, footnote anchors: not the issue's words."""
    tag = el.tag
    if not isinstance(tag, str):
        return True  # comments and processing instructions
    if tag.lower() in _SKIP_TAGS:
        return True
    cls = el.get("class")
    if cls and _SKIP_CLASS.search(cls):
        return True
    comp = el.get("data-component-name")
    return bool(comp and _SKIP_COMPONENT.search(comp))


def embedded_post_link(el: etree._Element) -> Link | None:
    """Substack's embedded-post card (a reading written as a card): its title and address."""
    if not _EMBEDDED_POST.search(el.get("class", "")):
        return None
    try:
        attrs = json.loads(el.get("data-attrs", ""))
    except ValueError:
        return None
    if not isinstance(attrs, dict):
        return None
    url, title = attrs.get("url"), attrs.get("title")
    if isinstance(url, str) and url.startswith(("http://", "https://")) and isinstance(title, str):
        return Link(title=clean(title) or url, url=url)
    return None


class _Inline:
    """Collects a paragraph's text, which parts are bold, and its links."""

    __slots__ = ("parts", "links", "base")

    def __init__(self, base: str = "") -> None:
        self.parts: list[tuple[str, bool]] = []
        self.links: list[Link] = []
        self.base = base

    def add(self, text: str | None, bold: bool) -> None:
        if text:
            self.parts.append((text, bold))

    def walk(self, el: etree._Element, bold: bool, depth: int) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag == "br":
            self.add("\n", bold)
        elif not is_noise(el):
            inner = bold or tag in _BOLD
            if depth > _MAX_DEPTH:
                self.add(" ".join(el.itertext()), inner)
            else:
                start = len(self.parts)
                self.add(el.text, inner)
                for child in el:
                    self.walk(child, inner, depth + 1)
                if tag == "a":
                    self._link(el, start)
                elif tag in _CONTAINERS or tag in _PARAGRAPHS or tag in HEADINGS:
                    self.add("\n", inner)  # a block inside a paragraph still breaks the line
        self.add(el.tail, bold)

    def _link(self, el: etree._Element, start: int) -> None:
        href = (el.get("href") or "").strip()
        if self.base and href and not href.startswith(("http://", "https://", "#")):
            href = _absolute(self.base, href)  # feedparser is told not to resolve (speed)
        if href.startswith(("http://", "https://")):
            title = clean("".join(t for t, _ in self.parts[start:]))
            if title:
                self.links.append(Link(title=title, url=href))

    def block(self, **kw: object) -> Block | None:
        text = clean("".join(t for t, _ in self.parts), keep_newlines=True)
        if not text:
            return None
        visible = [(t, b) for t, b in self.parts if t.strip()]
        bold_only = bool(visible) and all(b for _, b in visible)
        lead = ""
        if visible and visible[0][1]:
            lead = clean(
                "".join(
                    t
                    for t, _ in itertools.takewhile(lambda p: p[1] or not p[0].strip(), self.parts)
                )
            )
        return Block("paragraph", text, links=self.links, bold_only=bold_only, lead=lead, **kw)  # type: ignore[arg-type]


class _Walker:
    def __init__(self, base: str = "") -> None:
        self.blocks: list[Block] = []
        self.ids = itertools.count(1)
        self.base = base

    def paragraph(self, nodes: list[etree._Element | str], ctx: dict[str, object]) -> None:
        if all(isinstance(node, str) and not node.strip() for node in nodes):
            return  # only whitespace between blocks
        inline = _Inline(self.base)
        for node in nodes:
            if isinstance(node, str):
                inline.add(node, False)
            else:
                inline.walk(node, False, 0)
        block = inline.block(**ctx)
        if block is not None:
            self.blocks.append(block)

    def element_paragraph(self, el: etree._Element, ctx: dict[str, object], depth: int) -> None:
        inline = _Inline(self.base)
        inline.add(el.text, False)
        bold = el.tag.lower() in _BOLD
        for child in el:
            inline.walk(child, bold, depth)
        block = inline.block(**ctx)
        if block is not None:
            self.blocks.append(block)

    def heading(self, el: etree._Element, level: int) -> None:
        inline = _Inline(self.base)
        inline.add(el.text, True)
        for child in el:
            inline.walk(child, True, 0)
        text = clean("".join(t for t, _ in inline.parts))
        if not any(c.isalnum() for c in text):
            self.blocks.append(Block("divider"))  # "***" headings are dividers
        else:
            self.blocks.append(Block("heading", text, level=level, links=inline.links))

    def container(self, el: etree._Element, ctx: dict[str, object], depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.paragraph([" ".join(el.itertext())], ctx)
            return
        loose: list[etree._Element | str] = [el.text] if el.text else []
        for child in el:
            tag = child.tag.lower() if isinstance(child.tag, str) else ""
            link = embedded_post_link(child) if tag else None
            if link is not None:
                self.paragraph(loose, ctx)
                loose = []
                self.blocks.append(Block("paragraph", link.title, links=[link], **ctx))  # type: ignore[arg-type]
            elif is_noise(child):
                pass
            elif tag in HEADINGS or tag in _PARAGRAPHS or tag in _CONTAINERS or tag == "hr":
                self.paragraph(loose, ctx)
                loose = []
                self.child_block(child, tag, ctx, depth + 1)
            else:
                loose.append(child)
                continue  # an inline element carries its own tail
            if child.tail:
                loose.append(child.tail)
        self.paragraph(loose, ctx)

    def child_block(self, el: etree._Element, tag: str, ctx: dict[str, object], depth: int) -> None:
        if tag in HEADINGS:
            self.heading(el, HEADINGS[tag])
        elif tag in _PARAGRAPHS:
            self.element_paragraph(el, ctx, depth)
        elif tag == "hr":
            self.blocks.append(Block("divider"))
        elif ctx.get("item_id") and (tag in _LISTS or tag in _ITEMS):
            self.container(el, ctx, depth)  # a nested list belongs to the item it sits in
        elif tag in _LISTS:
            self.container(el, {**ctx, "list_id": next(self.ids)}, depth)
        elif tag in _ITEMS:
            self.container(el, {**ctx, "item_id": next(self.ids)}, depth)
        elif tag == "blockquote":
            self.container(el, {**ctx, "quote": True}, depth)
        else:
            self.container(el, ctx, depth)


def _absolute(base: str, href: str) -> str:
    try:
        return urljoin(base, href)
    except ValueError:  # e.g. a malformed IPv6 host
        return href


def html_blocks(html: str | bytes, base_url: str = "") -> list[Block]:
    """The issue's content as blocks in reading order; [] for empty or unparseable HTML.

    Relative link addresses are made absolute against `base_url` (the issue's link).
    """
    root = parse_html(html)
    if root is None:
        return []
    walker = _Walker(base_url)
    walker.container(root, {}, 0)
    return walker.blocks


# An anchor that is itself a web address: the composer links typed addresses on its own.
_ADDRESS = regex.compile(r"(?i)https?://\S+")


def inline_links(links: Iterable[Link], text: str) -> tuple[Link, ...]:
    """The <a>s of a paragraph that keep their address as a link on their words when posted:
    each once, in order, only those whose words are in `text` and are not an address."""
    out: list[Link] = []
    for lk in links:
        if lk.title and lk.title in text and not _ADDRESS.fullmatch(lk.title) and lk not in out:
            out.append(lk)
    return tuple(out)
