"""BWR issues that differ from the seed, as real issues do (tests/fixtures/bwr_variants/): what
`inspect` shows for each, and that `preview`'s thread carries the takeaways and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from bot.cli.app import cli
from bot.core.issue import read_sections
from bot.core.model import Takeaway
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import compose

VARIANTS = Path(__file__).parent / "fixtures" / "bwr_variants"
ENV = {"BOT_CONFIG": str(ROOT / "config" / "bwr.toml")}
NEVER_POSTED = (
    "Dear BWR",
    "Shoeshiners",
    "IMPORTANT NOTICE",
    "truncate",
    "daily posts",
    "Blue Sky platform",
    "BWR begins with",
    "last two BWR sections",
    "LIGHT HOLIDAY READING",
    "Takeaways are at the end",
    "LIFE REINVENTION",
    "EMPIRE",
    "Author:",
    "Happy holidays",
)


def run(command: str, name: str) -> str:
    result = CliRunner().invoke(
        cli, [command, "--feed", str(VARIANTS / name)], env=ENV, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def inspect(name: str) -> str:
    return run("inspect", name).split("\n\n", 1)[1]


def posted_texts(name: str) -> list[str]:
    profile = load_profile()
    (issue,) = parse_feed((VARIANTS / name).read_bytes(), profile).issues
    return [post.text for thread in compose(issue, profile) for post in thread]


# -- what inspect shows ---------------------------------------------------------------------


def test_an_introduction_naming_the_sections_opens_none():
    """The introduction that names “My Takeaways”, “Follow-ups” and “Quick Bites” is read past:
    the real sections are found and nothing is reported."""
    assert inspect("intro_names_sections.xml") == (
        "The Black Sea Standoff\n"
        "  link:      https://aablanco.substack.com/p/intro-names-sections\n"
        "  published: 2025-09-28T14:00:00+00:00\n"
        "  volume:    Vol 3, No 40 - BWR 28.09.2025\n"
        "  takeaways (2):\n"
        "    - FROZEN CONFLICT\n"
        "    - SHADOW FLEET\n"
        "  follow-ups (0):\n"
        "  quick bites (1):\n"
        "    - Rosneft Cuts Its Dividend (1 paragraph, 1 link)\n"
    )


def test_holiday_issue_takeaways_are_read_after_the_book_reviews():
    """"Takeaways are at the end of the book reviews.": the takeaways are the labelled bullets
    after the reviews; the note, the reviews' topic labels and titles are none of them."""
    assert inspect("holiday_takeaways_last.xml") == (
        "Light Holiday Reading for Russia Watchers\n"
        "  link:      https://aablanco.substack.com/p/holiday-takeaways-last\n"
        "  published: 2024-12-22T14:00:00+00:00\n"
        "  volume:    Vol 2, No 51 - BWR 22.12.2024\n"
        "  takeaways (2):\n"
        "    - CONFINEMENT\n"
        "    - MEMORY\n"
        "  follow-ups (0):\n"
        "  quick bites (1):\n"
        "    - Rosneft Cuts Its Dividend (1 paragraph, 1 link)\n"
    )


def test_holiday_issue_without_its_takeaways_says_so():
    """When the note says the takeaways come later and none follow, inspect says which note,
    and where the search ended."""
    assert inspect("holiday_takeaways_missing.xml").endswith(
        "  takeaways (0):\n"
        "  follow-ups (0):\n"
        "  quick bites (1):\n"
        "    - Rosneft Cuts Its Dividend (1 paragraph, 1 link)\n"
        "  warnings (1):\n"
        "    - takeaways: none found: 'Takeaways are at the end of the book reviews.' says they "
        "come later, but no ALL-CAPS label with its text follows it before "
        "'Follow-ups & Quick Bites'\n"
    )


def test_year_end_summary_is_read_as_the_takeaways():
    """A "Summary" of plain paragraphs stands for the takeaways: each paragraph one, unlabelled,
    and inspect says it read them so."""
    assert inspect("year_end_summary.xml") == (
        "2024: The Year in Review\n"
        "  link:      https://aablanco.substack.com/p/year-end-summary\n"
        "  published: 2024-12-29T14:00:00+00:00\n"
        "  volume:    Vol 2, No 52 - BWR 29.12.2024\n"
        "  takeaways (3):\n"
        "    - (no label)\n"
        "    - (no label)\n"
        "    - (no label)\n"
        "  follow-ups (0):\n"
        "  quick bites (1):\n"
        "    - Rosneft Cuts Its Dividend (1 paragraph, 1 link)\n"
        "  notes (1):\n"
        "    - takeaways: no ALL-CAPS labels under 'Summary': read its 3 paragraphs as "
        "takeaways without labels\n"
    )


# -- what is posted -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in VARIANTS.glob("*.xml")))
def test_greeting_notices_introduction_subtitle_and_reviews_are_never_posted(name):
    """No post `preview` shows for any variant carries the greeting, the IMPORTANT NOTICE, the
    Bluesky notice, the introduction, the ALL-CAPS subtitle, the note or the book reviews."""
    # The "Review:" and "Plan:" lines are the editor's, not posts: they may quote the reader.
    editors = ("Review:", "Plan:")
    texts = "\n".join(
        line for line in run("preview", name).splitlines() if not line.startswith(editors)
    )
    assert [words for words in NEVER_POSTED if words in texts] == []


def test_holiday_thread_posts_the_takeaways_from_the_end():
    """The holiday thread's takeaway posts are the two takeaways written after the reviews."""
    texts = posted_texts("holiday_takeaways_last.xml")
    assert texts[1:3] == [
        "CONFINEMENT — Russians have long made lives inside walls they did not choose.",
        "MEMORY — The famine still shapes how Ukraine sees Moscow.",
    ]


def test_summary_paragraphs_are_posted_without_a_label():
    """Each paragraph of a plain Summary is a takeaway post of its own words, no label."""
    texts = posted_texts("year_end_summary.xml")
    assert texts[1:4] == [
        "This year Russia’s economy ran on war spending, and the bill is coming due.",
        "The near abroad drifted further from Moscow, from Baku to Astana.",
        "At home, the Kremlin tightened its grip on what Russians may read and say.",
    ]


# -- the same variants in the markup's other spellings ---------------------------------------

REVIEWS = {
    "bold labels": (
        "<p><strong>LIFE REINVENTION</strong></p>"
        "<p><strong><em>A Gentleman in Moscow</em> (Author: Amor Towles, Published: 2016)"
        "</strong></p><p>A count makes a life of a single hotel.</p>"
    ),
    "heading labels": (
        "<h4>LIFE REINVENTION</h4>"
        "<h4>A Gentleman in Moscow (Author: Amor Towles, Published: 2016)</h4>"
        "<p>A count makes a life of a single hotel.</p>"
    ),
    "label and title in one paragraph": (
        "<p><strong>LIFE REINVENTION<br>A Gentleman in Moscow</strong> (Author: Amor Towles, "
        "Published: 2016)</p><p>A count makes a life of a single hotel.</p>"
    ),
}
NOTES = {
    "h3 heading": "<h3>Takeaways:</h3><p>Takeaways are at the end of the book reviews.</p>",
    "bold line": (
        "<p><strong>Takeaways:</strong></p><p>Takeaways are at the end of the book reviews.</p>"
    ),
    "bold start of the note": (
        "<p><strong>Takeaways:</strong> Takeaways are at the end of the book reviews.</p>"
    ),
    "bold line and a line break": (
        "<p><strong>Takeaways:</strong><br>Takeaways are at the end of the book reviews.</p>"
    ),
}
LAST = {
    "a list": (
        "<ul><li><p><strong>CONFINEMENT</strong>—Walls.</p></li>"
        "<li><p><strong>MEMORY</strong>—The famine.</p></li></ul>"
    ),
    "paragraphs": "<p>CONFINEMENT: Walls.</p><p>MEMORY: The famine.</p>",
    "under a second heading": (
        "<h3>My Takeaways</h3><ul><li><p><strong>CONFINEMENT</strong>—Walls.</p></li>"
        "<li><p><strong>MEMORY</strong>—The famine.</p></li></ul>"
    ),
}


@pytest.mark.parametrize("last", LAST, ids=str)
@pytest.mark.parametrize("note", NOTES, ids=str)
@pytest.mark.parametrize("reviews", REVIEWS, ids=str)
def test_takeaways_after_the_reviews_in_any_markup(profile, reviews, note, last):
    """Whichever way the note, the reviews and the takeaways are typed, the takeaways are the
    two written last, and nothing is reported."""
    html = (
        "<h2>Light Holiday Reading</h2><p><strong>LIGHT HOLIDAY READING - MAYBE</strong></p>"
        f"{NOTES[note]}{REVIEWS[reviews]}{REVIEWS[reviews]}{LAST[last]}"
        "<p>Happy holidays.</p><h3>Quick Bites</h3><h4>Tea</h4><p>Cheaper.</p>"
    )
    result = read_sections(html, profile)
    assert result.takeaways == (
        Takeaway("CONFINEMENT", "Walls."),
        Takeaway("MEMORY", "The famine."),
    )
    assert result.warnings == ()


def test_a_note_followed_by_the_takeaways_is_an_introduction(profile):
    """A sentence naming the takeaways right before them is left out (and said), not a pointer
    to takeaways further down."""
    html = (
        "<h3>Takeaways</h3><p>Takeaways this week are short.</p>"
        "<ul><li><p><strong>ONE</strong>—First.</p></li></ul><p>Essay.</p>"
        "<p>LATER CAPS: in the essay.</p><p>MORE CAPS: in the essay.</p>"
    )
    result = read_sections(html, profile)
    assert result.takeaways == (Takeaway("ONE", "First."),)
    assert result.warnings[0] == (
        "takeaways: left out a paragraph before the first one: 'Takeaways this week are short.'"
    )


def test_a_summary_with_labels_is_read_as_labelled_takeaways(profile):
    """A "Summary" written like the takeaways (ALL-CAPS labels) gives labelled takeaways."""
    html = "<h3>Summary</h3><p>WAR ECONOMY—The bill is due.</p><p>Essay.</p>"
    result = read_sections(html, profile)
    assert result.takeaways == (Takeaway("WAR ECONOMY", "The bill is due."),)
    assert result.warnings == ()


@pytest.mark.parametrize(
    "intro",
    [
        "<p><strong>The last two BWR sections are “Follow-ups” and “Quick Bites”.</strong></p>",
        "<p><strong>BWR begins with “My Takeaways”.</strong></p>",
        '<h3>Sections: "Follow-ups" and "Quick Bites"</h3>',
        "<p><em>BWR begins with “My Takeaways” on the main topic, followed by a discussion on "
        "the main topic.<br>The last two BWR sections are “Follow-ups” on previous publications "
        "and “Quick Bites” on emerging events.</em></p>",
    ],
)
def test_a_sentence_naming_the_sections_is_no_heading(profile, intro):
    """However short or bold, a sentence that names sections in quotes starts none."""
    html = (
        f"<p>Dear BWR Shoeshiners and Barbers!</p>{intro}<p>In this week’s BWR, the Black Sea."
        "</p><h3>Takeaways</h3><ul><li><p><strong>ONE</strong>—First.</p></li></ul><p>Essay.</p>"
    )
    result = read_sections(html, profile)
    assert result.takeaways == (Takeaway("ONE", "First."),)
    assert (result.follow_ups, result.quick_bites, result.warnings) == ((), (), ())


@pytest.mark.parametrize(
    "boilerplate",
    [
        "<h3>Dear BWR Shoeshiners and Barbers!</h3>",
        "<p><strong>Dear BWR Shoeshiners and Barbers,</strong></p>",
        "<p><strong>IMPORTANT NOTICE</strong>: <em>some e-mail servers may truncate BWR.</em></p>",
        "<blockquote><p>IMPORTANT NOTICE: G-mail may truncate the newsletter.</p></blockquote>",
        "<p>Follow BWR's daily posts on the Blue Sky platform for daily updates and posts.</p>",
        "<p><em>Follow BWR’s daily posts on the <a href='https://bsky.app/'>Blue Sky platform"
        "</a>.</em></p>",
    ],
)
def test_greeting_and_notices_are_left_out_wherever_they_sit(profile, boilerplate):
    """The greeting and the two notices are neither a takeaway, nor an item's paragraph, nor
    something to report, in any spelling or markup, even inside a section."""
    html = (
        f"{boilerplate}<h3>Takeaways</h3>{boilerplate}"
        "<ul><li><p><strong>ONE</strong>—First.</p></li></ul><p>Essay.</p>"
        f"<h3>Quick Bites</h3><h4>Tea</h4><p>Cheaper.</p>{boilerplate}<p>Still cheaper.</p>"
    )
    result = read_sections(html, profile)
    assert result.takeaways == (Takeaway("ONE", "First."),)
    assert result.quick_bites[0].paragraphs == ("Cheaper.", "Still cheaper.")
    assert result.warnings == ()
