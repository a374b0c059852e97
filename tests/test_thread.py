"""An Issue becomes the thread followers read: every post within limits, nothing dropped."""

from __future__ import annotations

import dataclasses
import re

import pytest
from bwr_seed import LINK, SEED_ISSUE
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.bluesky.lexicon import post_record
from bot.core.model import Issue, Item, Link, Takeaway
from bot.core.post import Card
from bot.core.post import Link as LinkFeature
from bot.core.profile import load_profile
from bot.core.text import graphemes, utf8_len
from bot.core.thread import compose
from bot.errors import ThreadError

PROFILE = load_profile()


def _profile(**thread_changes):
    layout = dataclasses.replace(PROFILE.thread, **thread_changes)
    return dataclasses.replace(PROFILE, thread=layout)


def _links(post):
    raw = post.text.encode("utf-8")
    out = []
    for f in post.facets:
        shown = raw[f.start : f.end].decode("utf-8")
        feat = f.features[0]
        out.append((shown, feat.uri if isinstance(feat, LinkFeature) else feat.tag))
    return out


def _check_limits(threads):
    for thread in threads:
        for post in thread:
            assert post.text.strip() == post.text != ""
            assert graphemes(post.text) <= 300 and utf8_len(post.text) <= 3000
            for f in post.facets:
                assert 0 <= f.start < f.end <= utf8_len(post.text)


def _words(s: str) -> str:
    return " ".join(s.split())


def test_seed_thread_shape():
    """The seed issue is one thread: root, 3 takeaways, the follow-up, quick bites, closing."""
    (thread,) = compose(SEED_ISSUE, PROFILE)
    _check_limits([thread])
    kinds = [p.kind for p in thread]
    assert kinds[0] == "root" and kinds[-1] == "closing"
    assert kinds.count("takeaway") == 3
    order = ["root", "takeaway", "follow_up", "quick_bite", "closing"]
    assert kinds == sorted(kinds, key=order.index)
    assert all(p.langs == ("en",) for p in thread)


def test_root_links_to_the_issue_with_a_card():
    """The root carries a card to the issue: its title, subtitle and cover image."""
    root = compose(SEED_ISSUE, PROFILE)[0][0]
    assert root.card == Card(
        uri=LINK,
        title=SEED_ISSUE.title,
        description=SEED_ISSUE.subtitle,
        thumb_url=SEED_ISSUE.cover_image,
    )
    assert root.text == f"{SEED_ISSUE.title}\n\n{SEED_ISSUE.subtitle}"
    assert post_record(root)["embed"]["external"]["uri"] == LINK


def test_fetched_cards_replace_the_feed_data():
    """A card fetched from the page (Open Graph) is used for the issue and for a reading."""
    og = Card(uri=LINK, title="OG title", description="OG description", thumb_url="https://x/i.jpg")
    reading = SEED_ISSUE.follow_ups[0].links[0].url
    og_reading = Card(uri=reading, title="Право вето", description="Известия")
    (thread,) = compose(SEED_ISSUE, PROFILE, {LINK: og, reading: og_reading})
    assert thread[0].card == og
    assert [p.card for p in thread if p.kind == "follow_up" and p.card] == [og_reading]


def test_every_paragraph_of_every_item_is_posted():
    """Nothing of a takeaway, follow-up or quick bite is dropped: all text is in the thread."""
    (thread,) = compose(SEED_ISSUE, PROFILE)
    everything = _words(" ".join(p.text for p in thread))
    for t in SEED_ISSUE.takeaways:
        assert _words(f"{t.label} — {t.text}") in everything
    for item in SEED_ISSUE.follow_ups + SEED_ISSUE.quick_bites:
        assert _words(item.headline) in everything
        for para in item.paragraphs:
            assert _words(para) in everything


def test_single_reading_becomes_a_card_on_the_items_last_post():
    """An item with exactly one reading shows it as a card at the end of the item."""
    (thread,) = compose(SEED_ISSUE, PROFILE)
    follow_ups = [p for p in thread if p.kind == "follow_up"]
    lk = SEED_ISSUE.follow_ups[0].links[0]
    assert follow_ups[-1].card == Card(uri=lk.url, title=lk.title)
    assert all(p.card is None for p in follow_ups[:-1])


def test_readings_as_short_links_with_titles():
    """Several readings are listed by title, each with its short link, clickable."""
    links = (
        Link("First reading (NPR, 27 Dec 2024)", "https://www.npr.org/2024/12/27/nx-s1-5240770/a"),
        Link("Second reading", "https://iz.ru/1914000/2025-07-03/pravo-veto"),
    )
    issue = dataclasses.replace(
        SEED_ISSUE, takeaways=(), quick_bites=(), follow_ups=(Item("Headline", ("Text.",), links),)
    )
    (thread,) = compose(issue, PROFILE)
    item = thread[1]
    assert item.text == (
        "Follow-up: Headline\n\nText.\n\nAdditional Reading(s):\n"
        "• First reading (NPR, 27 Dec 2024) www.npr.org/2024/12/27/n...\n"
        "• Second reading iz.ru/1914000/2025..."
    )
    assert _links(item) == [
        ("www.npr.org/2024/12/27/n...", links[0].url),
        ("iz.ru/1914000/2025...", links[1].url),
    ]
    assert item.card is None


def test_no_cards_for_readings_puts_the_link_in_the_text():
    """With cards_for_readings off, a single reading is a text link."""
    (thread,) = compose(SEED_ISSUE, _profile(cards_for_readings=False))
    lk = SEED_ISSUE.follow_ups[0].links[0]
    fu = [p for p in thread if p.kind == "follow_up"][-1]
    assert fu.card is None
    assert _links(fu) == [("iz.ru/1914000/2025...", lk.url)]
    assert lk.title in fu.text


def test_issue_without_sections_is_one_post_with_card_and_link():
    """An issue with no sections is a single root post with its card and a text link."""
    issue = Issue(guid="g", link="https://example.substack.com/p/a-post", title="A post",
                  subtitle="Its subtitle")
    (thread,) = compose(issue, PROFILE)
    assert len(thread) == 1
    assert thread[0].text == "A post\n\nIts subtitle\n\nexample.substack.com/p/a-post"
    assert _links(thread[0]) == [("example.substack.com/p/a-post", issue.link)]
    assert thread[0].card is not None and thread[0].card.uri == issue.link


def test_empty_subtitle_leaves_no_blank_line():
    """A missing subtitle leaves no dangling blank line in the root."""
    issue = dataclasses.replace(SEED_ISSUE, subtitle="")
    assert compose(issue, PROFILE)[0][0].text == SEED_ISSUE.title


def test_takeaway_without_label_has_no_dangling_dash():
    """A takeaway with no label reads as its text alone, no stray '—'."""
    issue = dataclasses.replace(SEED_ISSUE, takeaways=(Takeaway("", "Just the text."),))
    (thread,) = compose(issue, PROFILE)
    assert [p.text for p in thread if p.kind == "takeaway"] == ["Just the text."]


def test_quick_bites_in_a_separate_thread():
    """quick_bites = "separate": a second thread whose root carries the issue's card."""
    threads = compose(SEED_ISSUE, _profile(quick_bites="separate"))
    assert len(threads) == 2
    main, bites = threads
    assert "quick_bite" not in [p.kind for p in main]
    assert bites[0].kind == "quick_bites_root"
    assert bites[0].text == f"Quick Bites from Barbershop Whispers…Russia: {SEED_ISSUE.title}"
    assert bites[0].card is not None and bites[0].card.uri == LINK
    assert {p.kind for p in bites[1:]} == {"quick_bite"}
    _check_limits(threads)


def test_numbering_counts_posts_after_splitting():
    """Numbered threads end each post with n/total, total being the posts actually made."""
    (thread,) = compose(SEED_ISSUE, _profile(numbered=True))
    total = len(thread)
    for n, post in enumerate(thread, start=1):
        assert post.text.endswith(f"\n\n{n}/{total}")
    _check_limits([thread])


def test_hashtags_on_the_root_as_tag_facets():
    """The profile's hashtags go on the root as clickable tags."""
    root = compose(SEED_ISSUE, _profile(hashtags=("Russia", "Azerbaijan")))[0][0]
    assert root.text.endswith("\n\n#Russia #Azerbaijan")
    assert _links(root) == [("#Russia", "Russia"), ("#Azerbaijan", "Azerbaijan")]


def test_closing_links_to_the_full_issue():
    """The closing post links to the issue with a short, clickable link."""
    closing = compose(SEED_ISSUE, PROFILE)[0][-1]
    assert closing.text == (
        "Read the full issue of Barbershop Whispers…Russia: aablanco.substack.com/p/russias-er..."
    )
    assert _links(closing) == [("aablanco.substack.com/p/russias-er...", LINK)]


def test_no_closing_when_the_profile_says_so():
    """closing = false: the thread ends with its last quick bite."""
    (thread,) = compose(SEED_ISSUE, _profile(closing=False))
    assert thread[-1].kind == "quick_bite"


def test_long_takeaway_continues_in_the_next_post():
    """A takeaway over 300 graphemes is split at sentences, the label only on the first post."""
    sentence = "Это длинное предложение о влиянии России 🇷🇺 на соседей. "
    issue = dataclasses.replace(SEED_ISSUE, takeaways=(Takeaway("LONG", (sentence * 12).strip()),))
    posts = [p for p in compose(issue, PROFILE)[0] if p.kind == "takeaway"]
    assert len(posts) == 3
    assert posts[0].text.startswith("LONG — Это")
    assert all(p.text.endswith("соседей.") for p in posts)
    assert _words(" ".join(p.text for p in posts)) == _words("LONG — " + sentence * 12)
    _check_limits([posts])


def test_issue_without_link_is_an_error():
    """An issue with no link cannot be threaded: ThreadError names the issue."""
    with pytest.raises(ThreadError, match="'No link' has no link"):
        compose(Issue(guid="g", link="", title="No link"), PROFILE)


def test_unpostable_reading_is_an_error_naming_the_post():
    """A reading whose link cannot fit any post raises ThreadError saying which post."""
    huge = "https://" + "h" * 320 + ".example/"
    issue = dataclasses.replace(
        SEED_ISSUE, quick_bites=(),
        follow_ups=(Item("H", ("P.",), (Link("a", huge), Link("b", huge))),),
    )
    with pytest.raises(ThreadError, match=re.escape(f"{LINK}: the follow up starting at post 5")):
        compose(issue, PROFILE)


WORDS = st.sampled_from([
    "word", "Kremlin", "Россия", "日本語です。", "👨\u200d👩\u200d👧", "🇺🇦", "👍🏽", "e\u0301",
    "x" * 90, "end.", "why?", "—",
])
TEXT = st.lists(WORDS, min_size=1, max_size=120).map(" ".join)
URL = st.sampled_from(["https://example.com/a", "https://www.npr.org/2024/12/27/" + "b" * 300])
ITEM = st.builds(
    Item,
    headline=TEXT,
    paragraphs=st.lists(TEXT, max_size=4).map(tuple),
    links=st.lists(st.builds(Link, title=TEXT, url=URL), max_size=3).map(tuple),
)
ISSUE = st.builds(
    Issue,
    guid=st.just("g"),
    link=URL,
    title=TEXT,
    subtitle=TEXT,
    language=st.sampled_from(["en", "ru"]),
    takeaways=st.lists(st.builds(Takeaway, label=TEXT, text=TEXT), max_size=3).map(tuple),
    follow_ups=st.lists(ITEM, max_size=2).map(tuple),
    quick_bites=st.lists(ITEM, max_size=2).map(tuple),
)


@settings(max_examples=40, deadline=None)
@given(ISSUE, st.booleans(), st.sampled_from(["same", "separate"]))
def test_any_issue_composes_within_limits(issue, numbered, quick_bites):
    """Any issue (emoji, Cyrillic, CJK, long words and URLs) gives posts within both limits,
    none empty, every facet on its text, every paragraph posted, the root linking the issue."""
    threads = compose(issue, _profile(numbered=numbered, quick_bites=quick_bites))
    _check_limits(threads)
    assert threads[0][0].card is not None and threads[0][0].card.uri == issue.link
    # Without the post numbers, the posts read as the issue's text.
    everything = _words(" ".join(re.sub(r"\n\n\d+/\d+$", "", p.text) for t in threads for p in t))
    for item in issue.follow_ups + issue.quick_bites:
        for para in item.paragraphs:
            assert _words(para) in everything
    for thread in threads:
        assert all(p.langs == (issue.language,) for p in thread)


def test_bare_web_addresses_in_an_issue_are_posted_as_links():
    """An address typed into a title or a paragraph is a clickable short link, not raw text."""
    url = "https://www.reuters.com/world/europe/russia-recognises-taliban-2025-07-03/"
    issue = Issue(
        guid="g",
        link="https://example.substack.com/p/a",
        title=f"Read {url}",
        quick_bites=(Item("Taliban", (f"Reuters ({url}) reports it.",), ()),),
    )
    root, bite, _closing = compose(issue, _profile(closing=True))[0]
    assert root.text == "Read www.reuters.com/world/europe..."
    assert _links(root) == [("www.reuters.com/world/europe...", url)]
    assert bite.text == (
        "Quick bite: Taliban\n\nReuters (www.reuters.com/world/europe...) reports it."
    )
    assert _links(bite) == [("www.reuters.com/world/europe...", url)]


# -- links inside the words ------------------------------------------------------------------


def test_inline_link_in_a_takeaway_is_a_facet_on_its_words():
    """A takeaway's inline link is clickable on the author's words (after emoji and Cyrillic),
    and the facet holds the full address, not a shortened one."""
    url = "https://www.reuters.com/world/europe/baku-yerevan-sign-a-deal-2025-07-03/?utm=x"
    text = "🇦🇿 Баку и Ереван 👨\u200d👩\u200d👧 signed a deal at last."
    t = Takeaway("FOREVER NEIGHBORS", text, (Link("signed a deal", url),))
    issue = dataclasses.replace(SEED_ISSUE, takeaways=(t,), follow_ups=(), quick_bites=())
    post = compose(issue, PROFILE)[0][1]
    assert post.text == f"FOREVER NEIGHBORS — {text}"
    (facet,) = post.facets
    start = utf8_len("FOREVER NEIGHBORS — 🇦🇿 Баку и Ереван 👨\u200d👩\u200d👧 ")
    assert (facet.start, facet.end) == (start, start + utf8_len("signed a deal"))
    assert facet.features == (LinkFeature(url),)


def test_inline_links_in_a_paragraph_beside_a_typed_address_and_readings():
    """A quick bite's inline links are facets on their words, in order, beside a typed address
    (short link) and the reading (card); an anchor written twice is linked once, where first
    seen."""
    typed = "https://www.example.org/a/very/long/path/indeed"
    short = "www.example.org/a/very/long/..."
    para = f"Москва 🇷🇺: TASS said it. Later TASS said more, see {typed}. Kabul welcomed it."
    bite = Item(
        "Taliban",
        (para, "Nothing else."),
        (Link("Moscow Recognises Kabul (BBC)", "https://ex.org/bbc"),),
        (
            (
                Link("TASS said", "https://ex.org/tass"),
                Link("Kabul welcomed it", "https://ex.org/kabul?a=1&b=2"),
            ),
            (),
        ),
    )
    issue = dataclasses.replace(SEED_ISSUE, takeaways=(), follow_ups=(), quick_bites=(bite,))
    post = compose(issue, PROFILE)[0][1]
    assert post.text == (
        f"Quick bite: Taliban\n\n{para.replace(typed, short)}\n\nNothing else."
    )
    assert _links(post) == [
        ("TASS said", "https://ex.org/tass"),
        (short, typed),
        ("Kabul welcomed it", "https://ex.org/kabul?a=1&b=2"),
    ]
    first = post.facets[0].start
    assert first == utf8_len("Quick bite: Taliban\n\nМосква 🇷🇺: ")
    assert post.card is not None and post.card.uri == "https://ex.org/bbc"


def test_inline_link_words_found_nowhere_or_too_long_stay_plain():
    """An anchor missing from the text, one longer than 200 graphemes, or one inside a word
    when the whole word appears later, never puts a facet on the wrong words."""
    long_anchor = " ".join(["word"] * 50)  # 249 graphemes
    para = f"Toward the war. {long_anchor}."
    bite = Item(
        "H",
        (para,),
        (),
        (
            (
                Link("war", "https://ex.org/war"),
                Link("absent", "https://ex.org/absent"),
                Link(long_anchor, "https://ex.org/long"),
            ),
        ),
    )
    issue = dataclasses.replace(SEED_ISSUE, takeaways=(), follow_ups=(), quick_bites=(bite,))
    post = compose(issue, PROFILE)[0][1]
    assert post.text == f"Quick bite: H\n\n{para}"
    assert _links(post) == [("war", "https://ex.org/war")]
    assert post.facets[0].start == utf8_len("Quick bite: H\n\nToward the ")


def test_a_long_paragraph_keeps_its_inline_link_whole_across_posts():
    """A paragraph split over posts never cuts an inline link: its words land whole in one post
    with the facet on them."""
    anchor = "the report of the Ministry of Defence"
    para = ("Filler words go here. " * 12) + f"Read {anchor} today. " + ("More words. " * 12)
    bite = Item("H", (para,), (), ((Link(anchor, "https://ex.org/mod"),),))
    issue = dataclasses.replace(SEED_ISSUE, takeaways=(), follow_ups=(), quick_bites=(bite,))
    posts = [p for p in compose(issue, PROFILE)[0] if p.kind == "quick_bite"]
    assert len(posts) == 2
    assert [link for p in posts for link in _links(p)] == [(anchor, "https://ex.org/mod")]


@st.composite
def _item_with_inline_links(draw):
    paragraphs = tuple(draw(st.lists(TEXT, min_size=1, max_size=3)))
    inline = []
    for p in paragraphs:
        words = p.split(" ")
        picks = draw(st.lists(st.integers(0, len(words) - 1), max_size=3, unique=True))
        inline.append(tuple(Link(" ".join(words[i : i + 2]), f"https://ex.org/{i}") for i in picks))
    return Item(draw(TEXT), paragraphs, (), tuple(inline))


@settings(max_examples=40, deadline=None)
@given(st.lists(_item_with_inline_links(), min_size=1, max_size=2), st.booleans())
def test_any_inline_links_compose_within_limits(items, numbered):
    """Inline links on any words (emoji, CJK, long words) keep every post within limits and every
    paragraph posted; each facet covers exactly its anchor's words and holds its address."""
    issue = dataclasses.replace(SEED_ISSUE, takeaways=(), follow_ups=tuple(items), quick_bites=())
    threads = compose(issue, _profile(numbered=numbered))
    _check_limits(threads)
    everything = _words(" ".join(re.sub(r"\n\n\d+/\d+$", "", p.text) for t in threads for p in t))
    anchors = {(lk.title, lk.url) for item in items for p in item.paragraph_links for lk in p}
    for item in items:
        for para in item.paragraphs:
            assert _words(para) in everything
    found = [pair for post in threads[0] if post.kind == "follow_up" for pair in _links(post)]
    assert all(pair in anchors for pair in found)
    # Each paragraph's first anchor always has free words to sit on.
    assert len(found) >= sum(1 for item in items for p in item.paragraph_links if p)


def test_long_announcement_is_one_post_never_a_link_alone():
    """Title and a long description make one post: the subtitle ends at a whole word with '…'."""
    subtitle = "Freelancers are the backbone of modern research and we want to hear you. " * 8
    issue = Issue(guid="g", link="https://independency.substack.com/p/freelancers-wanted",
                  title="Freelancers, Wanted - a new research series.", subtitle=subtitle)
    (thread,) = compose(issue, PROFILE)
    assert len(thread) == 1
    (post,) = thread
    body = post.text.split("\n\n")
    assert body[0] == issue.title
    # Cut at a sentence's end when one ends near the room's end (else at a word, with "…").
    assert body[1].endswith(("…", ".")) and subtitle.startswith(body[1].rstrip("…"))
    assert len(body[1]) < len(subtitle)
    shown = body[1].rstrip("…")
    assert subtitle[len(shown)] == " "  # the cut falls between two words
    assert post.card is not None and post.card.uri == issue.link
    assert graphemes(post.text) < 280


@given(title=st.text(min_size=1, max_size=320), subtitle=st.text(max_size=1200))
@settings(max_examples=60, deadline=None)
def test_any_announcement_is_one_post_that_says_something(title, subtitle):
    """Whatever the title and subtitle, an announcement is one post within the limits that
    is never only its link (the card carries the address)."""
    issue = Issue(guid="g", link="https://x.example/p/a", title=title, subtitle=subtitle)
    if not (title.strip() or subtitle.strip()):
        return
    threads = compose(issue, PROFILE)
    _check_limits(threads)
    for post in threads[0]:
        words = post.text
        for shown, _uri in _links(post):
            words = words.replace(shown, "")
        assert words.strip(), post.text


@pytest.mark.parametrize("link", ["right", "1", "mailto:a@b.example", "javascript:alert(1)"])
def test_a_link_that_is_not_a_web_address_gets_no_card_and_no_facet(link):
    """An issue whose link is not an http(s) address is posted as text, with no card or link."""
    issue = Issue(guid="g", link=link, title="A post", subtitle="Its subtitle")
    (thread,) = compose(issue, PROFILE)
    (post,) = thread
    assert post.text == "A post\n\nIts subtitle"
    assert post.card is None and post.facets == ()


def test_a_reading_that_is_not_a_web_address_is_not_a_card():
    """A reading link such as 'mailto:' or a bare word is neither a card nor a link facet."""
    item = Item(headline="Headline", paragraphs=("Text.",), links=(Link("Mail", "mailto:x@y.z"),))
    issue = dataclasses.replace(SEED_ISSUE, follow_ups=(item,), quick_bites=())
    (thread,) = compose(issue, PROFILE)
    fu = next(p for p in thread if p.kind == "follow_up")
    assert fu.card is None
    assert all(uri.startswith("http") for _s, uri in _links(fu))
