"""`python -m bot inspect`: the editor's view of how each issue of a feed is read."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BWR_FEED, ROOT, SUBSTACK_FEEDS

from bot.cli.app import cli
from bot.cli.inspect import NOT_BWR

ISSUES = Path(__file__).parent / "fixtures" / "issues"
ENV = {"BOT_CONFIG": str(ROOT / "config" / "bwr.toml")}
ISSUE_KEYS = {
    "guid", "link", "title", "subtitle", "published", "cover_image", "volume",
    "takeaways", "follow_ups", "quick_bites",
}  # fmt: skip

SEED_SUMMARY = """\
Barbershop Whispers....Russia (https://aablanco.substack.com)
1 issue

Russia’s Eroding Influence in the South Caucasus - Azerbaijan
  link:      https://aablanco.substack.com/p/russias-eroding-influence-in-the
  published: 2025-07-06T14:03:05+00:00
  volume:    Vol 3, No 28 - BWR 06.07.2025
  takeaways (3):
    - FOREVER NEIGHBORS
    - SOVERIGNTY AND AGENCY
    - ERODING INFLUENCE
  follow-ups (1):
    - Slovakia Vetoes 18th EU Sanctions Package (3 paragraphs, 1 link)
  quick bites (2):
    - Major General Mikhail Gudkov Meets His Maker - A Ukrainian Missile (4 paragraphs, 1 link)
    - Moscow is the First to Recognize the Taliban Government of Afghanistan (5 paragraphs, 0 links)
"""


def run(*args: str):
    return CliRunner().invoke(cli, ["inspect", *args], env=ENV, catch_exceptions=False)


def test_summary_of_the_seed():
    """The summary shows title, link, date, volume, takeaway labels and items with link counts."""
    result = run("--feed", str(BWR_FEED))
    assert result.exit_code == 0
    assert result.output == SEED_SUMMARY


def test_json_is_the_contract_shape():
    """--json prints exactly the contract's keys, with the seed's sections filled in."""
    result = run("--feed", str(BWR_FEED), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert set(data) == {"feed", "issues"}
    assert data["feed"] == {
        "title": "Barbershop Whispers....Russia",
        "link": "https://aablanco.substack.com",
    }
    (issue,) = data["issues"]
    assert set(issue) == ISSUE_KEYS
    assert issue["published"] == "2025-07-06T14:03:05+00:00"
    assert issue["volume"] == "Vol 3, No 28 - BWR 06.07.2025"
    assert issue["takeaways"][0] == {
        "label": "FOREVER NEIGHBORS",
        "text": "It’s a tough neighborhood, and moving isn’t an option. Peace with one’s nemesis "
        "may be the only option to escape from another.",
    }
    for item in issue["follow_ups"] + issue["quick_bites"]:
        assert set(item) == {"headline", "paragraphs", "links"}
        assert all(set(link) == {"title", "url"} for link in item["links"])
    assert [len(i["links"]) for i in issue["follow_ups"] + issue["quick_bites"]] == [1, 1, 0]


@pytest.mark.parametrize("path", SUBSTACK_FEEDS, ids=lambda p: p.name)
def test_other_newsletters_say_title_and_link_only(path):
    """Issues of other newsletters are listed and marked as announced with title and link only."""
    result = run("--feed", str(path))
    assert result.exit_code == 0
    count = int(result.output.splitlines()[1].split()[0])
    assert count > 0
    assert result.output.count(f"  {NOT_BWR}\n") == count


def test_warnings_are_shown(tmp_path: Path):
    """What the reader saw but could not place is listed under the issue."""
    html = (Path(__file__).parent / "fixtures" / "issues" / "follow_ups_only.html").read_text()
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>T</title><link>https://t.example</link><item><title>One</title>"
        f"<link>https://t.example/1</link><content:encoded><![CDATA[{html}]]></content:encoded>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    result = run("--feed", str(feed))
    assert result.exit_code == 0
    assert result.output.endswith(
        "  follow-ups (2):\n"
        "    - Wagner’s Return (1 paragraph, 1 link)\n"
        "    - Sanctions Again (1 paragraph, 0 links)\n"
        "  quick bites (0):\n"
        "  warnings (1):\n"
        "    - follow-ups: left out a paragraph outside any item: "
        "'Two updates on earlier stories.'\n"
    )


def test_json_carries_inline_links_beside_plain_paragraphs(tmp_path: Path):
    """`inspect --json` keeps paragraphs and texts as plain strings and adds the inline links
    under new keys: "links" on a takeaway, "paragraph_links" (one list a paragraph) on an item."""
    html = (ISSUES / "inline_links.html").read_text(encoding="utf-8")
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>T</title><link>https://t.example</link><item><title>One</title>"
        "<link>https://t.example/1</link>"
        f"<content:encoded><![CDATA[{html}]]></content:encoded></item></channel></rss>",
        encoding="utf-8",
    )
    result = run("--feed", str(feed), "--json")
    assert result.exit_code == 0, result.output
    (issue,) = json.loads(result.output)["issues"]
    assert issue["takeaways"] == [
        {
            "label": "FOREVER NEIGHBORS",
            "text": "Baku signed a deal with Yerevan; see https://ex.org/typed.",
            "links": [
                {"title": "signed a deal", "url": "https://ex.org/baku"},
                {"title": "Yerevan", "url": "https://ex.org/yerevan"},
            ],
        },
        {"label": "ERODING INFLUENCE", "text": "Waning."},
    ]
    assert issue["quick_bites"] == [
        {
            "headline": "Taliban Recognised",
            "paragraphs": [
                "🇷🇺 Москва first: TASS reported it, and Kabul welcomed it.",
                "No links here.",
            ],
            "links": [{"title": "Moscow Recognises Kabul (BBC)", "url": "https://ex.org/bbc"}],
            "paragraph_links": [
                [
                    {"title": "TASS reported", "url": "https://ex.org/tass"},
                    {"title": "Kabul welcomed it", "url": "https://ex.org/kabul?a=1&b=2"},
                ],
                [],
            ],
        }
    ]


def test_a_file_that_is_not_a_feed_is_one_error_line(tmp_path: Path):
    """A file that is not a feed exits 1 with one 'Error:' line and no traceback."""
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>hello</p></body></html>")
    result = run("--feed", str(page))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {page} is an HTML page, not a feed")


def test_a_missing_file_is_an_error():
    """A feed path that does not exist exits 1 with one line naming it."""
    result = run("--feed", "/nonexistent/feed.xml")
    assert result.exit_code == 1
    assert "/nonexistent/feed.xml" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.fixture
def feed_server() -> Iterator[str]:
    body = BWR_FEED.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed"
    finally:
        server.shutdown()
        server.server_close()


def test_reads_a_feed_over_http(feed_server: str):
    """--feed also takes an http(s) URL; the summary is the same as for the file."""
    result = run("--feed", feed_server)
    assert result.exit_code == 0
    assert result.output == SEED_SUMMARY


def test_help_ends_with_an_example():
    """`inspect --help` explains the command and ends with a runnable example."""
    result = CliRunner().invoke(cli, ["inspect", "--help"])
    assert result.exit_code == 0
    assert "Example: python -m bot inspect --feed examples/bwr-feed.xml" in result.output
