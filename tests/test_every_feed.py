"""Every feed reads well: what other feed parsers' test suites throw at the bot, on feeds made
for these tests (tests/fixtures/feeds/README.md) — one entry without a link among good ones,
JSON Feed, UTF-16/32 without a byte-order mark, files that are not feeds, double escaping,
mojibake, entities, cuts, line breaks, boilerplate, FeedBurner and tracking links, relative
links, languages, and `preview --all` over a long feed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from card_site import Route, Site, page
from click.testing import CliRunner
from conftest import ROOT
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.cli.app import cli
from bot.core.boilerplate import drop_boilerplate
from bot.core.excerpt import cut_to_words, excerpt, repair
from bot.core.language import detect_language, language_tag
from bot.core.links import untracked
from bot.core.model import Issue
from bot.core.post import Link as LinkFeature
from bot.core.reader import parse_feed
from bot.core.text import linked, short_link
from bot.core.thread import compose
from bot.errors import FeedError

FEEDS = ROOT / "tests" / "fixtures" / "feeds"
ENV = {"BOT_CONFIG": str(ROOT / "config" / "bwr.toml"), "BSKY_HANDLE": None,
       "BSKY_APP_PASSWORD": None, "CARDS": None, "BOTS_FILE": None}  # fmt: skip
URL = st.builds(
    lambda host, path: f"https://{host}.example/{path}",
    st.text(alphabet="abcdefghij", min_size=1, max_size=8),
    st.text(alphabet="abcdefghij0123456789/-_%.", max_size=40),
)
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü.,", min_size=1, max_size=9)


def read(name: str, profile, data: bytes | None = None):
    path = FEEDS / name
    return parse_feed(path.read_bytes() if data is None else data, profile, source=str(path))


def invoke(*args: str, env: dict[str, str | None] | None = None):
    return CliRunner().invoke(cli, list(args), env={**ENV, **(env or {})})


def shape(issue: Issue) -> tuple:
    return (issue.guid, issue.link, issue.title, issue.subtitle, issue.published,
            issue.language)  # fmt: skip


# -- one bad entry among good ones ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["one_without_link.rss", "one_without_link.json"])
def test_an_entry_without_a_link_is_named_and_the_others_are_read(profile, name):
    """The third entry has no address: it is named by position and title; the two others are
    issues as ever."""
    feed = read(name, profile)
    assert [i.title for i in feed.issues] == ["Example entry", "Another entry"]
    assert feed.skipped == ("entry 3 ('Example entry, again') has no link: not posted",)


def test_preview_all_goes_on_past_an_entry_without_a_link():
    """preview --all exits 0, shows the two good entries and names the third on stderr."""
    result = invoke("preview", "--offline", "--all", "--feed", str(FEEDS / "one_without_link.rss"))
    assert result.exit_code == 0, result.output
    assert "Issue: Example entry" in result.stdout and "Issue: Another entry" in result.stdout
    assert "warning: entry 3 ('Example entry, again') has no link: not posted" in result.stderr
    assert "issue ''" not in result.output


def test_preview_all_goes_on_past_an_issue_it_cannot_compose(tmp_path):
    """An entry with only a link that is no web address has nothing to post: preview --all
    names it on stderr and shows the other."""
    feed = tmp_path / "f.rss"
    feed.write_text('<rss version="2.0"><channel><title>F</title><language>en</language>'
                    "<item><link>urn:uuid:1</link></item>"
                    "<item><title>Good</title><link>https://f.example/good</link></item>"
                    "</channel></rss>")  # fmt: skip
    result = invoke("preview", "--offline", "--all", "--feed", str(feed))
    assert result.exit_code == 0, result.output
    assert "Issue: Good" in result.stdout
    assert ("warning: issue 'urn:uuid:1' has no title, subtitle or web address to post: not"
            " previewed") in result.stderr  # fmt: skip


def test_inspect_and_its_json_name_the_entry_without_a_link():
    """inspect lists it under "not posted"; inspect --json under "skipped"."""
    text = invoke("inspect", "--feed", str(FEEDS / "one_without_link.rss"))
    assert text.exit_code == 0, text.output
    assert "not posted (1):\n  - entry 3 ('Example entry, again') has no link" in text.stdout
    data = json.loads(invoke("inspect", "--json", "--feed",
                             str(FEEDS / "one_without_link.rss")).stdout)  # fmt: skip
    assert len(data["issues"]) == 2
    assert data["skipped"] == ["entry 3 ('Example entry, again') has no link: not posted"]


def test_a_poll_pass_goes_on_past_an_entry_without_a_link(tmp_path: Path):
    """A pass (dry run) records the two good entries and names the third; exit 0."""
    env = {"FEED_URL": str(FEEDS / "one_without_link.rss"), "BACKFILL_HOURS": "1000000",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "POST_DELAY": "0"}  # fmt: skip
    result = invoke("poll", env=env)
    assert result.exit_code == 0, result.output
    assert "2 issues, 2 new" in result.stdout
    assert "  entry 3 ('Example entry, again') has no link: not posted" in result.stdout


def test_readers_full_feeds_read_entry_by_entry(profile):
    """lemon24/reader's full.rss: one posted, four named; its full.json: the item's own
    language, no audio attachment taken for a picture, the untitled item's card titled with
    the feed's name."""
    real = ROOT / "tests" / "fixtures" / "real"
    rss = parse_feed((real / "reader_full.rss").read_bytes(), profile)
    assert [i.title for i in rss.issues] == ["Example entry"]
    assert rss.skipped == (
        "entry 2 ('Example entry, again') has no link: not posted",
        "entry 3 (guid 'source:only-url') has no link: not posted",
        "entry 4 (guid 'source:only-title') has no link: not posted",
        "entry 5 (guid 'source:empty') has no link: not posted",
    )
    titled, untitled = parse_feed((real / "reader_full.json").read_bytes(), profile).issues
    assert (titled.title, titled.subtitle, titled.language) == ("Title", "A summary", "de")
    assert titled.cover_image is None
    assert untitled.subtitle == "Hello, world!"
    (root,) = compose(untitled, profile)[0]
    assert root.card is not None and root.card.title == "My Example Feed"


# -- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["letter.atom", "letter.json", "letter-1.0.json"])
def test_json_feed_and_atom_read_as_rss_does(profile, name):
    """The same two entries as RSS, Atom, JSON Feed 1.1 and 1.0: the same issues."""
    expected = [shape(i) for i in read("letter.rss", profile).issues]
    feed = read(name, profile)
    assert [shape(i) for i in feed.issues] == expected
    assert feed.info.title == "Field Notes" and feed.info.link == "https://notes.example/"
    assert feed.problem is None and feed.skipped == ()


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip
ITEM_KEYS = st.sampled_from(["id", "url", "external_url", "title", "content_html", "content_text",
                             "summary", "date_published", "date_modified", "image", "language",
                             "attachments"])  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(ITEM_KEYS, JSON_VALUE | URL, max_size=8), max_size=5),
       JSON_VALUE)  # fmt: skip
def test_any_json_feed_items_read_without_a_traceback(profile, items, title):
    """Whatever a JSON Feed's items hold (any JSON types), the feed reads: every issue has an
    http(s) link or the entry is named as skipped."""
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}
    feed = parse_feed(json.dumps(doc).encode(), profile)
    assert len(feed.issues) + len(feed.skipped) == len(items)
    assert all(i.link for i in feed.issues)


def test_a_json_feed_previews_like_any_feed():
    """preview --all over a JSON Feed: one post per entry, with its card."""
    result = invoke("preview", "--offline", "--all", "--json", "--feed",
                    str(FEEDS / "letter.json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    elements = json.loads(result.stdout)
    assert [e["entry"]["link"] for e in elements] == [
        "https://notes.example/rivers-in-spring", "https://notes.example/notes-on-winter"]
    root = elements[1]["threads"][0][0]
    assert root["text"].startswith("Notes on winter\n\nSnow came late")
    assert root["embed"]["external"]["uri"] == "https://notes.example/notes-on-winter"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("declared", [True, False])
def test_utf16_and_utf32_without_a_byte_order_mark(profile, encoding, declared):
    """A feed written in UTF-16/32 with no BOM, with or without its XML declaration, reads as
    the UTF-8 one, and is not called malformed."""
    text = (FEEDS / "letter.rss").read_text(encoding="utf-8")
    if declared:
        text = text.replace('encoding="UTF-8"', f'encoding="{encoding[:6].upper()}"')
    else:
        text = text.split("\n", 1)[1]
    feed = read("letter.rss", profile, text.encode(encoding))
    assert [shape(i) for i in feed.issues] == [shape(i) for i in read("letter.rss", profile).issues]
    assert feed.problem is None


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ((FEEDS / "page_with_feed.html").read_bytes(),
         "is an HTML page, not a feed: its feed is https://notes.example/feed: use that"),
        (b"<!doctype html><html><body><p>A blog</p></body></html>",
         "is an HTML page, not a feed (it names no feed of its own)"),
        (b'{"items": []}', "is JSON, not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", ', "is JSON that cannot be read"),
        (b'<?xml version="1.0"?><opml version="2.0"><body/></opml>',
         "is XML (<opml>), not an RSS or Atom feed"),
        (b'<?xml version="1.0"?><rss version="2.0"></rss>',
         "is an RSS document with no <channel>, so no feed"),
        (b'<rss version="2.0">\n<channel>\n<title>x</titl>\n</channel></rss>',
         "is an RSS or Atom feed that cannot be read: mismatched tag (line 3)"),
    ],
    ids=["html-with-feed", "html", "json", "bad-json", "opml", "no-channel", "broken-rss"],
)  # fmt: skip
def test_not_a_feed_says_what_the_file_is(profile, data, said):
    """One line saying what the file is, with no parser noise like '<unknown>:1:0'."""
    with pytest.raises(FeedError) as err:
        parse_feed(data, profile, source="https://notes.example/")
    message = str(err.value)
    assert message.startswith(f"https://notes.example/ {said}"), message
    assert "<unknown>" not in message and "\n" not in message


def test_a_wordpress_page_names_its_feed_not_its_rest_api():
    """A page's feed types come before "application/json" (WordPress's REST API)."""
    from bot.core.formats import feed_named_in

    head = (b'<html><head><link rel="alternate" type="application/json" href="/wp-json/wp/v2/1">'
            b'<link rel="alternate" type="application/rss+xml" href="/feed/"></head></html>')
    assert feed_named_in(head, "https://blog.example/a-post/") == "https://blog.example/feed/"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([b"", b"<!doctype html><html><head>", b"{", b"[", b"\x00<\x00r",
                        b"<?xml version='1.0'?><rss", b"<feed"]),
       st.binary(max_size=300))  # fmt: skip
@example(b"<?xml version='1.0'?><rss", b":")  # a root lxml recovers with a tag QName refuses
def test_whatever_the_bytes_the_answer_is_a_feed_or_one_line(profile, start, rest):
    """Bytes that start like HTML, JSON, UTF-16 or XML and go on anyhow: a Feed, or one
    FeedError line with no parser noise."""
    try:
        parse_feed(start + rest, profile, source="f")
    except FeedError as err:
        assert "\n" not in str(err) and "<unknown>" not in str(err)


def test_preview_of_a_web_page_names_its_feed_and_does_not_follow_it():
    """Given a blog's home page, preview says where its feed is and exits 1."""
    page_path = FEEDS / "page_with_feed.html"
    result = invoke("preview", "--offline", "--feed", str(page_path))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {page_path} is an HTML page, not a feed: its feed is /feed:"
                             " use that; check --feed or the file\n")  # fmt: skip


# -- text ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def troubles(profile):
    feed = read("troubles.rss", profile)
    return {i.title: i for i in feed.issues}


def test_a_double_escaped_description_shows_no_markup(troubles):
    """Reddit's description escaped twice: words only; its 'submitted by … [link] [comments]'
    goes too, and its link loses its utm_ parameters."""
    issue = troubles["A gif of a cat"]
    assert issue.subtitle == "The cat & the dog share a sofa."
    assert issue.link == "https://www.reddit.com/r/gifs/comments/abc/a_gif_of_a_cat/"


def test_mojibake_is_repaired_also_before_a_non_breaking_space(troubles):
    """'giÃ' + NBSP and a stray 'Â' before a space are what they were meant to be."""
    issue = troubles["Il caffè è già pronto"]
    assert issue.subtitle == "È già fatto: il prezzo è di 2 euro, più o meno."


@pytest.mark.parametrize(
    ("text", "expected"),
    [("giÃ\u00a0 fatto", "già fatto"), ("piÃ¹ giÃ \u00a0fatto", "più già \u00a0fatto"),
     ("price:Â 10 EUR", "price: 10 EUR"), ("cafÃ©Â\u00a0ok", "café\u00a0ok"),
     ("ÂME", "ÂME"), ("Â", "Â")],
)  # fmt: skip
def test_repair(text, expected):
    assert repair(text) == expected


def test_wordpress_mojibake_of_a_non_breaking_space_leaves_one_space():
    """SimplePie's RSS.com feed: 'podcast.Â  Youâ€™re' and '(sats)Â through' read as words."""
    assert excerpt("<p>start a podcast.Â  Youâ€™re going</p>") == "start a podcast. You’re going"
    assert excerpt("<p>Bitcoin (sats)Â through apps.</p>") == "Bitcoin (sats) through apps."


def test_entities_escaped_twice_are_decoded_in_titles_and_text(troubles):
    """'AT&amp;T', '&#39;', '&#8364;' read as the characters."""
    issue = troubles["AT&T buys 'Time'"]
    assert issue.subtitle == "The deal: AT&T pays €80 billion."


def test_a_card_page_that_escaped_its_description_twice_reads_as_words():
    """A page's og:description 'AT&amp;amp;T&amp;#39;s deal' is the card's "AT&T's deal"."""
    from bot.cards.page import parse_head

    head = page('<meta property="og:title" content="Deal &amp;amp; more">'
                '<meta property="og:description" content="AT&amp;amp;T&amp;#39;s deal">')
    fields = parse_head(head, "https://news.example/")
    assert fields["title"] == "Deal & more" and fields["description"] == "AT&T's deal"


def test_a_decoded_combining_accent_joins_its_letter():
    assert excerpt("Cafe&amp;#769; Noir") == "Café Noir"


def test_line_breaks_and_paragraphs_stay_breaks(troubles):
    """<br> and <p> are line breaks, not run-on text."""
    assert troubles["Weather for Sunday"].subtitle == (
        "59 F\nForecast: Sun - Rain.\nHigh: 65 Low: 52\nMon: dry."
    )


def test_an_entry_whose_description_is_its_content_shows_its_own_words(troubles):
    """Description == content: the words are the subtitle, not a title and a link alone."""
    issue = troubles["Same words"]
    assert issue.subtitle == "Plenty of words of its own, enough for a subtitle."
    (root,) = compose(issue, _profile())[0]
    assert issue.subtitle in root.text


def test_a_title_is_never_repeated_as_the_excerpt(troubles):
    assert troubles["A title said twice"].subtitle == ""
    assert troubles["Ok"].subtitle == ""


@pytest.mark.parametrize(
    ("title", "expected"),
    [("Sunset over the bay", "The sun went down behind the islands at nine."),
     ("New pictures", "We took three new pictures of the harbour."),
     ("Through FeedBurner", "A post read through FeedBurner's redirect."),
     ("Tracked", "A link that tells the publisher where the click came from.")],
)  # fmt: skip
def test_boilerplate_of_the_platforms_is_dropped(troubles, title, expected):
    """Flickr's 'posted a photo:', WordPress's read-more sentence, 'Read full article >>',
    'Read more'."""
    assert troubles[title].subtitle == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("A gif.\nsubmitted by /u/bob to r/gifs [link] [12 comments]", "A gif."),
     ("Story. Read more", "Story."), ("Story.\nRead more »", "Story."),
     ("Story. Read full article >>", "Story."), ("Ein Text. Weiterlesen →", "Ein Text."),
     ("Un texte. Lire la suite…", "Un texte."), ("Um texto. Leia mais", "Um texto."),
     ("kebernet posted a photo:\nA cat", "A cat"),
     ("News. Check 'em out by clicking the read more link!", "News."),
     # The author's own words stay.
     ("How to read more books every year", "How to read more books every year"),
     ("Things you see more", "Things you see more"),
     # Nothing but boilerplate: nothing (the post is the title and the card).
     ("submitted by bob to mildlyinteresting\n[link]", ""), ("Read more", "")],
)  # fmt: skip
def test_boilerplate_list(text, expected):
    assert drop_boilerplate(text) == expected


# -- cuts ---------------------------------------------------------------------------------------


def test_a_cut_ends_at_a_sentence_in_the_last_part_of_the_room():
    text = "The rivers rose early. The ferries stopped for a week and nobody crossed the water."
    # The only sentence end is too far back: the cut is at a word, with "…".
    assert cut_to_words(text, 70) == (
        "The rivers rose early. The ferries stopped for a week and nobody…"
    )
    cut = cut_to_words("A short one. " + "The ferries stopped for a week. " * 3, 80)
    assert cut == "A short one. The ferries stopped for a week. The ferries stopped for a week."


def test_a_stop_that_ends_no_sentence_is_not_a_cut():
    """'Dr.' ends no sentence: the cut is at a word, with '…'."""
    text = "We asked the good Dr. Smith about the river and the ferries"
    assert cut_to_words(text, 30) == "We asked the good Dr. Smith…"


def test_a_cut_never_ends_on_a_function_word():
    """'…the…', '…de…': the cut goes back to a word that carries meaning."""
    assert cut_to_words("We walked along the river and then over the bridge", 33) == (
        "We walked along the river…"
    )
    assert cut_to_words("O termo de renovação do contrato foi assinado", 13) == "O termo…"


def test_a_cut_never_ends_against_a_web_address():
    """An address is never the word before '…' (it would join the link), nor cut inside."""
    text = "See the ministry's page http://www.moe.gov.sg/media/press/2009/06/more-news for more"
    cut = cut_to_words(text, 60)
    assert cut == "See the ministry's page…"
    assert excerpt("Details at http://www.moe.gov.sg/media/press/2009...") == "Details at…"




@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(WORD, URL), min_size=1, max_size=30), st.integers(5, 200),
       st.sampled_from(["", "...", "…", " …"]))  # fmt: skip
def test_no_link_facet_holds_text_its_source_url_did_not(words, limit, ending):
    """However an excerpt is cut, every link it shows is an address the source had, whole."""
    source = " ".join(words) + ending
    urls = [w for w in words if w.startswith("https://")]
    for shown in (cut_to_words(excerpt(source), limit), excerpt(source)):
        for _visible, uri in linked(shown).links():
            assert any(u.rstrip(".,") == uri or u == uri for u in urls), (shown, uri)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(WORD, URL), min_size=20, max_size=80))
def test_no_posted_link_facet_holds_text_its_source_did_not(words):
    """The announcement of an item whose long description holds addresses: each link facet of
    the post is the item's link or an address of the description, whole, with no '…'."""
    source = " ".join(words)
    urls = {w.rstrip(".,") for w in words if w.startswith("https://")}
    issue = Issue(guid="g", link="https://item.example/p", title="An item",
                  subtitle=excerpt(source))  # fmt: skip
    for thread in compose(issue, _profile()):
        for post in thread:
            raw = post.text.encode("utf-8")
            for facet in post.facets:
                (feature,) = facet.features
                if not isinstance(feature, LinkFeature):
                    continue
                uri = feature.uri
                shown = raw[facet.start : facet.end].decode()
                assert "…" not in shown and "…" not in uri
                assert uri == issue.link or uri in urls, (post.text, uri)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("And then we waited...", "And then we waited…"),
     ("The river rose and the river fell; " * 3 + "and then the river...",
      "The river rose and the river fell; " * 3 + "and then the river…"),
     ("Word " * 25 + "renovaç...", ("Word " * 25).strip() + "…")],
)  # fmt: skip
def test_a_sources_own_dots_keep_a_whole_last_word(text, expected):
    """'...' after a whole word keeps it (a short text, or a word written whole before); after a
    program's cut inside a word ("renovaç...") the word goes."""
    assert excerpt(text) == expected


# -- links --------------------------------------------------------------------------------------


def test_feedburner_orig_link_is_preferred_and_untracked(troubles):
    assert troubles["Through FeedBurner"].link == "https://troubles.example/through-feedburner?id=7"


def test_tracking_parameters_are_removed(troubles):
    assert troubles["Tracked"].link == "https://troubles.example/tracked?p=12"


def test_the_link_as_the_feed_gives_it_still_picks_the_issue():
    """preview --entry with the feed's tracked link finds the issue (posted untracked)."""
    tracked = ("https://troubles.example/tracked?source=rss_feed&fbclid=IwAR0x&p=12&mc_cid=a1"
               "&mc_eid=b2&ref=rss")  # fmt: skip
    result = invoke("preview", "--offline", "--json", "--entry", tracked, "--feed",
                    str(FEEDS / "troubles.rss"))  # fmt: skip
    assert result.exit_code == 0, result.output
    (element,) = json.loads(result.stdout)
    assert element["entry"]["link"] == "https://troubles.example/tracked?p=12"


@pytest.mark.parametrize(
    ("url", "expected"),
    [("https://a.example/p?utm_source=rss&utm_medium=feed", "https://a.example/p"),
     ("https://a.example/p?id=3&utm_campaign=x#top", "https://a.example/p?id=3#top"),
     ("https://a.example/p?source=rss----abc", "https://a.example/p"),
     ("https://a.example/p?ref=rss&fbclid=1&mc_cid=2&mc_eid=3", "https://a.example/p"),
     ("https://a.example/p?ref=homepage&source=twitter", "https://a.example/p?ref=homepage&source=twitter"),
     ("https://a.example/?p=1546121", "https://a.example/?p=1546121"),
     ("https://a.example/p", "https://a.example/p")],
)  # fmt: skip
def test_untracked(url, expected):
    assert untracked(url) == expected


@pytest.mark.parametrize(
    ("title", "link"),
    [("Relative to xml:base", "https://base.example/blog/post-a"),
     ("Relative to the guid", "https://guid.example/two"),
     ("Relative to the feed", "https://troubles.example/posts/three"),
     ("Only a guid", "https://troubles.example/only-guid")],
)  # fmt: skip
def test_relative_links_resolve_against_xml_base_guid_and_the_feeds_own_address(
    troubles, title, link
):
    """xml:base, then the guid, then rel="self"; a guid that is an address is the link."""
    assert troubles[title].link == link


def test_short_link_is_never_cut_inside_a_percent_escape():
    shown = short_link("https://ru.example/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8")
    assert shown.endswith("...")
    assert not re.search(r"%[0-9A-F]?\.\.\.$", shown), shown
    assert short_link("https://arstechnica.com/?p=1546121") == "arstechnica.com?p=1546121"


def test_a_card_with_no_title_is_titled_with_the_feeds_name(profile):
    """An untitled entry's card carries the feed's name, never an address."""
    data = (b'<rss version="2.0"><channel><title>Field Notes</title><language>en</language>'
            b"<item><link>https://notes.example/untitled</link>"
            b"<description>Words without a title.</description></item></channel></rss>")
    (issue,) = parse_feed(data, profile).issues
    (root,) = compose(issue, profile)[0]
    assert root.card is not None and root.card.title == "Field Notes"


# -- languages ----------------------------------------------------------------------------------


def test_a_feed_that_declares_no_language_gets_the_language_of_its_words(troubles):
    assert troubles["Die Flüsse im Frühling"].language == "de"
    assert troubles["Реки весной"].language == "ru"
    assert troubles["Il caffè è già pronto"].language == "it"
    assert troubles["Ok"].language == "en"  # too short to tell: the profile's


def test_a_declared_language_is_kept_and_not_guessed(profile):
    data = (FEEDS / "letter.rss").read_bytes().replace(b"<language>en", b"<language>de_DE")
    assert {i.language for i in read("letter.rss", profile, data).issues} == {"de-DE"}


@pytest.mark.parametrize(
    ("value", "tag"),
    [("it-IT", "it-IT"), ("en_US", "en-US"), ("de-DE.UTF-8", "de-DE"), ("en, fr", "en"),
     ("zh-cn", "zh-cn"), ("English", ""), ("", ""), (None, "")],
)  # fmt: skip
def test_language_tags(value, tag):
    assert language_tag(value) == tag


def test_detection_only_when_confident():
    assert detect_language("Hello world") == ""
    assert detect_language("Die Bundesregierung hat am Mittwoch neue Regeln beschlossen.") == "de"


# -- preview over many entries ------------------------------------------------------------------


def test_preview_all_of_a_long_feed_caps_card_fetches_and_shows_progress(tmp_path):
    """30 entries, each linking to a page: pages are fetched for the newest 25 only, and stderr
    says so and shows progress; stdout holds all 30."""
    from bot.cli.preview import MAX_CARD_ISSUES

    site = Site()
    try:
        items = []
        for n in range(30):
            path = f"/post/{n}"
            site.routes[path] = Route(page(f"<title>Page {n}</title>"))
            items.append(f"<item><title>Post number {n}</title><link>{site.url(path)}</link>"
                         f"<description>Words of post {n}.</description>"
                         f"<pubDate>Mon, 01 Apr 2024 {n:02d}:00:00 GMT</pubDate></item>")
        feed = tmp_path / "long.rss"
        feed.write_text('<rss version="2.0"><channel><title>Long</title><language>en</language>'
                        + "".join(items) + "</channel></rss>")  # fmt: skip
        env = {"CARDS_ALLOW_PRIVATE": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
        result = invoke("preview", "--all", "--feed", str(feed), env=env)
    finally:
        site.close()
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Issue: Post number") == 30
    assert site.total == MAX_CARD_ISSUES
    assert f"pages fetched for the newest {MAX_CARD_ISSUES} issues" in result.stderr
    assert "previewing 30 issues" in result.stderr


def _profile():
    from bot.core.profile import load_profile

    return load_profile()
