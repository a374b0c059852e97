"""Link cards and thumbs, fetched from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import html
import io
import logging
import struct
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from card_site import Route, Site, encode, noise, page
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot import USER_AGENT
from bot.cards import MAX_THUMB_BYTES, CardFetcher, Thumb, _clean, parse_head
from bot.core.post import Card

FALLBACK = Card(
    uri="https://aablanco.substack.com/p/feed-link",
    title="Feed title",
    description="Feed subtitle",
    thumb_url="https://substackcdn.com/enclosure.jpeg",
)


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture
def make_fetcher(tmp_path) -> Iterator[Callable[..., CardFetcher]]:
    made: list[CardFetcher] = []

    def make(**kwargs) -> CardFetcher:
        kwargs.setdefault("cache_dir", tmp_path / "cards")
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("allow_private", True)  # the test site is on loopback
        fetcher = CardFetcher(kwargs.pop("cache_dir"), **kwargs)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


@pytest.fixture(scope="session")
def huge_png() -> bytes:
    data = encode(noise((4000, 4000), block=4), "PNG", compress_level=1)
    assert len(data) > 3 * MAX_THUMB_BYTES
    return data


# -- cards ------------------------------------------------------------------------------------

def test_og_tags_make_the_card(site, make_fetcher):
    """A page with Open Graph tags gives the card its title, description and absolute image URL."""
    site.routes["/p/issue"] = Route(page(
        '<title>Page title | Site</title>'
        '<meta property="og:title" content="Russia&#8217;s Eroding Influence &amp; Azerbaijan">'
        '<meta property="og:description" content="Shifting   alliances\n in the South Caucasus">'
        '<meta property="og:image" content="/img/cover.jpeg">'
        '<meta name="twitter:title" content="Twitter title">'
    ))
    card = make_fetcher().card(site.url("/p/issue"), FALLBACK)
    assert card == Card(
        uri=site.url("/p/issue"),
        title="Russia’s Eroding Influence & Azerbaijan",
        description="Shifting alliances in the South Caucasus",
        thumb_url=site.url("/img/cover.jpeg"),
    )


def test_twitter_tags_when_no_og(site, make_fetcher):
    """Without Open Graph tags, twitter:* tags are used, before the <title>."""
    site.routes["/t"] = Route(page(
        "<title>Plain title</title>"
        '<meta name="twitter:title" content="Tw title">'
        '<meta name="twitter:description" content="Tw description">'
        '<meta name="twitter:image" content="https://cdn.example/tw.png">'
    ))
    card = make_fetcher().card(site.url("/t"), FALLBACK)
    assert (card.title, card.description, card.thumb_url) == (
        "Tw title", "Tw description", "https://cdn.example/tw.png")


def test_title_and_meta_description_beat_the_feed(site, make_fetcher):
    """A page with only <title> and meta description uses them; the image comes from the feed."""
    site.routes["/plain"] = Route(page(
        "<title> The Right of Veto </title><meta name=description content='Slovakia and gas'>"))
    card = make_fetcher().card(site.url("/plain"), FALLBACK)
    assert card == Card(site.url("/plain"), "The Right of Veto", "Slovakia and gas",
                        FALLBACK.thumb_url)


def test_page_without_tags_uses_fallback(site, make_fetcher):
    """A page with no title or meta tags gives the feed's title, subtitle and enclosure."""
    site.routes["/bare"] = Route(b"<html><body><p>Nothing here</p></body></html>")
    card = make_fetcher().card(site.url("/bare"), FALLBACK)
    assert card == Card(site.url("/bare"), FALLBACK.title, FALLBACK.description,
                        FALLBACK.thumb_url)


def test_404_page_uses_fallback(site, make_fetcher, caplog):
    """A page that 404s gives the feed's card, and says so in one log line."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    card = make_fetcher().card(site.url("/gone"), FALLBACK)
    assert card == Card(site.url("/gone"), FALLBACK.title, FALLBACK.description,
                        FALLBACK.thumb_url)
    assert caplog.messages == [f"card.page_failed url={site.url('/gone')} reason=\"HTTP 404\""]


def test_slow_page_times_out_to_fallback(site, make_fetcher):
    """A page that does not answer in time gives the feed's card quickly."""
    site.routes["/slow"] = Route(page("<title>Too late</title>"), delay=10)
    started = time.monotonic()
    card = make_fetcher(timeout=0.3).card(site.url("/slow"), FALLBACK)
    assert time.monotonic() - started < 2.0
    assert card.title == FALLBACK.title


def test_non_html_page_uses_fallback(site, make_fetcher):
    """A link to a PDF is not parsed as HTML; the card comes from the feed."""
    site.routes["/doc.pdf"] = Route(b"%PDF-1.7 <title>nope</title>", "application/pdf")
    card = make_fetcher().card(site.url("/doc.pdf"), FALLBACK)
    assert card.title == FALLBACK.title and site.hits["/doc.pdf"] == 1


def test_redirect_resolves_image_against_final_url(site, make_fetcher):
    """After a redirect, a relative og:image is resolved against the page it landed on."""
    site.routes["/old"] = Route(status=301, headers={"Location": "/new/post"})
    site.routes["/new/post"] = Route(page(
        '<meta property="og:title" content="Moved"><meta property="og:image" content="cover.png">'))
    card = make_fetcher().card(site.url("/old"), FALLBACK)
    assert (card.uri, card.title, card.thumb_url) == (
        site.url("/old"), "Moved", site.url("/new/cover.png"))


def test_long_description_is_trimmed_at_a_word(site, make_fetcher):
    """A very long description is cut to at most 300 characters at a word boundary."""
    words = " ".join(f"word{i}" for i in range(200))
    site.routes["/long"] = Route(page(f'<meta property="og:description" content="{words}">'))
    desc = make_fetcher().card(site.url("/long"), FALLBACK).description
    assert len(desc) <= 300 and desc.endswith("…")
    assert words.startswith(desc[:-1]) and words[len(desc) - 1] == " "


def test_request_identifies_the_bot(site, make_fetcher):
    """Pages are fetched with the bot's own User-Agent."""
    site.routes["/ua"] = Route(page("<title>x</title>"))
    make_fetcher().card(site.url("/ua"), FALLBACK)
    assert site.headers[0]["User-Agent"] == USER_AGENT


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "mailto:a@b.c", "javascript:alert(1)", ""])
def test_only_http_links_are_fetched(site, make_fetcher, url):
    """A link that is not http(s) is never fetched; the card is the feed's."""
    fetcher = make_fetcher()
    assert fetcher.card(url, FALLBACK) == Card(url, FALLBACK.title, FALLBACK.description,
                                                FALLBACK.thumb_url)
    assert fetcher.thumb(url or None) is None
    assert site.total == 0


def test_cards_fetches_each_link_once(site, make_fetcher):
    """cards() gives a card per link and fetches a repeated link once."""
    site.routes["/a"] = Route(page('<meta property="og:title" content="A">'))
    urls = [site.url("/a"), site.url("/b"), site.url("/a")]
    cards = make_fetcher().cards(replace(FALLBACK, uri=u) for u in urls)
    assert {u: c.title for u, c in cards.items()} == {
        site.url("/a"): "A", site.url("/b"): FALLBACK.title}
    assert site.hits == Counter({"/a": 1, "/b": 1})


# -- thumbs -----------------------------------------------------------------------------------

def test_huge_image_is_downscaled_under_the_limit(site, make_fetcher, huge_png):
    """A 4000x4000 noisy PNG becomes a JPEG thumb of at most 1,000,000 bytes."""
    site.routes["/huge.png"] = Route(huge_png, "image/png")
    thumb = make_fetcher().thumb(site.url("/huge.png"))
    assert thumb is not None and thumb.mime == "image/jpeg"
    assert len(thumb.data) <= MAX_THUMB_BYTES
    img = Image.open(io.BytesIO(thumb.data))
    img.load()
    assert img.format == "JPEG" and img.width == img.height and 200 <= img.width <= 2000


def test_small_image_passes_through(site, make_fetcher):
    """A small JPEG is posted exactly as the site serves it."""
    data = encode(noise((300, 200)), "JPEG", quality=80)
    site.routes["/small.jpg"] = Route(data, "image/jpeg")
    assert make_fetcher().thumb(site.url("/small.jpg")) == Thumb(data, "image/jpeg", 300, 200)


def test_transparent_png_is_flattened_when_reencoded(site, make_fetcher):
    """A transparent PNG too big to pass through becomes an RGB JPEG with a white background."""
    img = Image.new("RGBA", (2400, 1200), (200, 0, 0, 0))  # red, but fully transparent
    img.paste((0, 0, 255, 255), (1200, 0, 2400, 1200))  # right half opaque blue
    site.routes["/alpha.png"] = Route(encode(img, "PNG"), "image/png")
    thumb = make_fetcher().thumb(site.url("/alpha.png"))
    assert thumb is not None and thumb.mime == "image/jpeg"
    out = Image.open(io.BytesIO(thumb.data))
    assert out.size == (2000, 1000) and out.mode == "RGB"
    assert out.getpixel((10, 10)) == (255, 255, 255)
    red, green, blue = out.getpixel((1990, 10))
    assert blue > 240 and red < 15 and green < 15


@pytest.mark.parametrize("name,route", [
    ("not-an-image", Route(b"<html>this is not a jpeg</html>" * 50, "image/jpeg")),
    ("truncated", Route(encode(noise((400, 400)), "PNG")[:5000], "image/png")),
    ("html", Route(page("<title>Login</title>"), "text/html")),
    ("missing", Route(b"nope", "text/plain", 404)),
])
def test_bad_image_gives_no_thumb(site, make_fetcher, caplog, name, route):
    """A non-image, a broken image or a missing one gives no thumb, logged as one event line."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    site.routes[f"/{name}"] = route
    assert make_fetcher().thumb(site.url(f"/{name}")) is None
    assert len(caplog.messages) == 1
    assert caplog.messages[0].startswith(f"card.thumb_failed url={site.url('/' + name)} reason=")


def claims_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a decompression bomb's shape)."""
    data = bytearray(encode(Image.new("L", (1, 1)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)  # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR CRC
    return bytes(data)


@pytest.mark.parametrize("side", [8000, 30000])
def test_decompression_bomb_gives_no_thumb(site, make_fetcher, caplog, side):
    """An image claiming too many pixels is refused without being decoded."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    site.routes["/bomb.png"] = Route(claims_size(side, side), "image/png")
    assert make_fetcher().thumb(site.url("/bomb.png")) is None
    assert "card.thumb_failed" in caplog.messages[0]


@pytest.mark.parametrize("send_length", [True, False])
def test_image_over_download_cap_gives_no_thumb(site, make_fetcher, caplog, send_length):
    """An image larger than the download cap is not downloaded in full and gives no thumb."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    data = encode(noise((400, 400)), "PNG")
    assert len(data) > 100_000
    site.routes["/big.png"] = Route(data, "image/png", send_length=send_length)
    assert make_fetcher(max_image_bytes=100_000).thumb(site.url("/big.png")) is None
    reason = f"too large ({len(data)} bytes > 100000)" if send_length else "too large (over 100000"
    assert f'reason="{reason}' in caplog.messages[0]
    assert make_fetcher(cache_dir=None).thumb(site.url("/big.png")) is not None  # cap was why


def test_slow_image_times_out(site, make_fetcher):
    """An image server that does not answer in time gives no thumb, quickly."""
    site.routes["/slow.jpg"] = Route(encode(noise((50, 50)), "JPEG"), "image/jpeg", delay=10)
    started = time.monotonic()
    assert make_fetcher(timeout=0.3).thumb(site.url("/slow.jpg")) is None
    assert time.monotonic() - started < 2.0


# -- cache ------------------------------------------------------------------------------------

def test_cache_survives_a_new_fetcher(site, make_fetcher, tmp_path):
    """A retry, even in a new process, builds the same card and thumb without fetching again."""
    site.routes["/p"] = Route(page(
        '<meta property="og:title" content="Cached"><meta property="og:image" content="/i.jpg">'))
    site.routes["/i.jpg"] = Route(encode(noise((64, 64)), "JPEG"), "image/jpeg")
    first = make_fetcher()
    card = first.card(site.url("/p"), FALLBACK)
    thumb = first.thumb(card.thumb_url)
    assert first.card(site.url("/p"), FALLBACK) == card
    assert first.thumb(card.thumb_url) == thumb
    assert site.hits == Counter({"/p": 1, "/i.jpg": 1})
    again = make_fetcher()  # same cache_dir
    assert again.card(site.url("/p"), FALLBACK) == card
    assert again.thumb(card.thumb_url) == thumb
    assert site.hits == Counter({"/p": 1, "/i.jpg": 1})
    assert len(list((tmp_path / "cards").glob("*.json"))) == 2


def test_memory_cache_without_cache_dir(site, make_fetcher):
    """Without a cache directory, a fetcher still fetches each link once; a new one fetches anew."""
    site.routes["/m"] = Route(page('<meta property="og:title" content="M">'))
    fetcher = make_fetcher(cache_dir=None)
    assert fetcher.card(site.url("/m"), FALLBACK).title == "M"
    assert fetcher.card(site.url("/m"), FALLBACK).title == "M"
    assert site.hits["/m"] == 1
    make_fetcher(cache_dir=None).card(site.url("/m"), FALLBACK)
    assert site.hits["/m"] == 2


def test_failures_are_remembered_briefly(site, make_fetcher):
    """A failed fetch is not retried at once, but is retried once the failure has aged out."""
    now = [1000.0]
    fetcher = make_fetcher(failure_ttl=60, clock=lambda: now[0])
    fetcher.card(site.url("/later"), FALLBACK)
    assert fetcher.thumb(site.url("/later.jpg")) is None
    now[0] += 30
    assert fetcher.card(site.url("/later"), FALLBACK).title == FALLBACK.title
    assert fetcher.thumb(site.url("/later.jpg")) is None
    assert site.hits == Counter({"/later": 1, "/later.jpg": 1})
    site.routes["/later"] = Route(page('<meta property="og:title" content="Back">'))
    now[0] += 31
    assert fetcher.card(site.url("/later"), FALLBACK).title == "Back"
    assert site.hits["/later"] == 2


# -- parsing ----------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn")), max_size=400)


@given(text)
def test_og_text_roundtrips_through_entities(value):
    """Whatever the escaped text in og:title, the card shows it unescaped, whitespace collapsed."""
    doc = page(f'<meta property="og:title" content="{html.escape(value)}">')
    assert parse_head(doc, "https://example.test/").get("title", "") == _clean(value, 300)


@given(text, st.integers(min_value=10, max_value=300))
def test_trim_keeps_within_the_limit(value, limit):
    """Trimmed text never exceeds the limit and is the start of the original text."""
    collapsed = " ".join(value.split())
    trimmed = _clean(value, limit)
    assert len(trimmed) <= limit
    if len(collapsed) <= limit:
        assert trimmed == collapsed
    else:
        assert trimmed.endswith("…") and collapsed.startswith(trimmed[:-1])
