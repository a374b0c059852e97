"""Reading a feed's bytes into Issues: fields, order, odd entries, malformed and non-feeds."""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html import escape

import pytest
from conftest import SUBSTACK_FEEDS
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.model import Feed
from bot.core.reader import parse_feed
from bot.errors import FeedError

SEED_LINK = "https://aablanco.substack.com/p/russias-eroding-influence-in-the"


def rss(*items: str, language: str | None = "en", extra: str = "") -> bytes:
    lang = f"<language>{language}</language>" if language else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Test Letter</title><link>https://t.example</link>{lang}{extra}"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(title: str, link: str, date: str | None = None, html: str = "", guid: bool = True,
         description: str = "") -> str:  # fmt: skip
    parts = [f"<title>{escape(title)}</title>", f"<link>{link}</link>"]
    if guid:
        parts.append(f'<guid isPermaLink="false">{link}</guid>')
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    if description:
        parts.append(f"<description><![CDATA[{description}]]></description>")
    if html:
        parts.append(f"<content:encoded><![CDATA[{html}]]></content:encoded>")
    return "<item>" + "".join(parts) + "</item>"


@pytest.fixture(scope="module")
def seed_feed(bwr_feed_bytes, profile) -> Feed:
    return parse_feed(bwr_feed_bytes, profile)


def test_seed_issue_fields(seed_feed, bwr_feed_bytes):
    """The seed issue's guid, link, title, subtitle, date, cover, language and hash are right."""
    assert seed_feed.info.title == "Barbershop Whispers....Russia"
    assert seed_feed.info.link == "https://aablanco.substack.com"
    assert seed_feed.problem is None
    (issue,) = seed_feed.issues
    assert issue.guid == SEED_LINK and issue.link == SEED_LINK
    assert issue.title == "Russia’s Eroding Influence in the South Caucasus - Azerbaijan"
    assert issue.subtitle == (
        "Russian Led Multilateral Organizations | Shifting Alliances in the South Caucasus"
    )
    assert issue.published == datetime(2025, 7, 6, 14, 3, 5, tzinfo=UTC)
    assert issue.cover_image is not None
    assert issue.cover_image.endswith("a3c1f0e2-bwr28-cover_1200x800.jpeg")
    assert issue.language == "en"
    content = "{http://purl.org/rss/1.0/modules/content/}encoded"
    html = ET.fromstring(bwr_feed_bytes).find("channel/item").findtext(content)  # type: ignore[union-attr]
    assert issue.content_hash == hashlib.sha256(html.encode()).hexdigest()  # the HTML as sent


def test_seed_issue_sections(seed_feed):
    """The seed's sections arrive on the Issue: 3 takeaways, 1 follow-up, 2 quick bites, volume."""
    (issue,) = seed_feed.issues
    assert [t.label for t in issue.takeaways] == [
        "FOREVER NEIGHBORS",
        "SOVERIGNTY AND AGENCY",
        "ERODING INFLUENCE",
    ]
    assert [i.headline for i in issue.follow_ups] == ["Slovakia Vetoes 18th EU Sanctions Package"]
    assert [i.headline for i in issue.quick_bites] == [
        "Major General Mikhail Gudkov Meets His Maker - A Ukrainian Missile",
        "Moscow is the First to Recognize the Taliban Government of Afghanistan",
    ]
    assert issue.volume == "Vol 3, No 28 - BWR 06.07.2025"
    assert issue.is_bwr_shaped and issue.warnings == ()


@pytest.mark.parametrize("path", SUBSTACK_FEEDS, ids=lambda p: p.name)
def test_real_substack_feeds(path, profile):
    """Real Substack feeds read without error, every item with its own title and link."""
    root = ET.fromstring(path.read_bytes())
    expected = {
        (el.findtext("link") or "").strip(): " ".join((el.findtext("title") or "").split())
        for el in root.iter("item")
    }
    feed = parse_feed(path.read_bytes(), profile)
    assert feed.problem is None
    assert {i.link: i.title for i in feed.issues} == expected
    dates = [i.published for i in feed.issues]
    assert all(d is not None and d.tzinfo is UTC for d in dates)
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert all(i.language == "en" and i.guid == i.link for i in feed.issues)


def test_other_newsletters_are_title_and_link_only(profile):
    """An entry not shaped like BWR still becomes an Issue: title, subtitle, link, no sections."""
    data = rss(
        item(
            "Five days &amp; counting",
            "https://x.example/p/five",
            "Tue, 22 Apr 2025 13:23:00 GMT",
            html="<h2>Spark Updates</h2><p>Apps are open.</p>",
            description="Penn Spark Newsletter &#8212; April",
        )
    )
    (issue,) = parse_feed(data, profile).issues
    assert issue.title == "Five days & counting"
    assert issue.subtitle == "Penn Spark Newsletter — April"
    assert issue.link == "https://x.example/p/five"
    assert not issue.is_bwr_shaped
    assert (issue.takeaways, issue.follow_ups, issue.quick_bites, issue.volume) == (
        (),
        (),
        (),
        None,
    )


def test_newest_first_stable_undated_last(profile):
    """Issues come newest first; equal dates keep feed order; undated ones go last."""
    data = rss(
        item("old", "https://x.example/old", "Sun, 01 Jun 2025 10:00:00 GMT"),
        item("undated", "https://x.example/undated"),
        item("new-a", "https://x.example/new-a", "Sun, 06 Jul 2025 10:00:00 +0200"),
        item("new-b", "https://x.example/new-b", "Sun, 06 Jul 2025 08:00:00 GMT"),
        item("mid", "https://x.example/mid", "Sun, 15 Jun 2025 10:00:00 GMT"),
    )
    feed = parse_feed(data, profile)
    assert [i.title for i in feed.issues] == ["new-a", "new-b", "mid", "old", "undated"]
    assert feed.issues[0].published == datetime(2025, 7, 6, 8, 0, tzinfo=UTC)
    assert feed.issues[-1].published is None


def test_guid_falls_back_to_link(profile):
    """An entry without a guid is identified by its link."""
    (issue,) = parse_feed(rss(item("t", "https://x.example/p/t", guid=False)), profile).issues
    assert issue.guid == "https://x.example/p/t"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ru", "ru"), ("en-US", "en-US"), (None, "en"), ("not a language!", "en")],
)
def test_language_from_feed_else_profile(profile, language, expected):
    """The feed's language tags each issue; without a usable one, the profile's language."""
    feed = parse_feed(rss(item("t", "https://x.example/t"), language=language), profile)
    assert feed.info.language == expected
    assert feed.issues[0].language == expected


def test_cover_image_is_the_image_enclosure(profile):
    """The cover is the image enclosure's address; a non-image enclosure is not a cover."""
    img = '<enclosure url="https://cdn.example/c.jpg" length="0" type="image/jpeg"/>'
    mp3 = '<enclosure url="https://cdn.example/a.mp3" length="0" type="audio/mpeg"/>'
    data = rss(
        item("img", "https://x.example/img", "Sun, 06 Jul 2025 10:00:00 GMT").replace(
            "</item>", img + "</item>"
        ),
        item("mp3", "https://x.example/mp3", "Sun, 05 Jul 2025 10:00:00 GMT").replace(
            "</item>", mp3 + "</item>"
        ),
    )
    feed = parse_feed(data, profile)
    assert [i.cover_image for i in feed.issues] == ["https://cdn.example/c.jpg", None]


def test_malformed_feed_with_entries_is_read_and_reported(profile, caplog):
    """A broken feed that still has entries is read, with the problem recorded and logged."""
    data = rss(item("first", "https://x.example/1", "Sun, 06 Jul 2025 10:00:00 GMT"))
    data = data.replace(b"</channel></rss>", b"<item><title>broken</title>")
    with caplog.at_level(logging.WARNING, logger="bot.core.reader"):
        feed = parse_feed(data, profile, source="test.xml")
    assert [i.title for i in feed.issues][:1] == ["first"]
    assert feed.problem
    (record,) = [r for r in caplog.records if r.getMessage().startswith("feed.malformed")]
    assert "source=test.xml" in record.getMessage()


def test_valid_feed_without_items_is_empty_not_an_error(profile):
    """A new newsletter's empty feed is an empty Feed."""
    feed = parse_feed(rss(), profile)
    assert feed.issues == () and feed.info.title == "Test Letter"


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n", b"garbage", b"\xff\xfe\x00"],
)
def test_not_a_feed_is_one_line_feed_error(profile, data):
    """Bytes holding no feed at all raise one FeedError line naming the source."""
    with pytest.raises(FeedError) as err:
        parse_feed(data, profile, source="bad.xml")
    message = str(err.value)
    assert message.startswith("bad.xml is not an RSS or Atom feed")
    assert "\n" not in message


def test_entry_without_content_has_no_sections(profile):
    """An entry with only a title and link reads fine, with an empty content hash input."""
    (issue,) = parse_feed(rss(item("bare", "https://x.example/bare")), profile).issues
    assert issue.title == "bare" and not issue.is_bwr_shaped
    assert issue.content_hash == hashlib.sha256(b"").hexdigest()


def test_markup_drift_inside_a_feed(profile):
    """A drifted issue (h2 sections, en dashes) read through the feed keeps its sections."""
    html = (
        "<h2>Takeaways</h2><ul><li><b>GRAIN</b> &#8211; Wheat is leverage.</li></ul>"
        "<h2>Quick Bites</h2><h3>Wheat Falls</h3><p>Down 4%.</p>"
        "<p><em>Vol 3, No 30 - BWR 03.08.2025</em></p>"
    )
    (issue,) = parse_feed(rss(item("t", "https://x.example/t", html=html)), profile).issues
    assert [(t.label, t.text) for t in issue.takeaways] == [("GRAIN", "Wheat is leverage.")]
    assert [(i.headline, i.paragraphs) for i in issue.quick_bites] == [
        ("Wheat Falls", ("Down 4%.",))
    ]
    assert issue.volume == "Vol 3, No 30 - BWR 03.08.2025"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_feed_or_feed_error(profile, data):
    """Any bytes at all give a Feed or a FeedError, never another exception."""
    try:
        assert isinstance(parse_feed(data, profile), Feed)
    except FeedError as exc:
        assert str(exc)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=100))
def test_arbitrary_entry_content_never_raises(profile, html, title):
    """Whatever an entry's title and content hold, the feed still reads."""
    safe = html.replace("]]>", "")
    data = rss(item(title, "https://x.example/p", html=safe))
    try:
        feed = parse_feed(data, profile)
    except FeedError:
        return  # text that breaks the XML itself (e.g. control characters)
    assert all(i.link == "https://x.example/p" for i in feed.issues)


def test_seed_matches_the_composers_hand_built_issue(seed_feed):
    """The reader reads the seed exactly as the thread composer's tests expect it (bwr_seed)."""
    from dataclasses import replace

    from bwr_seed import SEED_ISSUE

    (issue,) = seed_feed.issues
    assert replace(issue, content_hash=SEED_ISSUE.content_hash) == SEED_ISSUE


def test_atom_feed(profile):
    """An Atom feed reads too: HTML titles decoded, xml:lang used, dates turned to UTC."""
    data = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ru">'
        b'<title type="html">A &amp;amp; B</title><link href="https://a.example/"/><id>x</id>'
        b'<entry><title type="html">Caf&amp;eacute; &lt;b&gt;bold&lt;/b&gt;</title>'
        b'<link href="https://a.example/1"/><id>tag:1</id>'
        b"<updated>2025-07-06T14:03:05+03:00</updated>"
        b'<content type="html">&lt;h3&gt;Quick Bites&lt;/h3&gt;&lt;h4&gt;One&lt;/h4&gt;'
        b"&lt;p&gt;Text&lt;/p&gt;</content></entry></feed>"
    )
    feed = parse_feed(data, profile)
    assert (feed.info.title, feed.info.language) == ("A & B", "ru")
    (issue,) = feed.issues
    assert (issue.guid, issue.link, issue.title) == ("tag:1", "https://a.example/1", "Café bold")
    assert issue.published == datetime(2025, 7, 6, 11, 3, 5, tzinfo=UTC)
    assert [(i.headline, i.paragraphs) for i in issue.quick_bites] == [("One", ("Text",))]
    assert issue.language == "ru"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_damaged_seed_feed_gives_a_feed_or_feed_error(profile, bwr_feed_bytes, data):
    """The seed feed cut short or with bytes overwritten reads partly or fails as a FeedError."""
    cut = data.draw(st.integers(0, len(bwr_feed_bytes)))
    damaged = bytearray(bwr_feed_bytes[:cut])
    for _ in range(data.draw(st.integers(0, 5))):
        if damaged:
            damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    try:
        feed = parse_feed(bytes(damaged), profile)
    except FeedError as exc:
        assert str(exc)
        return
    assert all(isinstance(i.title, str) and isinstance(i.link, str) for i in feed.issues)


def test_relative_reading_links_become_absolute(profile):
    """A reading link written as a relative address points at the newsletter's own site."""
    html = (
        "<h3>Quick Bites</h3><h4>Bite</h4><p>Text.</p><p><b>Additional Reading(s)</b></p>"
        '<ul><li><a href="/p/older-issue">An Older Issue</a></li>'
        '<li><a href="#footnote-1">1</a></li></ul>'
    )
    (issue,) = parse_feed(rss(item("t", "https://x.example/p/t", html=html)), profile).issues
    (bite,) = issue.quick_bites
    assert [(x.title, x.url) for x in bite.links] == [
        ("An Older Issue", "https://x.example/p/older-issue")
    ]


def test_relative_item_link_resolves_against_the_channel_link(profile):
    """'/relative/link' becomes an address on the channel's site; the scheme and host are
    written in normal form."""
    feed = parse_feed(rss(item("A", "/relative/link"), item("B", "HTTP://T.Example/b")), profile)
    assert {i.title: i.link for i in feed.issues} == {
        "A": "https://t.example/relative/link", "B": "http://t.example/b"}  # fmt: skip
    assert all(not i.warnings for i in feed.issues)


def test_relative_link_resolves_against_xml_base_before_the_feed(profile):
    """An Atom entry's xml:base comes before the feed's own address."""
    atom = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        b'xml:base="https://base.example/blog/"><title>T</title><id>urn:x</id>'
        b'<entry><title>E</title><id>urn:e</id><link href="posts/e"/>'
        b"<updated>2024-01-01T00:00:00Z</updated></entry></feed>"
    )
    (issue,) = parse_feed(atom, profile, source="https://feed.example/atom.xml").issues
    assert issue.link == "https://base.example/blog/posts/e"


@pytest.mark.parametrize("link", ["right", "1"])
def test_a_link_that_is_not_an_address_is_kept_and_warned_about(profile, link):
    """A link that is not an address at all stays as written, and `inspect` warns about it."""
    (issue,) = parse_feed(rss(item("A", link)), profile).issues
    assert issue.link == link
    assert issue.warnings == (
        f"the issue's link {link!r} is not a web address: posted without a card or link",)


def test_description_only_item_uses_its_description(profile):
    """Without content:encoded the description is the subtitle, minus its read-more link."""
    desc = ('<p>What happened today.</p> '
            '<a href="https://t.example/p/a">Continue reading...</a>')  # fmt: skip
    (issue,) = parse_feed(rss(item("A", "https://t.example/p/a", description=desc)), profile).issues
    assert issue.subtitle == "What happened today."


def test_mojibake_in_title_and_description_is_repaired(profile):
    """'giÃ ' (UTF-8 read as Latin-1 by the publisher) is posted as 'già'."""
    (issue,) = parse_feed(
        rss(item("Ã‰ giÃ  qui", "https://t.example/p/a", description="Ã¨ giÃ  fatto")), profile
    ).issues
    assert (issue.title, issue.subtitle) == ("É già qui", "è già fatto")
