"""`preview`: the thread an editor sees before anything is posted, as text and as contract JSON.

The golden files in tests/golden/ are the seed issue's thread as a follower reads it; a change
to the composer that changes them must be looked at (regenerate with the two commands in
tests/golden/README.md and read the diff)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from bwr_seed import SEED_ISSUE
from click.testing import CliRunner
from conftest import BWR_FEED, ROOT, SUBSTACK_FEEDS

from bot.bluesky.lexicon import post_record
from bot.cli.app import cli
from bot.cli.preview import preview_json, render_text
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.text import graphemes, utf8_len
from bot.core.thread import compose

GOLDEN = ROOT / "tests" / "golden"
NO_DB = Path(tempfile.gettempdir()) / "bwr-golden-never-created.db"
SEED_LINK = SEED_ISSUE.link


def _run(*args: str):
    # --offline: the golden files are the thread as the feed gives it (no card page fetched).
    # No database: what the bot knows of the issue (a host's data/bot.db) is not the golden's.
    return CliRunner().invoke(cli, ["preview", "--offline", "--feed", str(BWR_FEED), *args],
                              env={"DATABASE_URL": f"sqlite:///{NO_DB}"})


def test_seed_issue_read_from_the_feed_is_the_hand_built_one():
    """The feed's seed issue, as the reader reads it, composes to the same thread as by hand."""
    profile = load_profile()
    (issue,) = parse_feed(BWR_FEED.read_bytes(), profile).issues[:1]
    assert compose(issue, profile) == compose(SEED_ISSUE, profile)


def test_golden_text_rendering():
    """`preview` prints the seed thread exactly as the golden rendering."""
    result = _run()
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "bwr-vol3-no28.txt").read_text(encoding="utf-8")


def test_golden_json_records():
    """`preview --json` prints the seed thread's records exactly as the golden JSON."""
    result = _run("--json")
    assert result.exit_code == 0, result.output
    (element,) = json.loads(result.stdout)
    # What the bot does with it (the plan) is beside the thread, not part of the golden thread.
    plan = element.pop("plan")
    assert element == json.loads(
        (GOLDEN / "bwr-vol3-no28.json").read_text(encoding="utf-8")
    )[0]
    # Without a database the bot is on the feed's first pass: an issue of 2025 is history.
    assert plan == {"step": "ignore", "due": None, "says": (
        "not posted: outside the backfill window of 48 h; post --entry LINK posts it")}


def test_json_follows_the_contract():
    """Each element is {entry, threads}; records are lexicon posts without reply or createdAt."""
    data = json.loads(_run("--latest", "--json").stdout)
    assert len(data) == 1
    assert data[0]["entry"] == {"guid": SEED_LINK, "link": SEED_LINK, "title": SEED_ISSUE.title}
    (thread,) = data[0]["threads"]
    for rec in thread:
        assert set(rec) <= {"$type", "text", "facets", "langs", "embed"}
        assert rec["$type"] == "app.bsky.feed.post" and rec["langs"] == ["en"]
        assert graphemes(rec["text"]) <= 300 and utf8_len(rec["text"]) <= 3000
    root_card = thread[0]["embed"]
    assert root_card["$type"] == "app.bsky.embed.external"
    assert root_card["external"]["uri"] == SEED_LINK and "thumb" not in root_card["external"]
    assert thread[-1]["facets"][0]["features"][0]["uri"] == SEED_LINK


def test_text_shows_sizes_links_and_cards():
    """The text rendering lists each post's size, its links (shown → full) and its card."""
    (thread,) = compose(SEED_ISSUE, load_profile())
    out = render_text(SEED_ISSUE, [thread])
    assert f"Thread 1 of 1: {len(thread)} posts" in out
    assert "── 1/17 · root · 144 graphemes, 146 bytes" in out
    assert f"  card: {SEED_ISSUE.title} → {SEED_LINK}" in out
    assert f"  link: aablanco.substack.com/p/russias-er... → {SEED_LINK}" in out
    assert preview_json(SEED_ISSUE, [thread])["threads"][0][0] == post_record(thread[0])


def test_entry_picks_the_issue_by_link():
    """--entry LINK previews that issue."""
    data = json.loads(_run("--entry", SEED_LINK, "--json").stdout)
    assert [d["entry"]["link"] for d in data] == [SEED_LINK]


def test_unknown_entry_is_one_line_error_exit_1():
    """--entry with a link not in the feed: one line naming the link, exit status 1."""
    result = _run("--entry", "https://example.com/p/nope")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: no issue with link https://example.com/p/nope in ")


def test_conflicting_choices_are_a_usage_error():
    """--latest with --all is refused with exit status 2."""
    assert _run("--latest", "--all").exit_code == 2


def test_help_ends_with_an_example():
    """`preview --help` explains the command and shows an example."""
    result = CliRunner().invoke(cli, ["preview", "--help"])
    assert result.exit_code == 0
    assert "Example: python -m bot preview --feed" in result.output


@pytest.mark.parametrize("feed", SUBSTACK_FEEDS, ids=lambda p: p.stem)
def test_all_issues_of_real_feeds_preview_within_limits(feed):
    """--all on real Substack feeds previews every issue, every post within the limits."""
    profile = load_profile()
    issues = parse_feed(feed.read_bytes(), profile).issues
    result = CliRunner().invoke(
        cli, ["preview", "--offline", "--feed", str(feed), "--all", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["entry"]["guid"] for d in data] == [i.guid for i in issues]
    for d in data:
        for thread in d["threads"]:
            assert thread and thread[0]["embed"]["external"]["uri"] == d["entry"]["link"]
            for rec in thread:
                assert rec["text"].strip() and graphemes(rec["text"]) <= 300
                assert utf8_len(rec["text"]) <= 3000
