"""An Issue becomes the thread(s) its followers read on Bluesky.

Layout (the profile's [thread] table):
  root         title and subtitle, with a card linking to the issue (and hashtags where they fit)
  takeaway     one per takeaway: "LABEL — text"
  follow_up    headline, every paragraph, then the reading links (a card for a single one)
  quick_bite   the same, in this thread ("same") or in a second thread ("separate") whose own
               root carries the issue's card too
  closing      a link to the full issue
Text that does not fit a post continues in the next one (bot.core.text.split); nothing is dropped.
The root's card is the link to the issue; a text link is added only when the root is all there
is (an issue with no sections), so that lone post still names the address. Such an announcement
is always one post: a subtitle too long for it ends at a whole word with "…", and the text link
gives way before a post could be a link alone (the card carries it). An address that is not an
http(s) one gets no card and no link (the PDS would refuse the record).

Pure: no network, no clock; cards fetched by others come in through `cards`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.excerpt import cut_to_words
from bot.core.model import Issue, Item, Link, Takeaway
from bot.core.post import Card, Post, Thread
from bot.core.postcheck import NEAR_BYTES, NEAR_GRAPHEMES, is_web_address
from bot.core.profile import Profile, ThreadLayout
from bot.core.text import (
    MAX_BYTES,
    MAX_GRAPHEMES,
    RichText,
    SplitError,
    fits,
    hashtag,
    join,
    link,
    linked,
    plain,
    short_link,
    split,
)
from bot.errors import ThreadError

# What a field may leave behind when it is empty: a literal of only these is dropped with it.
_SEPARATORS = re.compile(r"[\s—–\-:|•·,;/]*")
_MAX_POSTS = 999  # numbering reserves room for three digits
# An inline link's words longer than this stay plain: a link is never split, and its words
# must leave room in the post for what surrounds them.
_MAX_ANCHOR = 200
_MAX_ANCHOR_BYTES = 2000


@dataclass(frozen=True)
class _Part:
    """One piece of the issue before splitting: its text, kind, and card (on its first or
    last post: the issue's card heads the root, a reading's card ends its item)."""

    text: RichText
    kind: str
    card: Card | None = None
    card_last: bool = False


def compose(
    issue: Issue, profile: Profile, cards: Mapping[str, Card] | None = None
) -> list[Thread]:
    """The thread(s) to post for `issue`: one, or two when quick bites go separately."""
    if not issue.link.strip():
        raise ThreadError(f"issue {issue.title or issue.guid!r} has no link to point the thread at")
    cards = cards or {}
    layout = profile.thread
    tpl = layout.templates
    web = is_web_address(issue.link)
    issue_fields = {
        "title": linked(issue.title),
        "subtitle": linked(issue.subtitle),
        "volume": plain(issue.volume or ""),
        "newsletter": plain(profile.name),
        "link": link(issue.link) if web else RichText(),
    }
    issue_card = (
        cards.get(issue.link)
        or Card(
            uri=issue.link,
            title=issue.title or issue.feed_title or profile.name,
            description=issue.subtitle,
            thumb_url=issue.cover_image,
        )
        if web
        else None
    )
    readings_label = profile.sections.readings[0] if profile.sections.readings else "Reading"

    def item_part(item: Item, kind: str) -> _Part | None:
        return _item(item, kind, tpl[kind], issue_fields, readings_label, cards, layout)

    body: list[_Part] = []
    for t in issue.takeaways:
        body.extend(_only(_takeaway(t, tpl["takeaway"], issue_fields)))
    for item in issue.follow_ups:
        body.extend(_only(item_part(item, "follow_up")))
    bites = [p for item in issue.quick_bites for p in _only(item_part(item, "quick_bite"))]
    separate = layout.quick_bites == "separate"
    if not separate:
        body.extend(bites)

    alone = not body  # the root is the whole thread: it names the address in its text too
    reserve = _reserve(layout.number_format) if layout.numbered else ""
    if alone:
        root_text = _announcement(tpl["root"], issue_fields, issue, web, reserve)
    else:
        root_text = _render(tpl["root"], issue_fields)
    if not root_text and web:
        root_text = link(issue.link)
    if not root_text:
        raise ThreadError(f"issue {issue.link!r} has no title, subtitle or web address to post")
    root_text = _with_hashtags(root_text, layout.hashtags, reserve)
    main = [_Part(root_text, "root", issue_card)] + body
    if body and layout.closing:
        closing = _render(tpl["closing"], issue_fields) or (link(issue.link) if web else None)
        if closing:
            main.append(_Part(closing, "closing"))

    threads = [main]
    if separate and bites:
        qb_root = _render(tpl["quick_bites_root"], issue_fields) or plain(issue.title)
        threads.append([_Part(qb_root, "quick_bites_root", issue_card)] + bites)
    lang = issue.language or profile.language
    return [_posts(parts, issue, lang, layout.numbered, layout.number_format) for parts in threads]


def _announcement(
    template: str, fields: Mapping[str, RichText], issue: Issue, web: bool, reserve: str
) -> RichText:
    """The root of an issue that is only announced: one post, whatever the subtitle's length.
    The subtitle is shortened to its last whole word that fits; when even the title and the
    address do not fit together, the address gives way to the card that carries it."""
    def build(subtitle: str, with_link: bool) -> RichText:
        f = dict(fields, subtitle=linked(subtitle))
        if not with_link:
            f["link"] = RichText()
        text = _render(template, f)
        if with_link and "{link}" not in template:
            text = join([text, link(issue.link)], "\n\n")
        return text

    def ok(rt: RichText) -> bool:
        # Kept below the post checks' "near the limit" line: a cut subtitle has room to spare.
        return fits(rt.text + reserve, NEAR_GRAPHEMES - 1, NEAR_BYTES - 1)

    for with_link in ((True, False) if web else (False,)):
        if ok(build(issue.subtitle, with_link)):
            return build(issue.subtitle, with_link)
        if not ok(build("", with_link)):
            continue
        lo, hi = 0, len(issue.subtitle)  # the longest cut that fits: binary search on length
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if ok(build(cut_to_words(issue.subtitle, mid), with_link)):
                lo = mid
            else:
                hi = mid - 1
        return build(cut_to_words(issue.subtitle, lo), with_link)
    return build(issue.subtitle, False)  # a title too long for any post: split as it is


def _only(part: _Part | None) -> list[_Part]:
    return [part] if part is not None else []


def _takeaway(t: Takeaway, template: str, issue_fields: Mapping[str, RichText]) -> _Part | None:
    fields = dict(issue_fields, label=plain(t.label), text=_with_anchors(t.text, t.links))
    text = _render(template, fields, body="text")
    return _Part(text, "takeaway") if text else None


def _item(
    item: Item,
    kind: str,
    template: str,
    issue_fields: Mapping[str, RichText],
    readings_label: str,
    cards: Mapping[str, Card],
    layout: ThreadLayout,
) -> _Part | None:
    inline = item.paragraph_links
    gist = join(
        [
            _with_anchors(p, inline[i] if i < len(inline) else ())
            for i, p in enumerate(item.paragraphs)
        ],
        "\n\n",
    )
    fields = dict(issue_fields, headline=linked(item.headline), gist=gist)
    text = _render(template, fields, body="gist")
    if "{gist}" not in template:  # a profile without {gist} must not lose the paragraphs
        text = join([text, gist], "\n\n")
    links = [lk for lk in item.links if is_web_address(lk.url.strip())]
    card = None
    if len(links) == 1 and layout.cards_for_readings:
        lk = links[0]
        card = cards.get(lk.url) or Card(uri=lk.url, title=lk.title or short_link(lk.url))
    elif links:
        text = join([text, _readings(links, readings_label)], "\n\n")
    if not text:
        if card is None:
            return None
        text = plain(card.title)
    return _Part(text, kind, card, card_last=True)


def _with_anchors(text: str, links: Sequence[Link]) -> RichText:
    """`text` with typed addresses as short links and each inline link (the newsletter's <a>)
    as a link on its own words: the first free occurrence of its anchor, in order, so the
    follower reads the author's words and the facet holds the full address."""
    rt = linked(text)
    cursor = 0
    for lk in links:
        anchor, url = lk.title, lk.url.strip()
        if not is_web_address(url):
            continue  # not an address the app can open: the words stay plain
        if not anchor.strip() or not fits(anchor, _MAX_ANCHOR, _MAX_ANCHOR_BYTES):
            continue  # too long to sit whole in a post with its neighbours: left as plain words
        taken = _atomic_ranges(rt)
        at = _find_anchor(rt.text, anchor, cursor, taken)
        if at is None:
            continue
        end = at + len(anchor)
        rt = rt.slice(0, at) + link(url, visible=anchor) + rt.slice(end, len(rt.text))
        cursor = end
    return rt


def _atomic_ranges(rt: RichText) -> list[tuple[int, int]]:
    """Where the links and hashtags already in `rt` sit (character offsets)."""
    out, pos = [], 0
    for s in rt.spans:
        if s.atomic:
            out.append((pos, pos + len(s.text)))
        pos += len(s.text)
    return out


def _find_anchor(
    text: str, anchor: str, cursor: int, taken: Sequence[tuple[int, int]]
) -> int | None:
    """Where to put a link on `anchor`: its first occurrence after `cursor` (then anywhere)
    that overlaps no other link, preferring one that is whole words ("war" not in "toward")."""
    hits = [m.start() for m in re.finditer(re.escape(anchor), text)]
    free = [
        i for i in hits if not any(i < b and a < i + len(anchor) for a, b in taken)
    ]

    def whole(i: int) -> bool:
        j = i + len(anchor)
        before = i == 0 or not (text[i - 1].isalnum() and anchor[0].isalnum())
        after = j == len(text) or not (text[j].isalnum() and anchor[-1].isalnum())
        return before and after

    for candidates in (
        [i for i in free if i >= cursor and whole(i)],
        [i for i in free if whole(i)],
        [i for i in free if i >= cursor],
        free,
    ):
        if candidates:
            return candidates[0]
    return None


def _readings(links: Sequence[Link], label: str) -> RichText:
    """"Additional Reading(s):" then one line per reading: its title, then its short link.
    A title stays with its link, and the label with the first reading."""
    lines = []
    for lk in links:
        title = lk.title.strip()
        lines.append(plain(f"• {title} " if title else "• ", keep=True) + link(lk.url))
    return plain(label.rstrip(":") + ":\n", keep=True) + join(lines, "\n")


def _render(template: str, fields: Mapping[str, RichText], body: str | None = None) -> RichText:
    """Fill a template. An empty field takes its separator with it (no dangling " — " or
    blank line). Text before the `body` field is kept with the body's first words."""
    items: list[str | tuple[str, RichText]] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            items.append(literal)
        if name is not None:
            items.append((name, fields.get(name, RichText())))

    def content(i: int) -> bool:
        it = items[i]
        return bool(it.strip()) if isinstance(it, str) else bool(it[1])

    for i, it in enumerate(items):
        if isinstance(it, str) or it[1]:
            continue
        before = any(content(k) for k in range(i - 1))
        left = items[i - 1] if i > 0 else None
        right = items[i + 1] if i + 1 < len(items) else None
        if before and isinstance(left, str) and _only_separators(left):
            items[i - 1] = ""
        elif isinstance(right, str) and _only_separators(right):
            items[i + 1] = ""

    out = RichText()
    keeping = body is not None and any(not isinstance(it, str) and it[0] == body for it in items)
    for it in items:
        if isinstance(it, str):
            out = out + plain(re.sub(r"[ \t]+\n", "\n", it), keep=keeping)
        elif it[0] == body:
            keeping = False
            out = out + it[1]
        elif keeping:
            out = out + RichText(tuple(
                s if s.atomic else type(s)(s.text, keep=True) for s in it[1].spans
            ))
        else:
            out = out + it[1]
    return _tidy(out)


def _only_separators(s: str) -> bool:
    return _SEPARATORS.fullmatch(s) is not None


def _tidy(rt: RichText) -> RichText:
    """Strip the ends and never leave more than one blank line in a row."""
    spans = tuple(
        s if s.atomic else type(s)(re.sub(r"\n{3,}", "\n\n", s.text), keep=s.keep) for s in rt.spans
    )
    return RichText(spans).strip() if spans else rt


def _reserve(number_format: str) -> str:
    return "\n\n" + number_format.format(n=_MAX_POSTS, total=_MAX_POSTS)


def _with_hashtags(root: RichText, tags: Sequence[str], reserve: str) -> RichText:
    """Add the profile's hashtags to the root on a line of their own, as many as fit."""
    chosen: list[RichText] = []
    for tag in tags:
        line = join(chosen + [hashtag(tag)], " ")
        if fits(join([root, line], "\n\n").text + reserve, MAX_GRAPHEMES, MAX_BYTES):
            chosen.append(hashtag(tag))
    return join([root, join(chosen, " ")], "\n\n") if chosen else root


# The most text a thread can hold, in characters: 999 posts of 300 graphemes, with room for
# graphemes of several characters (accents, emoji). Checked by length before anything is split:
# splitting costs time and memory by the character, and a 9 MB paragraph took minutes and GBs
# to be refused by the post count.
MAX_THREAD_CHARS = 2 * _MAX_POSTS * MAX_GRAPHEMES


def _bounded(parts: Sequence[_Part], issue: Issue) -> None:
    """ThreadError, at once, when the parts' text could never fit in one thread."""
    sizes = [len(part.text.text) for part in parts]
    if sum(sizes) > MAX_THREAD_CHARS:
        worst = max(range(len(parts)), key=sizes.__getitem__)
        raise ThreadError(
            f"{issue.link}: {sum(sizes):,} characters of text, more than a thread of "
            f"{_MAX_POSTS} posts can hold ({MAX_THREAD_CHARS:,}); the longest part is a "
            f"{parts[worst].kind.replace('_', ' ')} of {sizes[worst]:,} characters"
        )


def _posts(
    parts: Sequence[_Part], issue: Issue, lang: str, numbered: bool, number_format: str
) -> Thread:
    reserve = _reserve(number_format) if numbered else ""
    _bounded(parts, issue)
    pieces: list[tuple[RichText, str, Card | None]] = []
    for part in parts:
        try:
            chunks = split(part.text, MAX_GRAPHEMES, MAX_BYTES, reserve)
        except SplitError as exc:
            raise ThreadError(
                f"{issue.link}: the {part.kind.replace('_', ' ')} starting at post "
                f"{len(pieces) + 1} cannot be split into posts: {exc}"
            ) from exc
        for k, chunk in enumerate(chunks):
            on_this = k == (len(chunks) - 1 if part.card_last else 0)
            pieces.append((chunk, part.kind, part.card if on_this else None))
    total = len(pieces)
    if total > _MAX_POSTS:
        raise ThreadError(
            f"{issue.link}: the thread would have {total} posts (at most {_MAX_POSTS})"
        )
    posts: list[Post] = []
    for n, (chunk, kind, card) in enumerate(pieces, start=1):
        text = chunk.text
        if numbered:
            text += "\n\n" + number_format.format(n=n, total=total)
        if not text.strip() or not fits(text):
            raise ThreadError(
                f"{issue.link}: post {n} of {total} ({kind}) is empty or over 300 graphemes / "
                "3000 bytes; check the profile's templates"
            )
        posts.append(Post(text=text, facets=chunk.facets(), langs=(lang,), card=card, kind=kind))
    return tuple(posts)
