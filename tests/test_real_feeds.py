"""The bot over real feeds of many kinds (tests/fixtures/real/, tests/fixtures/substack/ and the
BWR feed): `inspect` reads each cleanly, and every post of every issue passes the post
checks — no link-only post, no read-more boilerplate, no raw HTML, nothing over a limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BWR_FEED, ROOT, SUBSTACK_FEEDS

from bot.cli.app import cli
from bot.core.postcheck import check_post
from bot.core.reader import parse_feed
from bot.core.thread import compose

REAL = ROOT / "tests" / "fixtures" / "real"
FEEDS = sorted(p for p in REAL.iterdir() if p.suffix != ".md") + SUBSTACK_FEEDS + [BWR_FEED]
ENV = {"BOT_CONFIG": str(ROOT / "config" / "bwr.toml")}

# The warnings a human reading the feed would agree with, per file; every other file has none.
EXPECTED_WARNINGS: dict[str, list[str]] = {}


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_at_least_fifteen_real_feeds_of_the_kinds_asked_for():
    """tests/fixtures/real/ holds at least fifteen real feeds, each named in SOURCES.md."""
    sources = (REAL / "SOURCES.md").read_text(encoding="utf-8")
    assert len([p for p in REAL.iterdir() if p.suffix != ".md"]) >= 15
    for path in REAL.iterdir():
        if path.suffix != ".md":
            assert f"| {path.name} |" in sources, path.name
            assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("path", FEEDS, ids=_ids(FEEDS))
def test_inspect_reads_every_real_feed_cleanly(path):
    """`inspect` prints every real feed without a traceback; warnings only where expected."""
    result = CliRunner().invoke(cli, ["inspect", "--feed", str(path)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "malformed" not in result.output
    warnings = [
        line.strip()[2:]
        for block in result.output.split("warnings (")[1:]
        for line in block.splitlines()[1:]
        if line.startswith("    - ")
    ]
    assert warnings == EXPECTED_WARNINGS.get(path.name, [])


@pytest.mark.parametrize("path", FEEDS, ids=_ids(FEEDS))
def test_every_post_of_every_real_feed_passes_the_post_checks(path, profile):
    """Each issue composes into posts with no error and no warning but 'near the limit'."""
    feed = parse_feed(path.read_bytes(), profile, source=str(path))
    assert feed.issues
    for issue in feed.issues:
        assert issue.link  # an entry without one is skipped, not an issue
        for thread in compose(issue, profile):
            for post in thread:
                findings = [
                    f for f in check_post(post) if "near the limit" not in f.message
                ]
                assert findings == [], (issue.link, post.text)
                if not issue.is_bwr_shaped:
                    assert len(thread) == 1  # an announcement is one post with its card
                    assert post.card is not None and post.card.uri == issue.link


def test_an_entry_without_a_link_is_named_and_the_others_are_read():
    """Ghost's second item has a title and nothing else: inspect names it, by position and
    title, as not posted, and reads the first as ever."""
    result = CliRunner().invoke(cli, ["inspect", "--feed", str(REAL / "geohey_ghost.rss")],
                                env=ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    skipped = "  - entry 2 ('这是第二个条目') has no link: not posted"
    assert f"not posted (1):\n{skipped}" in result.output
    assert "1 issue\n" in result.output


def _issues(name: str, profile):
    return parse_feed((REAL / name).read_bytes(), profile, source=str(REAL / name)).issues


def test_description_only_feed_posts_its_description_without_read_more(profile):
    """The Guardian's description (no content:encoded) is the subtitle, minus 'Continue reading'."""
    issue = next(i for i in _issues("guardian_us.rss", profile) if "library" in i.title)
    assert issue.subtitle.startswith("A cross-border meeting place for divided families")
    assert "Continue reading" not in issue.subtitle
    assert issue.subtitle.endswith("without having to cross a border.")
    (root,) = compose(issue, profile)[0]
    assert root.card is not None and root.card.description == issue.subtitle


def test_wordpress_excerpt_loses_its_cut_marker_and_the_post_appeared_first_on(profile):
    """A WordPress excerpt cut with '[…]' ends at its last sentence when one ends in its last
    third (as the bot's own cuts do); 'The post … appeared first on …' is gone."""
    issue = _issues("canonrumors_wordpress.rss", profile)[0]
    assert issue.subtitle.endswith("for the EOS R50, EOS R10 and EOS R7.")
    assert "It has been quite" not in issue.subtitle
    assert "appeared first" not in issue.subtitle
    assert "[" not in issue.subtitle


def test_cut_excerpts_end_at_a_whole_word(profile):
    """A feed's cut ends at its last sentence when one ends in the text's last third
    ('… em 2019. O termo de renovaç...' ends '… em 2019.'), else at a whole word that is not a
    function word, with '…'; '[?]' is a cut too."""
    subtitles = {i.title[:20]: i.subtitle for i in _issues("uol_noticias.rss", profile)}
    assert subtitles["Apucarana garante co"].endswith("terá continuidade em 2019.")
    assert subtitles["Ibope: Bolsonaro est"].endswith("quando teve a mesma pontuação.")
    assert subtitles["Fama \"A\" é campeã da"].endswith("ao vencer a Estamparia…")


def test_gb2312_feed_reads_as_chinese(profile):
    """A GB2312 feed's titles and descriptions arrive as the Chinese the publisher wrote."""
    issue = _issues("qq_news_gb2312.xml", profile)[0]
    assert issue.title == "最高法：适时出台防卫过当的认定标准 鼓励正当防卫"
    assert issue.subtitle.startswith("中新网客户端9月18日电")
    assert issue.language == "zh-cn"


def test_blogger_footer_of_feed_addresses_is_not_posted(profile):
    """Blogger's post footer (a list of feed addresses) is not part of the subtitle."""
    (issue,) = _issues("a_mix_blogger.rss", profile)
    assert "askmen" not in issue.subtitle and "google.com/reader" not in issue.subtitle
    assert issue.subtitle.endswith("do not give them guns or any sort of weapons.")
