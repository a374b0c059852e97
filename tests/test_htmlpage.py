"""The HTML preview page (bot.html.page): pure tests on the HTML string, no browser."""

from __future__ import annotations

import base64
import html
import json
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from conftest import BWR_FEED
from hypothesis import given
from hypothesis import strategies as st

from bot.bluesky.lexicon import post_of
from bot.cli.app import cli
from bot.cli.preview import sections_from_preview
from bot.core.media import Thumb
from bot.core.post import Card, Post
from bot.core.postcheck import check_post
from bot.html import page as html_page
from bot.html.page import PageSection, render_page

LINK = "app.bsky.richtext.facet#link"
TAG = "app.bsky.richtext.facet#tag"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
ENTRY = {"guid": "g-1", "link": "https://aablanco.substack.com/p/bwr-28", "title": "BWR No 28"}


def facet(text: str, part: str, feature: dict) -> dict:
    """A facet over the first occurrence of `part` in `text`, by UTF-8 bytes."""
    data, needle = text.encode(), part.encode()
    start = data.index(needle)
    return {"index": {"byteStart": start, "byteEnd": start + len(needle)}, "features": [feature]}


def page_for(*records: dict | Post, thumbs=None, entry=ENTRY) -> str:
    """The page of one thread of these posts (a record dict is read as the page's caller reads
    one: bot.bluesky.lexicon)."""
    section = PageSection(entry=entry,
                          threads=[[r if isinstance(r, Post) else post_of(r) for r in records]])
    return render_page([section], account_name="BWR", handle="bwr.test", thumbs=thumbs)


def check_record(record: dict) -> list:
    return check_post(post_of(record))


def render_text(text: str, facets: list[dict]) -> str:
    """The page's drawing of `text` with these facets, given as a record gives them."""
    return html_page.render_text(text, post_of({"text": text, "facets": facets}).facets)


class Elements(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def with_class(self, *names: str) -> list[dict[str, str | None]]:
        return [a for _, a in self.tags if set(names) <= set((a.get("class") or "").split())]


def findings(page: str, level: str) -> list[str]:
    """The text of each finding of one level, in page order."""
    parser = _FindingText(level)
    parser.feed(page)
    return parser.found


class _FindingText(HTMLParser):
    def __init__(self, level: str) -> None:
        super().__init__(convert_charrefs=True)
        self.level, self.found, self.depth = level, [], 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "li" and {"finding", self.level} <= set(classes):
            self.depth = 1
            self.found.append("")
        elif self.depth:
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.found[-1] += data


class TestEscaping:
    def test_script_in_a_post_shows_as_text(self):
        """A post containing <script> shows those characters; the page has no script element."""
        page = page_for(Post(text='Say <script>alert("x")</script> & go'))
        assert "<script" not in page.lower()
        assert "Say &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; go" in page

    def test_hostile_link_address_stays_one_attribute(self):
        """A link whose address holds quotes and brackets is one intact href, not new markup."""
        uri = 'https://example.com/?q="><img src=x onerror=alert(1)>'
        text = "read example.com/?q=…"
        page = page_for({"text": text, "facets": [facet(text, "example.com/?q=…", {
            "$type": LINK, "uri": uri})]})
        links = Elements(page).with_class("facet", "link")
        assert [a["href"] for a in links] == [uri]
        assert [t for t, _ in Elements(page).tags].count("img") == 0

    def test_non_web_link_is_not_clickable(self):
        """A javascript: link facet is shown highlighted in red, with no href, and a warning."""
        text = "click here"
        page = page_for({"text": text, "facets": [facet(text, "here", {
            "$type": LINK, "uri": "javascript:alert(1)"})]})
        assert "javascript:" not in " ".join(str(a.get("href")) for _, a in Elements(page).tags)
        assert len(Elements(page).with_class("facet", "dead")) == 1
        assert findings(page, "warning") == [
            "warning facet 1 (bytes 6–10) links to 'javascript:alert(1)', not a web address"
        ]

    def test_titles_and_handle_are_escaped(self):
        """Issue title, account name and card text with markup are shown literally."""
        post = Post(text="x", card=Card(uri="https://e.com/a", title="<i>T</i>",
                                        description="<b>D</b>"))
        section = PageSection(entry={**ENTRY, "title": "<h1>Issue</h1>"},
                              threads=[[post]])
        page = render_page([section], account_name="<b>Me</b>", handle="@me<x>.test")
        for shown in ("&lt;h1&gt;Issue&lt;/h1&gt;", "&lt;i&gt;T&lt;/i&gt;", "&lt;b&gt;D&lt;/b&gt;",
                      "&lt;b&gt;Me&lt;/b&gt;", "@me&lt;x&gt;.test"):
            assert shown in page
        assert [t for t, _ in Elements(page).tags].count("i") == 0


class TestFacets:
    def test_link_and_tag_highlighted_on_exact_bytes_with_cyrillic_and_emoji(self):
        """Links and hashtags after Cyrillic and emoji are highlighted on exactly their text."""
        text = "Привет 👨‍👩‍👧 читайте aablanco.substack.com/p/bwr… #Россия!"
        facets = [
            facet(text, "aablanco.substack.com/p/bwr…",
                  {"$type": LINK, "uri": "https://aablanco.substack.com/p/bwr-28"}),
            facet(text, "#Россия", {"$type": TAG, "tag": "Россия"}),
        ]
        assert render_text(text, facets) == (
            "Привет 👨‍👩‍👧 читайте "
            '<a class="facet link" href="https://aablanco.substack.com/p/bwr-28" '
            'target="_blank" rel="noopener noreferrer">aablanco.substack.com/p/bwr…</a> '
            '<span class="facet tag" title="#Россия">#Россия</span>!'
        )

    def test_facet_cutting_a_character_is_an_error_and_not_drawn(self):
        """A facet ending inside a Cyrillic letter is reported and the text is shown plain."""
        text = "Привет мир"
        bad = {"index": {"byteStart": 0, "byteEnd": 3}, "features": [{"$type": TAG, "tag": "x"}]}
        page = page_for({"text": text, "facets": [bad]})
        assert findings(page, "error") == ["error facet 1 (bytes 0–3) cuts a character in half"]
        assert render_text(text, [bad]) == "Привет мир"

    @pytest.mark.parametrize(
        ("start", "end"), [(5, 12), (-1, 2), (3, 3), (4, 2)], ids=["past-end", "negative",
                                                                   "empty", "reversed"]
    )
    def test_facet_outside_the_text_is_an_error(self, start, end):
        """A facet whose byte range is not inside the text is an error."""
        rec = {"text": "hello", "facets": [{"index": {"byteStart": start, "byteEnd": end},
                                            "features": [{"$type": TAG, "tag": "x"}]}]}
        assert [f.message for f in check_record(rec)] == [
            f"facet 1 (bytes {start}–{end}) is outside the text (5 bytes)"
        ]
        assert render_text("hello", rec["facets"]) == "hello"

    @given(
        text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60),
        cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
    )
    def test_rendered_text_is_the_posted_text(self, text, cuts):
        """Whatever the facets, the page shows every character of the post exactly once."""
        data = text.encode()
        # Facets between character starts, so each is valid; some overlap, which must not
        # duplicate or lose text.
        bounds = sorted({len(text[:i].encode()) for i in cuts if i <= len(text)} | {len(data)})
        facets = [
            {"index": {"byteStart": a, "byteEnd": b}, "features": [{"$type": TAG, "tag": "t"}]}
            for a, b in zip(bounds, bounds[1:], strict=False)
        ] + [{"index": {"byteStart": 0, "byteEnd": len(data)}, "features": []}]
        shown = render_text(text, facets)
        assert html.unescape(_strip_tags(shown)) == text


def _strip_tags(markup: str) -> str:
    out, inside = [], False
    for ch in markup:
        if ch == "<":
            inside = True
        elif ch == ">" and inside:
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


FAMILY = "👨‍👩‍👧‍👦"  # one grapheme, 25 UTF-8 bytes


class TestLimits:
    @pytest.mark.parametrize(
        ("text", "errors", "warnings"),
        [
            ("a" * 279, [], []),
            ("a" * 280, [], ["warning 280 graphemes, near the limit of 300"]),
            ("a" * 300, [], ["warning 300 graphemes, near the limit of 300"]),
            ("a" * 301, ["error 301 graphemes, over the limit of 300"], []),
            (FAMILY * 112, [], ["warning 2,800 bytes, near the limit of 3,000"]),
            (FAMILY * 121, ["error 3,025 bytes, over the limit of 3,000"], []),
        ],
        ids=["279", "280", "300", "301", "2800-bytes", "3025-bytes"],
    )
    def test_length_findings(self, text, errors, warnings):
        """Over 300 graphemes or 3000 bytes is an error; from 280 graphemes/2800 bytes a warning."""
        page = page_for({"text": text})
        assert findings(page, "error") == errors
        assert findings(page, "warning") == warnings

    def test_counts_are_graphemes_and_bytes(self):
        """Each post shows its grapheme count (a ZWJ family is one) and its UTF-8 byte count."""
        page = page_for({"text": "Да " + FAMILY})
        (post,) = Elements(page).with_class("post")
        assert (post["data-graphemes"], post["data-bytes"]) == ("4", "30")
        assert "4/300 graphemes" in page and "30/3,000 bytes" in page

    def test_empty_post_is_an_error(self):
        """A post with no text and no card is an error; with only a card, a warning."""
        assert findings(page_for({"text": "  "}), "error") == [
            "error empty post: no text and no card"]
        card_only = Post(text="", card=Card(uri="https://e.com/x", title="T"))
        assert findings(page_for(card_only, thumbs={"https://e.com/x": Thumb(PNG, "image/png")}),
                        "warning") == ["warning the post has no text, only a card"]


class TestCards:
    def test_card_with_thumb_is_inlined(self):
        """A card's thumbnail is a data: URI; title, description and domain are shown."""
        post = Post(text="x", card=Card(uri="https://www.example.com/story", title="Story",
                                        description="What happened"))
        thumb = Thumb(PNG, "image/png")
        page = page_for(post, thumbs={"https://www.example.com/story": thumb})
        els = Elements(page)
        (img,) = [a for t, a in els.tags if t == "img"]
        assert img["src"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
        (card,) = els.with_class("card")
        assert card["href"] == "https://www.example.com/story"
        assert '<div class="card-domain">example.com</div>' in page
        assert findings(page, "warning") == [] and findings(page, "error") == []

    def test_card_without_thumb_has_placeholder_and_warning(self):
        """A card with no thumbnail shows a placeholder box and a warning."""
        post = Post(text="x", card=Card(uri="https://example.com/a", title="A"))
        page = page_for(post)
        assert len(Elements(page).with_class("thumb", "placeholder")) == 1
        assert findings(page, "warning") == ["warning card has no thumbnail"]

    def test_oversized_or_non_image_thumb_is_an_error(self):
        """A thumbnail over 1,000,000 bytes, or not an image, is an error."""
        post = Post(text="x", card=Card(uri="https://example.com/a", title="A"))
        huge = Thumb(b"0" * 1_000_001, "image/jpeg")
        big = page_for(post, thumbs={"https://example.com/a": huge})
        assert findings(big, "error") == [
            "error card thumbnail is 1,000,001 bytes (limit 1,000,000)"]
        html_thumb = page_for(post, thumbs={"https://example.com/a": Thumb(b"<p>", "text/html")})
        assert findings(html_thumb, "error") == [
            "error card thumbnail is 'text/html', not an image"]
        assert "text/html" not in " ".join(str(a.get("src")) for _, a in Elements(html_thumb).tags)


class TestPage:
    def test_self_contained(self):
        """No external scripts, styles or images: only post links and card links go out."""
        text = "see example.com/x #tag"
        post = Post(text=text, card=Card(uri="http://cards.example/c", title="C"),
                    facets=post_of({"text": text, "facets": [facet(text, "example.com/x", {
                        "$type": LINK, "uri": "https://example.com/x"}), facet(text, "#tag", {
                            "$type": TAG, "tag": "tag"})]}).facets)
        page = page_for(post, thumbs={"http://cards.example/c": Thumb(PNG, "image/png")})
        els = Elements(page)
        tags = [t for t, _ in els.tags]
        assert "script" not in tags and "link" not in tags and "iframe" not in tags
        srcs = [a["src"] for _, a in els.tags if "src" in a]
        assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
        hrefs = [a["href"] for _, a in els.tags if "href" in a]
        assert hrefs == [ENTRY["link"], "https://example.com/x", "http://cards.example/c"]
        assert "url(" not in page and "@import" not in page
        (csp,) = [a for t, a in els.tags if a.get("http-equiv") == "Content-Security-Policy"]
        assert csp["content"] == "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

    def test_one_section_per_issue_and_every_post(self):
        """Two issues give two sections with their titles; every record becomes one post."""
        data = [
            {"entry": {**ENTRY, "title": "First"}, "threads": [[{"text": "a"}, {"text": "b"}]]},
            {"entry": {"guid": "2", "link": "https://e.com/2", "title": "Second"},
             "threads": [[{"text": "c"}], [{"text": "d"}]]},
        ]
        sections = sections_from_preview(json.loads(json.dumps(data)))
        page = render_page(sections, account_name="BWR", handle="bwr.test")
        els = Elements(page)
        assert len(els.with_class("issue")) == 2
        assert len(els.with_class("thread")) == 3
        assert [a["data-post"] for a in els.with_class("post")] == ["1", "2", "1", "1"]
        assert '<a class="issue-link" href="https://e.com/2"' in page
        assert "4 posts" in page and "3 threads" in page and "2 issues" in page

    def test_thread_line_ends_at_the_last_post(self):
        """Every post but the last of its thread has the joining line drawn."""
        page = page_for({"text": "a"}, {"text": "b"}, {"text": "c"})
        posts = Elements(page).with_class("post")
        assert ["last" in (p["class"] or "").split() for p in posts] == [False, False, True]
        assert len(Elements(page).with_class("thread-line")) == 3

    def test_verdict_counts_problems(self):
        """The header says how many errors there are and that Bluesky would refuse them."""
        page = page_for({"text": "a" * 301}, {"text": ""})
        (verdict,) = Elements(page).with_class("verdict")
        assert (verdict["data-errors"], verdict["data-warnings"]) == ("2", "0")
        assert "2 errors — Bluesky would refuse this" in page


class TestPreviewCommand:
    def test_html_page_is_built_from_the_posted_records(self, tmp_path, profile):
        """`preview --html` writes the page made from exactly the records `--json` prints."""
        out = tmp_path / "preview.html"
        result = CliRunner().invoke(
            cli,
            ["preview", "--offline", "--feed", str(BWR_FEED), "--latest", "--json", "--html",
             str(out)],
            env={"BSKY_HANDLE": None, "BSKY_APP_PASSWORD": None},
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        page = out.read_text(encoding="utf-8")
        assert page == render_page(sections_from_preview(data), account_name=profile.name,
                                   handle="")
        records = [r for element in data for thread in element["threads"] for r in thread]
        assert len(Elements(page).with_class("post")) == len(records) > 1
        assert len(Elements(page).with_class("card")) == sum("embed" in r for r in records)
        assert f"Wrote {out}" in result.stderr
