"""A feed item's description as a subtitle and its link as an address: read-more lines, cut
markers and cut words dropped; mojibake repaired; relative links resolved, others refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.bluesky.lexicon import post_of
from bot.core.excerpt import cut_to_words, end_cleanly, excerpt, repair, web_address
from bot.core.postcheck import check_post

ITEM = "https://news.example/2024/05/the-item"
WORDS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzàéü", min_size=1, max_size=9),
                 min_size=1, max_size=40).map(" ".join)  # fmt: skip


@pytest.mark.parametrize(
    "html",
    [
        f'<p>The story.</p> <a href="{ITEM}">Continue reading...</a>',
        f'<p>The story.</p><p>The post <a href="{ITEM}">Title</a> appeared first on '
        '<a href="https://news.example">News</a>.</p>',
        f'<p>The story.</p><p><a href="{ITEM}">Lire la publication complète sur News →</a></p>',
        '<p>The story.</p><p><a href="HTTP://NEWS.example/2024/05/the-item">Read more</a></p>',
        '<p>The story.</p><div class="blogger-post-footer">http://feeds.example/x</div>',
    ],
)
def test_trailing_links_back_to_the_item_are_dropped(html):
    """'Continue reading', 'The post … appeared first on', a French read-more: all dropped."""
    assert excerpt(html, ITEM) == "The story."


def test_a_link_elsewhere_is_kept():
    """A last link to another page is the author's words, not a read-more."""
    html = '<p>Read the <a href="https://other.example/report">full report</a></p>'
    assert excerpt(html, ITEM) == "Read the full report"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It has been quite [&#8230;]", "It has been quite…"),
        ("It has been quite […]", "It has been quite…"),
        ("It has been quite [...]", "It has been quite…"),
        # A program's cut (100 characters and more) inside a word: the word goes, and so does a
        # function word before it ("de"); a short text's "..." is the author's.
        ("Programa " * 12 + "O termo de renovaç...", ("Programa " * 12) + "O termo…"),
        ("And then we waited...", "And then we waited…"),
        ("…to create a world. T...", "…to create a world."),
        ("vencer a Estamparia ...", "vencer a Estamparia…"),
        ("3 pontos percentuais em [?]", "3 pontos percentuais…"),
        ("Read on →", "Read on"),
        ("Nothing to cut.", "Nothing to cut."),
    ],
)
def test_cut_excerpts_end_at_their_last_whole_word(text, expected):
    """A cut excerpt ends at its last whole word with '…'; arrows and '[…]' go."""
    assert end_cleanly(excerpt(text) if "&" in text else text) == expected


@given(WORDS, st.sampled_from(["...", "…", " [...]", " […]", " →", " »", ""]))
@settings(max_examples=200)
def test_end_cleanly_keeps_only_whole_words_of_the_text(words, tail):
    """The result is the text's own words (a prefix of them), then at most one '…'."""
    out = end_cleanly(words + tail)
    core = out.removesuffix("…")
    assert words.startswith(core)
    assert core == "" or len(core) == len(words) or words[len(core)] == " "
    assert end_cleanly(out) == out  # cleaning twice changes nothing
    assert not out.endswith(("[…]", "→", "»", "..."))


@given(st.text(max_size=400), st.integers(min_value=0, max_value=400))
@settings(max_examples=200)
def test_cut_to_words_fits_and_is_a_prefix(text, limit):
    """A shortened text fits its limit and is the text's beginning (plus '…')."""
    out = cut_to_words(text, limit)
    assert len(out) <= max(limit, 0) or out == text
    assert text.startswith(out.removesuffix("…"))


@pytest.mark.parametrize(
    ("garbled", "fixed"),
    [("giÃ  fatto", "già fatto"), ("The Mona Lisa doesnâ€™t have eyebrows.",
                                   "The Mona Lisa doesn’t have eyebrows.")],
)  # fmt: skip
def test_mojibake_is_repaired(garbled, fixed):
    """Text decoded with the wrong encoding is repaired (ftfy)."""
    assert repair(garbled) == fixed


@given(st.text())
@settings(max_examples=200)
def test_repair_leaves_good_text_alone(text):
    """Text that is already right (any valid Unicode written as is) comes back unchanged."""
    good = text.encode("utf-8", "ignore").decode("utf-8")
    if repair(good) != good:  # ftfy only changes what decodes better another way
        assert repair(repair(good)) == repair(good)


@pytest.mark.parametrize(
    ("link", "bases", "expected"),
    [
        ("HTTP://Example.ORG/Path?q=A", (), "http://example.org/Path?q=A"),
        ("/relative/link", ("", "https://blog.example/feed/"), "https://blog.example/relative/link"),
        ("../up", ("https://blog.example/a/b/",), "https://blog.example/a/up"),
        ("right", ("https://blog.example/",), None),
        ("1", ("https://blog.example/",), None),
        ("/relative/link", ("", "the feed"), None),
        ("mailto:a@b.example", (), None),
        ("https://[::1", (), None),
        ("", ("https://blog.example/",), None),
    ],
)
def test_links_resolve_against_the_feed_or_are_refused(link, bases, expected):
    """A relative link resolves against the first absolute base; a non-address gives None."""
    assert web_address(link, bases) == expected


def _record(text, facets=()):
    return {"$type": "app.bsky.feed.post", "text": text, "facets": list(facets),
            "createdAt": "2025-01-01T00:00:00Z"}  # fmt: skip


def _link_facet(text, shown, uri):
    start = text.encode().index(shown.encode())
    return {"index": {"byteStart": start, "byteEnd": start + len(shown.encode())},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}]}  # fmt: skip


@pytest.mark.parametrize("text", ["example.org/p/a", "example.org/p/a\n\n2/2"])
def test_a_post_that_is_only_a_link_is_an_error(text):
    """A post whose only words are its link (with or without its number) is refused."""
    facet = _link_facet(text, "example.org/p/a", "https://example.org/p/a")
    found = check_post(post_of(_record(text, [facet])))
    assert [f.level for f in found] == ["error"]
    assert "only a link" in found[0].message


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("A title <p>with markup</p>", "raw HTML"),
        ("Fish &amp; chips", "entity"),
        ("Good story. The post Good story appeared first on News.", "boilerplate"),
        ("It has been quite [&#8230;]", "entity"),
        ("It has been quite […]", "boilerplate"),
    ],
)
def test_feed_leftovers_are_warnings(text, what):
    """Raw HTML, undecoded entities and a feed's boilerplate are shown to the editor."""
    messages = [f.message for f in check_post(post_of(_record(text))) if f.level == "warning"]
    assert any(what in m for m in messages), messages
