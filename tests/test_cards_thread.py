"""A thread's cards end to end: which links get fetched (CARDS), what `preview` shows of them
(text, JSON, HTML), that a second preview fetches nothing, and the thread posted to the reference
PDS with each card's picture as a blob the PDS serves back, uploaded once when two cards share it.

The seed issue's feed is served with every https:// address moved onto a loopback site, so its
root and both single-reading items (Izvestia, The Guardian) point at pages the test controls."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from card_site import Route, Site, encode, noise, page
from click.testing import CliRunner
from conftest import BWR_FEED
from PIL import Image, ImageFilter

from bot.cards import MAX_THUMB_BYTES, CardFetcher, compose_with_cards
from bot.cli.app import cli
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import Store

ROOT_PATH = "/aablanco.substack.com/p/russias-eroding-influence-in-the"
IZ_PATH = "/iz.ru/1914000/2025-07-03/pravo-veto-slovakiia-nameren-obmeniat-veto-na-gazovye-garantii"
GUARDIAN_PATH = ("/www.theguardian.com/world/2025/jul/03/"
                 "russian-deputy-navy-commander-killed-in-ukrainian-strike-in-kursk")
SHARED_JPEG = encode(noise((600, 315), block=5), "JPEG", quality=85)
BIG_PNG = encode(noise((1800, 1200), block=6).filter(ImageFilter.GaussianBlur(1)), "PNG",
                 compress_level=1)


def og(title: str, description: str, image: str) -> bytes:
    return page(f'<meta property="og:title" content="{title}">'
                f'<meta property="og:description" content="{description}">'
                f'<meta property="og:image" content="{image}">')


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    s.routes[ROOT_PATH] = Route(og("Root from its page", "Root description", "/img/shared.jpg"))
    s.routes[IZ_PATH] = Route(og("Izvestia from its page", "Izvestia says", "/img/shared.jpg"))
    s.routes[GUARDIAN_PATH] = Route(og("Guardian from its page", "Guardian says", "/img/big"))
    s.routes["/img/shared.jpg"] = Route(SHARED_JPEG, "image/jpeg")
    s.routes["/img/big"] = Route(status=302, headers={"Location": "/img/big.png"})
    s.routes["/img/big.png"] = Route(BIG_PNG, "image/png")
    yield s
    s.close()


@pytest.fixture
def feed(site: Site, tmp_path: Path) -> Path:
    """The seed feed with its addresses on the loopback site."""
    path = tmp_path / "feed.xml"
    text = BWR_FEED.read_text(encoding="utf-8")
    path.write_text(text.replace("https://", f"http://127.0.0.1:{site.port}/"), encoding="utf-8")
    return path


def card_titles(threads) -> list[str]:
    return [p.card.title for t in threads for p in t if p.card is not None]


@pytest.mark.parametrize("mode,titles,pages", [
    ("rich", ["Root from its page", "Izvestia from its page", "Guardian from its page"],
     {ROOT_PATH, IZ_PATH, GUARDIAN_PATH}),
    ("feed", ["Root from its page",
              "The Right of Veto: Slovakia Intends to Exchange Veto for Gas Guarantees "
              "(Izvestia, 03 Jul 2025)",
              "Russian Deputy Commander Killed in Air Strike in Kursk (The Guardian, 03 Jul 2025)"],
     {ROOT_PATH}),
    ("off", ["Russia’s Eroding Influence in the South Caucasus - Azerbaijan"], set()),
])
def test_cards_setting_says_which_pages_are_fetched(site, feed, tmp_path, mode, titles, pages):
    """rich fetches every card's page, feed only the newsletter's, off none and cards the root
    alone."""
    profile = load_profile()
    (issue,) = parse_feed(feed.read_bytes(), profile).issues
    with CardFetcher(tmp_path / "cache", allow_private=True) as fetcher:
        threads = compose_with_cards(issue, profile, fetcher, mode)
    assert card_titles(threads) == titles
    assert set(site.hits) == pages


def preview(feed: Path, tmp_path: Path, *args: str):
    env = {"CARDS_ALLOW_PRIVATE": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
           "BSKY_HANDLE": None, "BSKY_APP_PASSWORD": None, "CARDS": None}
    return CliRunner().invoke(cli, ["preview", "--feed", str(feed), *args], env=env)


def test_preview_shows_what_the_pages_say_and_fetches_once(site, feed, tmp_path):
    """preview's text shows each card's page title, description and picture address; a second
    preview (JSON this time) fetches nothing and lists the same cards."""
    first = preview(feed, tmp_path)
    assert first.exit_code == 0, first.output
    base = f"http://127.0.0.1:{site.port}"
    for line in (f"  card: Izvestia from its page → {base}{IZ_PATH}",
                 "        Izvestia says",
                 f"        image: {base}/img/shared.jpg",
                 f"  card: Guardian from its page → {base}{GUARDIAN_PATH}",
                 f"        image: {base}/img/big"):
        assert line in first.stdout.splitlines()
    fetched = site.total
    assert fetched == 3  # the three pages; the text shows no picture, so none is downloaded
    second = preview(feed, tmp_path, "--json")
    assert second.exit_code == 0, second.output
    assert site.total == fetched
    (element,) = json.loads(second.stdout)
    assert [(c["title"], c["description"], c["image"]) for c in element["cards"]] == [
        ("Root from its page", "Root description", f"{base}/img/shared.jpg"),
        ("Izvestia from its page", "Izvestia says", f"{base}/img/shared.jpg"),
        ("Guardian from its page", "Guardian says", f"{base}/img/big"),
    ]
    root = element["threads"][0][0]["embed"]["external"]
    assert root["title"] == "Root from its page" and "thumb" not in root


def test_preview_html_inlines_the_pictures(site, feed, tmp_path):
    """preview --html draws each card's picture inlined, as the app sizes it (1.91:1 cover)."""
    out = tmp_path / "p.html"
    result = preview(feed, tmp_path, "--html", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.count('<img class="thumb" alt="" src="data:image/') == 3
    assert "aspect-ratio: 1.91 / 1; object-fit: cover" in html
    assert "no thumbnail" not in html
    assert site.hits["/img/shared.jpg"] == 1 and site.hits["/img/big.png"] == 1


@pytest.mark.pds
def test_thread_posted_with_every_card_and_its_picture(site, feed, tmp_path, pds, pds_proxy):
    """Posted to the reference PDS, the root and both readings carry their pages' cards; each
    picture is a blob the PDS serves back (under 1,000,000 bytes, its size kept), and the picture
    two cards share is uploaded once."""
    acct = pds.new_account("cards")
    db = f"sqlite:///{tmp_path / 'bot.db'}"
    store = Store(db)
    store.upgrade()
    settings = Settings(feed_url=str(feed), bsky_service=pds_proxy.url, bsky_handle=acct.handle,
                        bsky_app_password=acct.app_password, database_url=db,
                        cards_allow_private=True, post_delay=0)
    published = datetime(2025, 7, 6, 16, 0, tzinfo=UTC)  # two hours after the seed issue
    with Worker(settings, store, cache_dir=tmp_path / "cache", clock=lambda: published) as worker:
        result = worker.poll()
    store.close()
    assert [o.outcome for o in result.outcomes] == ["posted"]
    records = list(reversed(pds.list_records(acct.did)))  # oldest (the root) first
    cards = [r["value"]["embed"]["external"] for r in records
             if r["value"].get("embed", {}).get("$type") == "app.bsky.embed.external"]
    assert [c["title"] for c in cards] == [
        "Root from its page", "Izvestia from its page", "Guardian from its page"]
    assert [c["description"] for c in cards] == ["Root description", "Izvestia says",
                                                 "Guardian says"]
    cids = [c["thumb"]["ref"]["$link"] for c in cards]
    assert cids[0] == cids[1] != cids[2]
    assert pds_proxy.count("com.atproto.repo.uploadBlob") == 2
    with httpx.Client(trust_env=False, timeout=30) as http:
        blobs = [http.get(f"{pds.url}/xrpc/com.atproto.sync.getBlob",
                          params={"did": acct.did, "cid": cid}) for cid in (cids[0], cids[2])]
    for blob in blobs:
        blob.raise_for_status()
        assert len(blob.content) < MAX_THUMB_BYTES
    assert blobs[0].content == SHARED_JPEG  # a clean small JPEG goes up as served
    big = Image.open(io.BytesIO(blobs[1].content))
    assert big.size == (1800, 1200) and cards[2]["thumb"]["mimeType"] == "image/jpeg"


def test_card_settings_default_to_rich_and_refuse_private_addresses():
    """Unset, CARDS is rich and private addresses are refused; a wrong value is one clear line."""
    from bot.errors import ConfigError
    from bot.settings import load_settings

    defaults = load_settings(env={})
    assert (defaults.cards, defaults.cards_allow_private) == ("rich", False)
    chosen = load_settings(env={"CARDS": "Feed", "CARDS_ALLOW_PRIVATE": "1"})
    assert (chosen.cards, chosen.cards_allow_private) == ("feed", True)
    with pytest.raises(ConfigError, match=r"^CARDS: 'fancy' is not one of rich"):
        load_settings(env={"CARDS": "fancy"})
    with pytest.raises(ConfigError, match=r"^CARDS_ALLOW_PRIVATE: 'maybe' is not 1 or 0$"):
        load_settings(env={"CARDS_ALLOW_PRIVATE": "maybe"})
