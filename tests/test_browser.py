"""The HTML preview in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright).

scripts/browser.sh installs Chromium and scripts/test.sh exports CHROMIUM; without it these tests
fail (never skip), since a preview nobody has seen rendered is not tested."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import BWR_FEED
from PIL import Image

from bot.bluesky.lexicon import post_of
from bot.cli.app import cli
from bot.core.media import Thumb
from bot.core.post import Card, Post
from bot.html.page import PageSection, render_page

pytestmark = pytest.mark.browser

# Without the background-networking flags Chromium phones home at start, which the closed
# network refuses (and which we must not attempt anyway).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LINK = "app.bsky.richtext.facet#link"
TAG = "app.bsky.richtext.facet#tag"
ISSUE = "https://aablanco.substack.com/p/bwr-28"


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 110, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium = os.environ.get("CHROMIUM")
    if not chromium or not Path(chromium).is_file():
        pytest.fail(
            "CHROMIUM is not set to an installed Chromium: run `bash scripts/test.sh` (it runs "
            "scripts/browser.sh and exports CHROMIUM=/usr/bin/chromium), or export it yourself"
        )
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user-data-dir
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 680, "height": 900},
        )
        yield context
        context.close()


@dataclass
class Loaded:
    """A page as the browser showed it, with what it tried to fetch and complain about."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def show(browser: Any, tmp_path: Path) -> Iterator[Any]:
    opened: list[Any] = []

    def load(html: str, name: str = "preview.html") -> Loaded:
        path = tmp_path / name
        path.write_text(html, encoding="utf-8")
        page = browser.new_page()
        opened.append(page)
        loaded = Loaded(page, path.as_uri())
        page.on("console", lambda m: m.type in ("error", "warning") and loaded.errors.append(
            f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: loaded.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: loaded.errors.append(f"request failed: {r.url}"))
        # Record every request and let only the file itself through: nothing may leave the page.
        def route(r: Any) -> None:
            loaded.requests.append(r.request.url)
            if r.request.url == loaded.url:
                r.continue_()
            else:
                r.abort()

        page.route("**/*", route)
        page.goto(loaded.url, wait_until="load")
        return loaded

    yield load
    for page in opened:
        page.close()


def _records() -> list[PageSection]:
    text = "Привет 👋 BWR No 28 is out: aablanco.substack.com/p/bwr-28 #Russia <b>not bold</b>"
    data = text.encode()

    def span(part: str) -> dict[str, int]:
        start = data.index(part.encode())
        return {"byteStart": start, "byteEnd": start + len(part.encode())}

    root = Post(
        text=text,
        facets=post_of({"text": text, "facets": [
            {"index": span("aablanco.substack.com/p/bwr-28"),
             "features": [{"$type": LINK, "uri": ISSUE}]},
            {"index": span("#Russia"), "features": [{"$type": TAG, "tag": "Russia"}]},
        ]}).facets,
        card=Card(uri=ISSUE, title="Russia’s Eroding Influence", description="Azerbaijan"),
    )
    takeaway = Post(text="FOREVER NEIGHBORS — It’s a tough neighborhood.", kind="takeaway")
    reading = Post(text="A reading", card=Card(uri="https://example.com/r", title="No thumb"))
    too_long = Post(text="x" * 301, kind="follow_up")
    near = Post(text="y" * 285, kind="follow_up")
    second = Post(text="Quick bites", kind="quick_bites_root")
    return [
        PageSection({"guid": "1", "link": ISSUE, "title": "BWR No 28"},
                    [[root, takeaway, reading, too_long]]),
        PageSection({"guid": "2", "link": "https://e.com/2", "title": "Second <issue>"},
                    [[near], [second]]),
    ]


THUMBS = {ISSUE: Thumb(_png(600, 314), "image/png")}


def _count(records: Sequence[PageSection], test: Any) -> int:
    return sum(1 for s in records for t in s.threads for r in t if test(r))


def test_page_loads_offline_without_errors(show: Any) -> None:
    """The page loads with no console errors and asks for nothing but itself."""
    loaded = show(render_page(_records(), account_name="BWR", handle="bwr.test", thumbs=THUMBS))
    assert loaded.errors == []
    assert [u for u in loaded.requests if not u.startswith("data:")] == [loaded.url]
    assert loaded.page.title() == "Thread preview"


def test_every_post_and_card_is_visible(show: Any) -> None:
    """Each record is one visible post, each embed one visible card, in sections per issue."""
    sections = _records()
    loaded = show(render_page(sections, account_name="BWR", handle="bwr.test", thumbs=THUMBS))
    page = loaded.page
    posts = page.locator("li.post")
    assert posts.count() == _count(sections, lambda r: True) == 6
    cards = page.locator("a.card")
    assert cards.count() == _count(sections, lambda r: r.card is not None) == 2
    for locator in (posts, cards, page.locator("section.issue")):
        assert all(locator.nth(i).is_visible() for i in range(locator.count()))
    assert page.locator("section.issue h2").all_inner_texts() == ["BWR No 28", "Second <issue>"]
    # The inlined thumbnail really decoded; the card without one shows its placeholder.
    assert page.locator("img.thumb").evaluate("i => [i.naturalWidth, i.naturalHeight]") == [
        600, 314]
    assert page.locator(".thumb.placeholder").inner_text() == "no thumbnail"


def test_text_links_and_tags_as_in_the_app(show: Any) -> None:
    """The root shows its text literally, with the shortened link (full href) and tag in blue."""
    loaded = show(render_page(_records(), account_name="BWR", handle="bwr.test", thumbs=THUMBS))
    root = loaded.page.locator("li.post").first
    assert root.locator(".text").inner_text() == (
        "Привет 👋 BWR No 28 is out: aablanco.substack.com/p/bwr-28 #Russia <b>not bold</b>")
    link = root.locator(".text a.facet.link")
    assert (link.inner_text(), link.get_attribute("href")) == (
        "aablanco.substack.com/p/bwr-28", ISSUE)
    assert root.locator(".text .facet.tag").inner_text() == "#Russia"
    blue = "rgb(16, 131, 254)"
    assert link.evaluate("e => getComputedStyle(e).color") == blue
    assert root.locator(".text b").count() == 0
    author = root.locator(".author")
    assert [author.locator(c).inner_text() for c in (".name", ".handle", ".position")] == [
        "BWR", "@bwr.test", "1/4"]


def test_warnings_shown_where_expected(show: Any) -> None:
    """Over-limit posts show an error, near-limit and thumbless cards a warning, on that post."""
    loaded = show(render_page(_records(), account_name="BWR", handle="bwr.test", thumbs=THUMBS))
    posts = loaded.page.locator("li.post")

    def shown(i: int, level: str) -> list[str]:
        found = posts.nth(i).locator(f".finding.{level}")
        assert all(found.nth(k).is_visible() for k in range(found.count()))
        return found.all_inner_texts()

    assert [shown(i, "error") for i in range(6)] == [
        [], [], [], ["ERROR 301 graphemes, over the limit of 300"], [], []]
    assert [shown(i, "warning") for i in range(6)] == [
        ["WARNING raw HTML in the text"], [], ["WARNING card has no thumbnail"], [],
        ["WARNING 285 graphemes, near the limit of 300"], []]
    assert loaded.page.locator(".verdict").inner_text() == "1 error — Bluesky would refuse this"


def test_thread_line_joins_the_posts(show: Any) -> None:
    """A line runs from each avatar down to the next post; the last post has none."""
    loaded = show(render_page(_records(), account_name="BWR", handle="bwr.test", thumbs=THUMBS))
    thread = loaded.page.locator("ol.thread").first
    avatars = thread.locator(".avatar")
    lines = thread.locator(".thread-line")
    for i in range(3):
        line, below = lines.nth(i).bounding_box(), avatars.nth(i + 1).bounding_box()
        assert line is not None and below is not None
        assert line["height"] > 10
        assert abs(line["y"] + line["height"] - below["y"]) < 20  # reaches the next avatar
    assert not lines.nth(3).is_visible()


def test_screenshot(show: Any, tmp_path: Path) -> None:
    """A full-page screenshot of the preview is a real picture of the whole thread."""
    loaded = show(render_page(_records(), account_name="BWR", handle="bwr.test", thumbs=THUMBS))
    shot = tmp_path / "preview.png"
    loaded.page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        height = loaded.page.evaluate("document.documentElement.scrollHeight")
        assert image.size == (680, height)
        assert height > 1000
        # Not blank: the page's background and the blue link/avatars both appear.
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50


def test_thumbnail_is_data_uri_not_request(show: Any) -> None:
    """The thumbnail is part of the file: the browser fetches nothing for it."""
    loaded = show(render_page(_records(), account_name="BWR", handle="bwr.test", thumbs=THUMBS))
    src = loaded.page.locator("img.thumb").get_attribute("src")
    assert src == "data:image/png;base64," + base64.b64encode(THUMBS[ISSUE].data).decode()
    assert [u for u in loaded.requests if u != loaded.url and not u.startswith("data:")] == []


def test_seed_issue_page(show: Any, tmp_path: Path) -> None:
    """`preview --html` of the seed issue loads cleanly and shows every post and card it posts."""
    out = tmp_path / "seed.html"
    env = {"BSKY_HANDLE": None, "BSKY_APP_PASSWORD": None}
    runner = CliRunner()
    args = ["preview", "--offline", "--feed", str(BWR_FEED), "--latest"]
    written = runner.invoke(cli, [*args, "--html", str(out)], env=env)
    assert written.exit_code == 0, written.output
    as_json = runner.invoke(cli, [*args, "--json"], env=env)
    (element,) = json.loads(as_json.stdout)
    records = [r for thread in element["threads"] for r in thread]

    loaded = show(out.read_text(encoding="utf-8"), name="seed.html")
    page = loaded.page
    assert loaded.errors == []
    assert [u for u in loaded.requests if not u.startswith("data:")] == [loaded.url]
    assert page.locator("section.issue h2").all_inner_texts() == [element["entry"]["title"]]
    posts = page.locator("li.post")
    assert posts.count() == len(records) > 5
    assert [posts.nth(i).locator(".text").inner_text() for i in range(posts.count())] == [
        r["text"] for r in records]
    cards = page.locator("a.card")
    assert cards.count() == sum("embed" in r for r in records) > 0
    assert all(x.is_visible() for x in (*posts.all(), *cards.all()))
    # Offline, no card has its thumbnail: each one says so.
    assert page.locator(".finding.warning", has_text="card has no thumbnail").count() == (
        cards.count())
    page.screenshot(path=str(tmp_path / "seed.png"), full_page=True)
    with Image.open(tmp_path / "seed.png") as image:
        assert image.size == (680, page.evaluate("document.documentElement.scrollHeight"))
