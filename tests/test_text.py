"""Measuring, short links, facets and splitting, as Bluesky counts them."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.bluesky.lexicon import facet_dict
from bot.core.post import Link, Tag
from bot.core.text import (
    MAX_BYTES,
    MAX_GRAPHEMES,
    RichText,
    SplitError,
    graphemes,
    hashtag,
    link,
    linked,
    plain,
    short_link,
    split,
    utf8_len,
)

FAMILY = "👨\u200d👩\u200d👧\u200d👦"
FLAGS = "🇺🇦🇷🇺🇬🇪"
THUMB = "👍🏽"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (FAMILY, 1),
        (FLAGS, 3),
        (THUMB, 1),
        ("e\u0301te\u0301", 3),
        ("\r\n", 1),
        ("Привет", 6),
        ("日本語", 3),
        ("1\ufe0f\u20e3", 1),
        ("क्षि", 1),  # Unicode 15.1 conjunct rule, as Intl.Segmenter
        ("", 0),
    ],
)
def test_graphemes_count_like_the_pds(text, count):
    """Emoji families, flags, skin tones, keycaps and combining marks count as Bluesky counts."""
    assert graphemes(text) == count


def test_utf8_len_counts_bytes():
    """Byte length is UTF-8 bytes, not characters."""
    assert utf8_len("aé€😀") == 1 + 2 + 3 + 4


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bsky.app/", "bsky.app"),
        ("https://example.com", "example.com"),
        ("https://example.com/abc", "example.com/abc"),
        ("https://example.com/12345678901234", "example.com/12345678901234"),
        ("https://example.com/123456789012345", "example.com/123456789012..."),
        ("https://example.com/1234567890123456", "example.com/123456789012..."),
        ("https://iz.ru/1914000/2025-07-03/pravo-veto", "iz.ru/1914000/2025..."),
        (
            "https://www.theguardian.com/world/2025/jul/03/russian-deputy",
            "www.theguardian.com/world/2025/j...",
        ),
        ("https://Example.COM/a?b=1#c", "example.com/a?b=1#c"),
        ("http://example.com:8080/x", "example.com:8080/x"),
        ("https://example.com:443/x", "example.com/x"),
        ("https://example.com/путь", "example.com/%D0%BF%D1%83..."),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("not a url", "not a url"),
    ],
)
def test_short_link_matches_the_app(url, shown):
    """Links read as Bluesky's app writes them: host, 13 chars of a long path, then '...'."""
    assert short_link(url) == shown


def _facet_texts(rt: RichText) -> list[tuple[str, str]]:
    raw = rt.text.encode("utf-8")
    out = []
    for f in rt.facets():
        shown = raw[f.start : f.end].decode("utf-8")
        feat = f.features[0]
        out.append((shown, feat.uri if isinstance(feat, Link) else feat.tag))
    return out


def test_facets_use_utf8_byte_offsets_after_emoji_and_cyrillic():
    """A link after emoji, flags and Cyrillic is clickable exactly on its visible text."""
    rt = plain(f"{FAMILY} {FLAGS} Привет ") + link("https://example.com/x")
    rt = rt + " " + hashtag("Россия")
    facets = rt.facets()
    start = utf8_len(f"{FAMILY} {FLAGS} Привет ")
    assert (facets[0].start, facets[0].end) == (start, start + len("example.com/x"))
    assert facets[0].features == (Link("https://example.com/x"),)
    assert facets[1].features == (Tag("Россия"),)
    # As the lexicon writes them (bot.bluesky.lexicon): UTF-8 byte offsets and typed features.
    assert facet_dict(facets[1])["features"] == [
        {"$type": "app.bsky.richtext.facet#tag", "tag": "Россия"}]
    assert _facet_texts(rt) == [("example.com/x", "https://example.com/x"), ("#Россия", "Россия")]


def test_text_that_fits_is_one_piece():
    """A short text is posted as it is, trimmed."""
    assert [p.text for p in split(plain("  Hello world.  "))] == ["Hello world."]


def test_empty_text_gives_no_post():
    """Whitespace alone never becomes an (empty) post."""
    assert split(plain(" \n\n ")) == []


def test_split_prefers_paragraphs_then_sentences_then_words():
    """Paragraphs are kept whole when they fit; a long one breaks after a sentence."""
    a = "Alpha " * 10 + "end."
    b = "Beta one is here. " + "Gamma " * 12 + "end."
    text = plain(a + "\n\n" + b)
    pieces = [p.text for p in split(text, max_graphemes=80)]
    assert pieces == [a, "Beta one is here.", "Gamma " * 12 + "end."]


def test_a_sentence_too_long_for_a_post_is_cut_after_its_semicolon_not_mid_clause():
    """A takeaway of one long sentence: the first post ends at its clause ('…; '), not at
    whatever word the limit fell on."""
    first = ("Azerbaijan has found a formula for escaping the Russian orbit of influence by "
             "balancing Turkey, Israel and the West against Moscow;")
    rest = "other near-abroad states may try it too, but few have the oil and gas that paid for it"
    pieces = [p.text for p in split(plain(f"{first} {rest}"), max_graphemes=len(first) + 40)]
    assert pieces == [first, rest]


def test_a_colon_or_dash_early_in_the_post_is_not_where_it_is_cut():
    """'Follow-up: …' is not cut after its label: a clause break in the first half of what fits
    counts as a word break."""
    text = "Follow-up: " + "word " * 30 + "end"
    pieces = [p.text for p in split(plain(text), max_graphemes=80)]
    assert pieces[0].startswith("Follow-up: word word") and len(pieces[0]) > 60


@given(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=8), min_size=30, max_size=80),
       st.integers(min_value=0, max_value=29), st.sampled_from([";", ":", " —"]))
def test_split_prefers_a_late_clause_boundary_to_a_bare_word_boundary(words, at, mark):
    """Whatever the words, when a clause mark sits in the second half of the first post's room
    and no sentence ends before it, the first post ends right after that mark."""
    words = list(words)
    words[at] += mark
    text = " ".join(words)
    budget = 100
    assume(len(text) > budget)
    end = len(" ".join(words[: at + 1]))  # where the mark ends
    pieces = [p.text for p in split(plain(text), max_graphemes=budget)]
    if budget // 2 <= end <= budget:
        assert pieces[0] == " ".join(words[: at + 1])
    assert " ".join(pieces) == text  # split, never cut


def test_abbreviation_is_not_a_sentence_end():
    """'Mr. Rogers' is not split after 'Mr.' when a real sentence end is available."""
    text = plain("He met Mr. Rogers there. Then he left the neighborhood for good.")
    pieces = [p.text for p in split(text, max_graphemes=40)]
    assert pieces == ["He met Mr. Rogers there.", "Then he left the neighborhood for good."]


def test_monstrous_word_splits_between_graphemes():
    """A word longer than a post splits between graphemes, never inside a flag or family."""
    word = (FAMILY + "🇺🇦" + "é") * 60
    pieces = split(plain(word), max_graphemes=50)
    assert [p.graphemes for p in pieces] == [50, 50, 50, 30]
    assert "".join(p.text for p in pieces) == word


def test_link_is_never_split_and_stays_clickable():
    """A link at the split point moves whole to the next post with its facet."""
    url = "https://example.com/a/very/long/path/of/the/reading"
    rt = plain("word " * 17) + link(url) + " after"
    pieces = split(rt, max_graphemes=100)
    assert [p.text for p in pieces] == [("word " * 17).strip(), "example.com/a/very/long/... after"]
    assert _facet_texts(pieces[1]) == [("example.com/a/very/long/...", url)]


def test_keep_text_stays_with_what_follows():
    """A heading marked keep is not left alone at the end of a post."""
    rt = plain("Heading here\n\n", keep=True) + ("Body sentence number one. " * 6).strip()
    pieces = split(rt, max_graphemes=60)
    assert pieces[0].text.startswith("Heading here\n\nBody sentence")
    assert all(p.graphemes <= 60 for p in pieces)


def test_keep_text_breaks_at_a_space_before_a_word_is_cut():
    """When the kept heading and a long first word cannot share a post, the break falls after
    the heading, never inside the word."""
    word = "x" * 40
    rt = plain("Quick bite: a headline\n\n", keep=True) + f"{word} end"
    pieces = split(rt, max_graphemes=50)
    assert [p.text for p in pieces] == ["Quick bite: a headline", f"{word} end"]


def test_reserve_leaves_room_for_numbering():
    """Room asked for the post number is left free in every piece."""
    rt = plain("word " * 200)
    pieces = split(rt, reserve="\n\n999/999")
    assert len(pieces) == 4
    assert all(p.graphemes + graphemes("\n\n999/999") <= MAX_GRAPHEMES for p in pieces)


def test_byte_limit_splits_before_grapheme_limit():
    """Text of 4-byte graphemes is split by the 3000-byte limit too."""
    rt = plain("😀" * 900)
    pieces = split(rt, max_graphemes=1000)
    assert [utf8_len(p.text) for p in pieces] == [3000, 600]


def test_link_longer_than_a_post_is_an_error():
    """A link whose visible text cannot fit any post is reported, not cut."""
    with pytest.raises(SplitError):
        split(plain("see ") + link("https://x.example/", visible="x" * 301))


# --- properties over random text ------------------------------------------------------------

TOKENS = [
    "word", "the", "Kremlin", "Привет", "мир", "日本語です。", "한국어", "€20", FAMILY, FLAGS,
    THUMB, "e\u0301", "а\u0308", "क्षि", "1\ufe0f\u20e3", "x" * 120, "Mr.", "end.", "why?",
    "“quoted.”", "—", " ", " ", " ", "  ", "\n", "\n\n", "\n\n\n", ". ", "\t",
]
URLS = st.sampled_from([
    "https://example.com/",
    "https://www.theguardian.com/world/2025/jul/03/russian-deputy-navy-commander",
    "https://iz.ru/1914000/2025-07-03/pravo-veto-slovakiia",
    "https://пример.рф/путь/к/статье",
    "https://example.com/" + "a" * 2000,
])
SEGMENTS = st.one_of(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=40).map(lambda ts: plain("".join(ts))),
    st.text(min_size=1, max_size=80).map(plain),
    URLS.map(link),
    st.sampled_from(["Russia", "Eurasia", "Россия", "日本"]).map(hashtag),
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8).map(
        lambda ts: plain("".join(ts), keep=True)
    ),
)
RICH = st.lists(SEGMENTS, min_size=1, max_size=30).map(
    lambda segs: sum(segs[1:], segs[0]) if segs else RichText()
)


def _check_pieces(rt: RichText, pieces: list[RichText], max_g: int, reserve: str) -> None:
    text = rt.text
    pos = 0
    for p in pieces:
        assert p.text.strip() == p.text and p.text != ""
        assert graphemes(p.text + reserve) <= max_g
        assert utf8_len(p.text + reserve) <= MAX_BYTES
        # In order, with only whitespace removed between pieces.
        at = text.find(p.text, pos)
        assert at >= 0 and text[pos:at].strip() == ""
        pos = at + len(p.text)
        size = utf8_len(p.text)
        for f in p.facets():
            assert 0 <= f.start < f.end <= size
    assert text[pos:].strip() == ""
    # Every link and tag survives whole, clickable on its own visible text, in order.
    assert [t for p in pieces for t in _facet_texts(p)] == _facet_texts(rt)


@settings(max_examples=150, deadline=None)
@given(RICH, st.integers(min_value=80, max_value=MAX_GRAPHEMES), st.sampled_from(["", "\n\n9/9"]))
def test_split_never_loses_reorders_or_overflows(rt, max_g, reserve):
    """Any text splits into non-empty posts within both limits, nothing lost or reordered,
    every facet on its link."""
    pieces = split(rt, max_graphemes=max_g, reserve=reserve)
    _check_pieces(rt, pieces, max_g, reserve)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["😀", "€", "Ж", "a", " ", FAMILY]), min_size=1, max_size=4000))
def test_split_respects_the_byte_limit(chars):
    """Text of multi-byte characters never exceeds 3000 bytes a post."""
    rt = plain("".join(chars))
    _check_pieces(rt, split(rt, max_graphemes=MAX_GRAPHEMES * 10), MAX_GRAPHEMES * 10, "")


@pytest.mark.parametrize(
    ("text", "shown", "links"),
    [
        ("see https://x.org/a.", "see x.org/a.", [("x.org/a", "https://x.org/a")]),
        ("(https://x.org/a)", "(x.org/a)", [("x.org/a", "https://x.org/a")]),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar), then",
            "en.wikipedia.org/wiki/Foo_(bar), then",
            [("en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)")],
        ),
        (
            "Read https://www.reuters.com/world/europe/some-long-slug-2025/ now",
            "Read www.reuters.com/world/europe... now",
            [("www.reuters.com/world/europe...", "https://www.reuters.com/world/europe/some-long-slug-2025/")],
        ),
        ("«https://ria.ru/путин»", "«ria.ru/%D0%BF%D1%83...»", [
            ("ria.ru/%D0%BF%D1%83...", "https://ria.ru/путин"),
        ]),
        ("http://localhost/x and ftp://x.org", "http://localhost/x and ftp://x.org", []),
        ("no address", "no address", []),
    ],
)  # fmt: skip
def test_bare_addresses_in_text_become_short_links(text, shown, links):
    """A web address typed into the text is posted as a link, shown short as the app shows it."""
    rt = linked(text)
    assert rt.text == shown
    assert rt.links() == links
