"""Reading an issue's HTML: takeaways, follow-ups, quick bites, volume, and what is left out."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.issue import IssueSections, parse_takeaway, read_sections
from bot.core.model import Item, Link, Takeaway

ISSUES = Path(__file__).parent / "fixtures" / "issues"


def fixture(name: str) -> str:
    return (ISSUES / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed_html(bwr_feed_bytes: bytes) -> str:
    return feedparser.parse(bwr_feed_bytes, sanitize_html=False).entries[0].content[0].value


@pytest.fixture(scope="module")
def seed(seed_html: str, profile) -> IssueSections:
    return read_sections(seed_html, profile)


def all_text(s: IssueSections) -> str:
    parts = [s.volume or ""]
    parts += [f"{t.label} {t.text}" for t in s.takeaways]
    for item in s.follow_ups + s.quick_bites:
        parts += [item.headline, *item.paragraphs, *(f"{x.title} {x.url}" for x in item.links)]
    return "\n".join(parts)


# -- the seed issue -------------------------------------------------------------------------


def test_seed_takeaways_exact(seed):
    """The seed's three takeaways come out with their ALL-CAPS labels and decoded text."""
    assert seed.takeaways == (
        Takeaway(
            "FOREVER NEIGHBORS",
            "It’s a tough neighborhood, and moving isn’t an option. Peace with one’s nemesis "
            "may be the only option to escape from another.",
        ),
        Takeaway(
            "SOVERIGNTY AND AGENCY",
            "Azerbaijan has found a formula for escaping the Russian orbit of influence. "
            "Can other “Near Abroad” states employ a similar strategy?",
        ),
        Takeaway(
            "ERODING INFLUENCE",
            "Azerbaijan and Syria illustrate Russia’s waning influence, partly due to "
            "Putin’s war draining Russia’s resources.",
        ),
    )


def test_seed_follow_up_exact(seed):
    """The seed's one follow-up has its headline, three paragraphs and the Izvestia link."""
    (item,) = seed.follow_ups
    assert item.headline == "Slovakia Vetoes 18th EU Sanctions Package"
    assert len(item.paragraphs) == 3
    assert item.paragraphs[0] == (
        "The European Union cannot pass the recently proposed 18th package of Russian "
        "sanctions because of vetoes from Slovakia and Hungary."
    )
    assert "estimated at €20 billion." in item.paragraphs[1]
    assert item.links == (
        Link(
            "The Right of Veto: Slovakia Intends to Exchange Veto for Gas Guarantees "
            "(Izvestia, 03 Jul 2025)",
            "https://iz.ru/1914000/2025-07-03/pravo-veto-slovakiia-nameren-obmeniat-veto-na-gazovye-garantii",
        ),
    )


def test_seed_quick_bites_exact(seed):
    """Both quick bites: exact headlines, paragraph counts (blockquote included) and links."""
    first, second = seed.quick_bites
    assert first.headline == "Major General Mikhail Gudkov Meets His Maker - A Ukrainian Missile"
    assert len(first.paragraphs) == 4
    assert first.links == (
        Link(
            "Russian Deputy Commander Killed in Air Strike in Kursk (The Guardian, 03 Jul 2025)",
            "https://www.theguardian.com/world/2025/jul/03/"
            "russian-deputy-navy-commander-killed-in-ukrainian-strike-in-kursk",
        ),
    )
    assert second.headline == (
        "Moscow is the First to Recognize the Taliban Government of Afghanistan"
    )
    assert len(second.paragraphs) == 5
    assert second.paragraphs[1].startswith("“Recognition of Islamic Emirate of Afghanistan")
    assert second.paragraphs[-1] == (
        "Zhirnov added that the move “demonstrates Russia’s sincere desire to build a "
        "full-fledged partnership with Afghanistan.”"
    )
    assert second.links == ()


def test_seed_volume_is_not_a_paragraph(seed):
    """The closing volume line is the issue's volume, not the last quick bite's paragraph."""
    assert seed.volume == "Vol 3, No 28 - BWR 06.07.2025"
    assert all("Vol 3" not in p for p in seed.quick_bites[-1].paragraphs)


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Dear BWR Shoeshiners",
        "IMPORTANT NOTICE",
        "Thank you for reading",
        "The South Caucasus. Source",
        "Share",
        "Subscribe",
        "Follow BWR",
        "Mr. Rogers",
    ],
)
def test_seed_has_no_boilerplate(seed, boilerplate):
    """Greeting, notices, widgets, captions, buttons and the essay stay out of every section."""
    assert boilerplate not in all_text(seed)


def test_seed_has_no_warnings(seed):
    """The seed reads cleanly: nothing seen but left unplaced."""
    assert seed.warnings == ()


# -- markup drift -----------------------------------------------------------------------------

TAKEAWAY_BULLETS = (
    "<ul><li><p><strong>FOREVER NEIGHBORS</strong>&#8212;A tough neighborhood.</p></li>"
    "<li><p><strong>ERODING INFLUENCE</strong>&#8212;Waning influence.</p></li></ul>"
    "<p>The essay begins.</p>"
)
EXPECTED_TAKEAWAYS = (
    Takeaway("FOREVER NEIGHBORS", "A tough neighborhood."),
    Takeaway("ERODING INFLUENCE", "Waning influence."),
)


@pytest.mark.parametrize("tag", ["h1", "h2", "h3", "h4", "h5", "h6"])
@pytest.mark.parametrize("words", ["Takeaways", "My Takeaways", "Takeaways:", "TAKEAWAYS"])
def test_takeaways_heading_at_any_level(profile, tag, words):
    """The takeaways heading is found at any level and in any of its spellings."""
    html = f"<p>Intro.</p><{tag}>{words}</{tag}>{TAKEAWAY_BULLETS}"
    assert read_sections(html, profile).takeaways == EXPECTED_TAKEAWAYS


@pytest.mark.parametrize("words", ["Takeaways", "My Takeaways", "Takeaways:"])
def test_takeaways_heading_as_bold_paragraph(profile, words):
    """A paragraph that is only bold text works as the takeaways heading."""
    html = f"<p><strong>{words}</strong></p>{TAKEAWAY_BULLETS}"
    assert read_sections(html, profile).takeaways == EXPECTED_TAKEAWAYS


def test_takeaways_end_where_their_shape_ends(profile):
    """The essay paragraph after the bullets is not a takeaway and raises no warning."""
    result = read_sections(f"<h3>Takeaways</h3>{TAKEAWAY_BULLETS}", profile)
    assert len(result.takeaways) == 2
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("text", "lead", "expected"),
    [
        (
            "FOREVER NEIGHBORS—It’s tough.",
            "FOREVER NEIGHBORS",
            ("FOREVER NEIGHBORS", "It’s tough."),
        ),
        ("FOREVER NEIGHBORS—It’s tough.", "", ("FOREVER NEIGHBORS", "It’s tough.")),
        ("FOREVER NEIGHBORS – It’s tough.", "", ("FOREVER NEIGHBORS", "It’s tough.")),
        ("FOREVER NEIGHBORS - It’s tough.", "", ("FOREVER NEIGHBORS", "It’s tough.")),
        ("FOREVER NEIGHBORS: It’s tough.", "", ("FOREVER NEIGHBORS", "It’s tough.")),
        ("FOREVER NEIGHBORS:It’s tough.", "", ("FOREVER NEIGHBORS", "It’s tough.")),
        ("WIN-WIN—Both gain.", "", ("WIN-WIN", "Both gain.")),
        ("U.S. AND EU: Both gain.", "", ("U.S. AND EU", "Both gain.")),
        ("NATO - RUSSIA — Both lose.", "", ("NATO - RUSSIA", "Both lose.")),
        ("IMPORTANT: text with — a dash", "", ("IMPORTANT", "text with — a dash")),
        ("ЕВРАЗИЯ — Новые союзы.", "", ("ЕВРАЗИЯ", "Новые союзы.")),
        (
            "Forever neighbors: it’s tough.",
            "Forever neighbors:",
            ("Forever neighbors", "it’s tough."),
        ),
        (
            "FOREVER NEIGHBORS It’s tough.",
            "FOREVER NEIGHBORS",
            ("FOREVER NEIGHBORS", "It’s tough."),
        ),
        ("FOREVER NEIGHBORS It’s tough.", "", None),
        ("An essay sentence — with a dash.", "", None),
        ("A: lowercase label.", "", None),
        ("SHOUTING WITHOUT TEXT—", "", None),
        ("LIGHT HOLIDAY READING - MAYBE", "", None),
        ("中国 — 新的伙伴", "", None),
        ("EU — 新的伙伴", "", ("EU", "新的伙伴")),
        # A dash between capitals with no space joins words of the label.
        ("U.S.–RUSSIA TALKS — Nothing came.", "", ("U.S.–RUSSIA TALKS", "Nothing came.")),
        (
            "U.S.–RUSSIA TALKS—Nothing came.",
            "U.S.–RUSSIA TALKS",
            ("U.S.–RUSSIA TALKS", "Nothing came."),
        ),
        ("U.S.–RUSSIA: Talks stall.", "", ("U.S.–RUSSIA", "Talks stall.")),
        ("EU—RUSSIA GAS – Flows stop.", "", ("EU—RUSSIA GAS", "Flows stop.")),
        ("NATO—USA leads.", "", ("NATO", "USA leads.")),
        ("PUTIN’S WAR — It drains.", "", ("PUTIN’S WAR", "It drains.")),
        ("G7 SUMMIT 2025 – The G7 met.", "", ("G7 SUMMIT 2025", "The G7 met.")),
        ("", "", None),
    ],
)
def test_parse_takeaway_table(text, lead, expected):
    """Labels are the ALL-CAPS part before an em/en dash, ' - ' or colon (or a bold lead)."""
    assert parse_takeaway(text, lead) == expected


def test_takeaways_as_plain_paragraphs_without_bold(profile):
    """Bullets may be plain paragraphs, with no bold labels and mixed separators."""
    result = read_sections(fixture("bold_paragraphs.html"), profile)
    assert result.takeaways == (
        Takeaway("FOREVER NEIGHBORS", "It’s a tough neighborhood."),
        Takeaway("SOVEREIGNTY", "Azerbaijan found a formula."),
        Takeaway("ERODING INFLUENCE", "Russia’s reach is shrinking."),
    )


def test_bold_paragraph_sections_and_items(profile):
    """Follow-ups and quick bites written as bold paragraphs, with bold reading labels."""
    result = read_sections(fixture("bold_paragraphs.html"), profile)
    assert result.follow_ups == (
        Item(
            "Slovakia Vetoes the Package",
            ("The EU cannot pass the package.", "“We need guarantees,” said the minister."),
            (
                Link("The Right of Veto (Izvestia, 03 Jul 2025)", "https://example.org/veto"),
                Link("Gas Guarantees (Kommersant, 04 Jul 2025)", "https://example.org/gas"),
            ),
        ),
    )
    assert result.quick_bites == (
        Item("General Killed", ("A general was killed.",)),
        Item(
            "Taliban Recognised",
            ("Moscow is first.",),
            (Link("Moscow Recognises Kabul (BBC, 04 Jul 2025)", "https://example.org/taliban"),),
        ),
    )
    assert result.volume == "Vol 3, No 29 - BWR 13.07.2025"
    assert "Thank you" not in all_text(result) and "IMPORTANT" not in all_text(result)
    assert result.warnings == ()


def test_h2_sections_en_dash_and_heading_reading_label(profile):
    """h2 "My Takeaways", en dashes, "Follow-Ups", "QUICK BITES", an h5 "Additional Readings:"."""
    result = read_sections(fixture("h2_en_dash.html"), profile)
    assert result.takeaways == (
        Takeaway("GRAIN AS LEVERAGE", "Moscow uses wheat the way it once used gas."),
        Takeaway("AFRICA WATCHES", "Buyers in Cairo and Nairobi keep their options open."),
    )
    assert result.follow_ups == (
        Item(
            "Odesa Port Reopens",
            ("Ships are moving again.",),
            (
                Link("Odesa Ships Move (Reuters, 01 Aug 2025)", "https://example.org/odesa-1"),
                Link("The Corridor Holds (FT, 02 Aug 2025)", "https://example.org/odesa-2"),
            ),
        ),
    )
    assert result.quick_bites == (
        Item("Wheat Prices Fall", ("Prices fell 4% this week.", "Traders blame the weather.")),
        Item("A Quiet Summit", ("Nobody came.",)),
    )
    assert result.volume == "Vol 3, No 30 - BWR 03.08.2025"
    assert result.warnings == ()


def test_long_takeaways_emoji_and_cyrillic(profile):
    """Long takeaways, emoji and Cyrillic survive intact; a bullet's second paragraph joins it."""
    result = read_sections(fixture("h4_long_emoji_cyrillic.html"), profile)
    labels = [t.label for t in result.takeaways]
    assert labels == ["🔥 HOT SUMMER", "НОВЫЙ ПОРЯДОК", "NO BOLD"]
    assert result.takeaways[0].text == (
        "Moscow’s summer was long and hot. The heat broke records across the Volga, and the grid "
        "strained under the load of a million air conditioners. Officials promised new capacity "
        "by 2027, a promise they have made before. Residents, used to such promises, bought fans."
    )
    assert result.takeaways[1].text == "Кремль меняет правила 🇷🇺"
    assert result.takeaways[2].text == (
        "plain label with an em dash and spaces. A second paragraph of the same bullet."
    )


def test_standalone_quick_bites_end_at_same_level_heading(profile):
    """Quick Bites alone (no follow-ups) end at the next heading of their own level."""
    result = read_sections(fixture("h4_long_emoji_cyrillic.html"), profile)
    assert result.follow_ups == ()
    assert result.quick_bites == (
        Item(
            "Лапша на уши 🍝",
            ("The phrase means\n“noodles on the ears”.", "Quoted text with spaces."),
        ),
        Item("Second Bite", ("Short.",)),
    )


def test_follow_ups_only_with_inline_reading_label(profile):
    """A lone "Follow-up" section; "Additional Reading(s): <a>" on one line; intro reported."""
    result = read_sections(fixture("follow_ups_only.html"), profile)
    assert result.takeaways == () and result.quick_bites == ()
    assert result.follow_ups == (
        Item(
            "Wagner’s Return",
            ("They are back in Mali.",),
            (Link("Back in Mali (Le Monde, 05 Aug 2025)", "https://example.org/mali"),),
        ),
        Item("Sanctions Again", ("A 19th package is proposed.",)),
    )
    assert result.warnings == (
        "follow-ups: left out a paragraph outside any item: 'Two updates on earlier stories.'",
    )


def test_issue_without_sections(profile):
    """An essay with no newsletter sections yields empty sections and no warnings."""
    assert read_sections(fixture("no_sections.html"), profile) == IssueSections()


def test_non_content_is_left_out(profile):
    """Footnote anchors, videos, polls, captions, galleries, embeds and widgets are not text."""
    result = read_sections(fixture("noise.html"), profile)
    assert result.takeaways == (Takeaway("CLEAN TEXT", "Footnotes vanish here."),)
    assert result.quick_bites == (
        Item(
            "Embeds Are Skipped",
            ("Before the video.", "After the video."),
            (
                Link(
                    "Russia’s Near Abroad is in Play", "https://aablanco.substack.com/p/near-abroad"
                ),
            ),
        ),
    )
    text = all_text(result)
    for junk in (
        "Which is best",
        "A caption",
        "Gallery text",
        "Subscribe",
        "footnote text",
        "Card",
    ):
        assert junk not in text


def test_items_directly_under_combined_heading(profile):
    """Items straight under "Follow-ups & Quick Bites" are quick bites unless marked follow-ups."""
    html = (
        "<h2>Follow-ups and Quick Bites</h2>"
        "<h3>Follow-up: Slovakia Again</h3><p>Still vetoing.</p>"
        "<h3>Gudkov Killed</h3><p>A general.</p>"
    )
    result = read_sections(html, profile)
    assert result.follow_ups == (Item("Slovakia Again", ("Still vetoing.",)),)
    assert result.quick_bites == (Item("Gudkov Killed", ("A general.",)),)


def test_missing_reading_list_is_reported(profile):
    """A reading label with nothing after it is kept out and reported, not an error."""
    html = "<h3>Quick Bites</h3><h4>Bite</h4><p>Text.</p><p><b>Additional Reading(s)</b></p>"
    result = read_sections(html, profile)
    assert result.quick_bites == (Item("Bite", ("Text.",)),)
    assert result.warnings == ("'Bite': a reading label with no links after it",)


def test_lead_in_paragraph_items(profile):
    """Quick bites written as "<b>Headline.</b> body" paragraphs become one item each."""
    html = (
        "<h3>Quick Bites</h3>"
        "<p><strong>Gudkov Killed.</strong> A general died.</p><p>More on him.</p>"
        "<p><strong>Taliban:</strong> Moscow recognises Kabul.</p>"
    )
    assert read_sections(html, profile).quick_bites == (
        Item("Gudkov Killed", ("A general died.", "More on him.")),
        Item("Taliban", ("Moscow recognises Kabul.",)),
    )


def test_unlabelled_takeaway_bullets_are_kept_and_reported(profile):
    """Bullets under Takeaways without a label are kept (empty label) and reported."""
    html = "<h3>Takeaways</h3><ul><li>Russia is weaker.</li></ul><p>Essay.</p>"
    result = read_sections(html, profile)
    assert result.takeaways == (Takeaway("", "Russia is weaker."),)
    assert result.warnings == (
        "takeaways: a bullet without an ALL-CAPS label: 'Russia is weaker.'",
    )


def test_entities_and_whitespace_normalised(profile):
    """Numeric and named entities decode, whitespace collapses, <br> becomes a line break."""
    html = (
        "<h3>Quick Bites</h3><h4>  Caf&eacute;\n  &#1052;&#1086;&#1089;&#1082;&#1074;&#1072;  </h4>"
        "<p>one&nbsp;&nbsp; two\t\tthree<br/>  four&#8203;</p>"
    )
    (item,) = read_sections(html, profile).quick_bites
    assert item == Item("Café Москва", ("one two three\nfour",))


# -- never an exception ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   ",
        "\x00",
        "<<<>>>",
        "</p></div></h3>",
        "<h3>Takeaways</h3>",
        "<h3>Quick Bites</h3><h4>",
        '<?xml version="1.0" encoding="latin-1"?><p>x</p>',
        "<div>" * 20000 + "deep" + "</div>" * 20000,
        "<ul><li>" * 3000 + "FOO BAR—deep" + "</li></ul>" * 3000,
        "<p>" + "<b><i>" * 5000 + "QUICK" + "</i></b>" * 5000 + "</p>",
        "\ud800 lone surrogate",
    ],
)
def test_strange_html_never_raises(profile, html):
    """Empty, broken, hostile or enormously nested HTML gives a result, never an exception."""
    assert isinstance(read_sections(html, profile), IssueSections)


TAGS = ["p", "div", "h2", "h3", "h4", "ul", "li", "strong", "em", "a", "blockquote", "br", "span"]
WORDS = [
    "Takeaways", "Follow-ups", "Quick Bites", "Follow-ups & Quick Bites", "Additional Reading(s)",
    "FOREVER NEIGHBORS—text", "Vol 3, No 28 - BWR", "IMPORTANT NOTICE", "Привет 🎉", "&#8212;",
    "&amp;", " ", "",
]  # fmt: skip


@st.composite
def html_trees(draw, depth: int = 0) -> str:
    """Random tag soup built from the newsletter's own tags and words."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 5 and draw(st.booleans()):
            tag = draw(st.sampled_from(TAGS))
            attr = draw(
                st.sampled_from(["", ' href="https://x.org/a"', ' class="footnote-anchor"'])
            )
            inner = draw(html_trees(depth + 1))
            close = draw(st.sampled_from([f"</{tag}>", ""]))
            parts.append(f"<{tag}{attr}>{inner}{close}")
        else:
            parts.append(draw(st.one_of(st.sampled_from(WORDS), st.text(max_size=20))))
    return "".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_trees())
def test_random_tag_soup_never_raises(profile, html):
    """Random structured HTML made of the newsletter's tags and words never crashes the reader."""
    result = read_sections(html, profile)
    for item in result.follow_ups + result.quick_bites:
        assert item.headline.strip() == item.headline
        assert all(p and p.strip() == p for p in item.paragraphs)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(profile, text):
    """Any text at all, read as HTML, gives sections (usually empty), never an exception."""
    assert isinstance(read_sections(text, profile), IssueSections)


def test_takeaways_typed_as_lines_of_one_paragraph(profile):
    """Takeaways typed with shift-enter (one paragraph, <br> between) are still separate."""
    html = (
        "<h3>Takeaways</h3><p><strong>FOREVER NEIGHBORS</strong>—A tough neighborhood.<br>"
        "<strong>ERODING INFLUENCE</strong>—Waning influence.</p><p>The essay begins.</p>"
    )
    assert read_sections(html, profile).takeaways == EXPECTED_TAKEAWAYS


def test_label_shaped_essay_paragraph_after_the_list_is_not_a_takeaway(profile):
    """After the takeaways' list, an essay paragraph opening in capitals is not a takeaway."""
    bullets = TAKEAWAY_BULLETS.replace("<p>The essay begins.</p>", "")
    html = f"<h3>Takeaways</h3>{bullets}<p>NATO: the alliance meets in July.</p>"
    assert read_sections(html, profile).takeaways == EXPECTED_TAKEAWAYS


def test_plain_paragraph_reading_label(profile):
    """A reading label written as a plain (not bold) paragraph still introduces the links."""
    html = (
        "<h3>Quick Bites</h3><h4>Bite</h4><p>Text.</p><p>Additional Reading(s)</p>"
        '<p><a href="https://example.org/r">A Reading</a></p>'
    )
    assert read_sections(html, profile).quick_bites == (
        Item("Bite", ("Text.",), (Link("A Reading", "https://example.org/r"),)),
    )


def test_a_bold_word_is_emphasis_not_a_headline(profile):
    """A paragraph opening with one bold word (no stop after it) stays an ordinary paragraph."""
    html = "<h3>Quick Bites</h3><p><strong>Moscow</strong> said nothing.</p>"
    result = read_sections(html, profile)
    assert result.quick_bites == ()
    assert result.warnings == (
        "quick bites: left out a paragraph outside any item: 'Moscow said nothing.'",
        "quick bites: a heading with no items under it",
    )


def test_volume_line_after_a_line_break_in_the_last_paragraph(profile):
    """A volume line typed after <br> in the last paragraph is still the volume, not text."""
    html = "<h3>Quick Bites</h3><h4>Bite</h4><p>Last words.<br><em>Vol 3, No 31 - BWR</em></p>"
    result = read_sections(html, profile)
    assert result.volume == "Vol 3, No 31 - BWR"
    assert result.quick_bites == (Item("Bite", ("Last words.",)),)


@pytest.mark.parametrize(
    ("paragraph", "volume"),
    [
        ("Vol 3, No 28 - BWR 06.07.2025", "Vol 3, No 28 - BWR 06.07.2025"),
        ("Vol. 3, No. 28", "Vol. 3, No. 28"),
        ("BWR Vol 3 No 28", "BWR Vol 3 No 28"),
        ("As I wrote in BWR Vol 2, No 14, the Kremlin was wrong.", None),
    ],
)
def test_volume_line_spellings(profile, paragraph, volume):
    """The volume line is found in its spellings; a sentence citing an old issue is not one."""
    html = f"<h3>Quick Bites</h3><h4>Bite</h4><p>Text.</p><p><em>{paragraph}</em></p>"
    result = read_sections(html, profile)
    assert result.volume == volume
    assert len(result.quick_bites[0].paragraphs) == (1 if volume else 2)


@pytest.mark.parametrize(
    ("item_html", "title"),
    [
        ('<a href="https://iz.ru/1">The Right of Veto</a> (Izvestia, 03 Jul 2025)',
         "The Right of Veto (Izvestia, 03 Jul 2025)"),
        ('Izvestia: <a href="https://iz.ru/1">The Right of Veto</a>',
         "Izvestia: The Right of Veto"),
        ('<a href="https://iz.ru/1">The Right of Veto (Izvestia, 03 Jul 2025)</a>',
         "The Right of Veto (Izvestia, 03 Jul 2025)"),
    ],
)  # fmt: skip
def test_reading_title_keeps_its_source_outside_the_link(profile, item_html, title):
    """A reading written `<a>Title</a> (Source, date)` keeps its source in the link's title."""
    html = (
        "<h3>Follow-ups</h3><h4>Slovakia Vetoes</h4><p>Text.</p>"
        f"<p><strong>Additional Reading(s)</strong></p><ul><li><p>{item_html}</p></li></ul>"
    )
    (item,) = read_sections(html, profile).follow_ups
    assert item.links == (Link(title, "https://iz.ru/1"),)


# -- more markup drift: each row is one week's takeaways as the editor typed them ------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            "<ul><li><p><strong>FOREVER NEIGHBORS</strong>—Tough.</p><ul><li><p>A nested point."
            "</p></li></ul></li><li><p><strong>ERODING INFLUENCE</strong>—Waning.</p></li></ul>",
            (
                Takeaway("FOREVER NEIGHBORS", "Tough. A nested point."),
                Takeaway("ERODING INFLUENCE", "Waning."),
            ),
            id="nested-list-inside-a-bullet",
        ),
        pytest.param(
            "<ul><li><p><strong>U.S.–RUSSIA TALKS</strong>—Nothing came.</p></li>"
            "<li><p>PUTIN’S WAR — It drains.</p></li><li><p>G7 SUMMIT 2025 – Met.</p></li></ul>",
            (
                Takeaway("U.S.–RUSSIA TALKS", "Nothing came."),
                Takeaway("PUTIN’S WAR", "It drains."),
                Takeaway("G7 SUMMIT 2025", "Met."),
            ),
            id="labels-with-dashes-digits-apostrophes",
        ),
        pytest.param(
            "<ol><li><p><strong>FOREVER NEIGHBORS—</strong>Tough.</p></li>"
            "<li><p><strong>ERODING INFLUENCE &#8212; </strong>Waning.</p></li></ol>",
            (Takeaway("FOREVER NEIGHBORS", "Tough."), Takeaway("ERODING INFLUENCE", "Waning.")),
            id="numbered-list-dash-inside-the-bold",
        ),
        pytest.param(
            "<ul><li><p><strong>FOREVER NEIGHBORS</strong></p><p>Tough.</p><p>And more.</p></li>"
            "<li><p><strong>Eroding influence</strong></p><p>Waning.</p></li></ul>",
            (
                Takeaway("FOREVER NEIGHBORS", "Tough. And more."),
                Takeaway("Eroding influence", "Waning."),
            ),
            id="label-alone-then-its-text-in-the-same-bullet",
        ),
        pytest.param(
            "<p><strong>FOREVER NEIGHBORS:</strong></p><p>Tough.</p>"
            "<p>ERODING INFLUENCE —</p><p>Waning.</p>",
            (Takeaway("FOREVER NEIGHBORS", "Tough."), Takeaway("ERODING INFLUENCE", "Waning.")),
            id="label-paragraph-ending-in-a-separator-then-its-text",
        ),
    ],
)
def test_takeaways_markup_drift(profile, html, expected):
    """Takeaways typed in other shapes still come out whole, each with its label."""
    result = read_sections(f"<h3>Takeaways</h3>{html}<p>The essay begins.</p>", profile)
    assert result.takeaways == expected
    assert result.warnings == ()


def test_label_bullets_without_text_are_kept_and_reported(profile):
    """A bullet of only a label, or only a bold sentence, is kept and shown in the warnings."""
    html = (
        "<h3>Takeaways</h3><ul><li><p><strong>FOREVER NEIGHBORS</strong></p></li>"
        "<li><p><strong>Russia loses its grip.</strong></p></li>"
        "<li><p><strong>ERODING INFLUENCE</strong>—Waning.</p></li></ul><p>The essay begins.</p>"
    )
    result = read_sections(html, profile)
    assert result.takeaways == (
        Takeaway("FOREVER NEIGHBORS", ""),
        Takeaway("", "Russia loses its grip."),
        Takeaway("ERODING INFLUENCE", "Waning."),
    )
    assert result.warnings == (
        "takeaways: a label with no text after it: 'FOREVER NEIGHBORS'",
        "takeaways: a bullet without an ALL-CAPS label: 'Russia loses its grip.'",
    )


@pytest.mark.parametrize(
    "headline",
    [
        '<h4><a href="https://example.org/g">Gudkov Meets His Maker</a></h4>',
        '<h4><strong><a href="https://example.org/g">Gudkov Meets His Maker</a></strong></h4>',
        '<p><strong><a href="https://example.org/g">Gudkov Meets His Maker</a></strong></p>',
    ],
)
def test_a_linked_headline_gives_the_item_its_link(profile, headline):
    """A headline written as a link keeps that link as the item's reading."""
    html = f"<h3>Quick Bites</h3>{headline}<p>Gudkov was killed.</p>"
    assert read_sections(html, profile).quick_bites == (
        Item(
            "Gudkov Meets His Maker",
            ("Gudkov was killed.",),
            (Link("Gudkov Meets His Maker", "https://example.org/g"),),
        ),
    )


@pytest.mark.parametrize(
    "readings",
    [
        '<p><strong>Additional Reading:</strong> <a href="https://iz.ru/1">The Right of Veto</a>'
        " (Izvestia, 03 Jul 2025)</p>",
        '<p>ADDITIONAL READINGS &#8212; <a href="https://iz.ru/1">The Right of Veto</a>'
        " (Izvestia, 03 Jul 2025)</p>",
        '<h5>Additional Reading:</h5><ol><li><a href="https://iz.ru/1">The Right of Veto</a>'
        " (Izvestia, 03 Jul 2025)</li></ol>",
    ],
)
def test_reading_after_its_label_in_one_paragraph_keeps_its_source(profile, readings):
    """A reading typed after its label, with its source after the link, keeps the source."""
    html = f"<h3>Follow-up</h3><h4>Slovakia Vetoes</h4><p>Text.</p>{readings}"
    (item,) = read_sections(html, profile).follow_ups
    assert item.links == (Link("The Right of Veto (Izvestia, 03 Jul 2025)", "https://iz.ru/1"),)


def test_readings_typed_as_lines_of_one_paragraph_keep_their_sources(profile):
    """Readings typed with shift-enter in one paragraph each keep the source after their link."""
    html = (
        "<h3>Follow-ups</h3><h4>Slovakia Vetoes</h4><p>Text.</p>"
        "<p><em><strong>Additional Reading(s)</strong></em></p>"
        '<p><a href="https://iz.ru/1">Veto</a> (Izvestia)<br>'
        '<a href="https://iz.ru/2">Veto 2</a> (Izvestia, 04 Jul)<br>'
        '<a href="https://iz.ru/3">Gas</a></p>'
    )
    (item,) = read_sections(html, profile).follow_ups
    assert item.links == (
        Link("Veto (Izvestia)", "https://iz.ru/1"),
        Link("Veto 2 (Izvestia, 04 Jul)", "https://iz.ru/2"),
        Link("Gas", "https://iz.ru/3"),
    )


def test_a_takeaway_after_a_stray_paragraph_is_reported(profile):
    """A takeaway typed after a paragraph that ended the takeaways is not taken, but reported."""
    html = (
        "<h3>Takeaways</h3><p>FIRST ONE — Text one.</p><p>An essay sentence in between.</p>"
        "<p>SECOND ONE — Text two.</p><h3>Essay</h3><p>LATER CAPS — far into the essay.</p>"
    )
    result = read_sections(html, profile)
    assert result.takeaways == (Takeaway("FIRST ONE", "Text one."),)
    assert result.warnings == (
        "takeaways: left out a takeaway-shaped paragraph after they ended: "
        "'SECOND ONE — Text two.'",
    )


# -- links inside the words: kept with their addresses ---------------------------------------

INLINE_HTML = fixture("inline_links.html")


def test_inline_links_in_takeaways_and_quick_bites_keep_their_addresses(profile):
    """A link inside a takeaway's text or a quick bite's paragraph keeps its words and address,
    apart from the reading list (typed-out addresses are linked by the composer itself)."""
    result = read_sections(INLINE_HTML, profile)
    assert result.takeaways == (
        Takeaway(
            "FOREVER NEIGHBORS",
            "Baku signed a deal with Yerevan; see https://ex.org/typed.",
            (
                Link("signed a deal", "https://ex.org/baku"),
                Link("Yerevan", "https://ex.org/yerevan"),
            ),
        ),
        Takeaway("ERODING INFLUENCE", "Waning."),
    )
    (bite,) = result.quick_bites
    assert bite == Item(
        "Taliban Recognised",
        ("🇷🇺 Москва first: TASS reported it, and Kabul welcomed it.", "No links here."),
        (Link("Moscow Recognises Kabul (BBC)", "https://ex.org/bbc"),),
        (
            (
                Link("TASS reported", "https://ex.org/tass"),
                Link("Kabul welcomed it", "https://ex.org/kabul?a=1&b=2"),
            ),
            (),
        ),
    )
    assert result.warnings == ()


def test_inline_link_in_a_follow_ups_lead_paragraph_and_a_bullets_second_paragraph(profile):
    """A link after a bold lead-in headline, and one in a takeaway bullet's second paragraph,
    are kept too; a linked headline still links the item as its reading, once."""
    html = (
        "<h3>Takeaways</h3><ul><li><p><strong>FOREVER NEIGHBORS</strong>—Tough.</p>"
        '<p>Ask <a href="https://ex.org/n">the neighbours</a>.</p></li></ul><p>Essay.</p>'
        "<h3>Follow-ups</h3>"
        '<p><strong>Gudkov Killed.</strong> The <a href="https://ex.org/z">Zvezda report</a> '
        "says so.</p>"
    )
    result = read_sections(html, profile)
    assert result.takeaways == (
        Takeaway(
            "FOREVER NEIGHBORS",
            "Tough. Ask the neighbours.",
            (Link("the neighbours", "https://ex.org/n"),),
        ),
    )
    assert result.follow_ups == (
        Item(
            "Gudkov Killed",
            ("The Zvezda report says so.",),
            (),
            ((Link("Zvezda report", "https://ex.org/z"),),),
        ),
    )
