"""The card fetcher as a tool that must not be turned against its host: which addresses it
refuses, how much it reads, how it treats pictures, how it shares its work, what it keeps.
Against real HTTP servers on loopback; nothing ever connects anywhere else (a refused address is
refused before any connection)."""

from __future__ import annotations

import gzip
import io
import ipaddress
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator

import pytest
from card_site import Route, Site, encode, noise, page
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from bot.cards import MAX_THUMB_BYTES, CardFetcher, Guard, refused_kind
from bot.core.post import Card

FALLBACK = Card(uri="https://example.org/x", title="Feed title", description="Feed subtitle")


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture
def fetcher_for(tmp_path) -> Iterator[Callable[..., CardFetcher]]:
    made: list[CardFetcher] = []

    def make(**kwargs) -> CardFetcher:
        kwargs.setdefault("timeout", 3.0)
        fetcher = CardFetcher(kwargs.pop("cache_dir", tmp_path / "cards"), **kwargs)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


# -- addresses ------------------------------------------------------------------------------

@pytest.mark.parametrize("host,kind", [
    ("127.0.0.1", "loopback"),
    ("localhost", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("10.1.2.3", "private"),
    ("192.168.1.1", "private"),
    ("[fd00::1]", "private"),
    ("169.254.169.254", "link-local"),
    ("[fe80::1]", "link-local"),
    ("224.0.0.1", "multicast"),
    ("[ff02::1]", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("[::]", "unspecified"),
    ("100.64.0.1", "not public"),
])
def test_refused_addresses_are_never_fetched(site, fetcher_for, caplog, host, kind):
    """A link to a loopback, private, link-local, multicast, reserved or unspecified address
    (IPv4, IPv6, IPv4-mapped, or a name resolving to one) is not fetched: the feed's card."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    site.routes["/"] = Route(page('<meta property="og:title" content="Inside">'))
    url = f"http://{host}:{site.port}/"
    card = fetcher_for().card(url, FALLBACK)
    assert (card.uri, card.title, card.description) == (url, "Feed title", "Feed subtitle")
    assert site.total == 0
    assert f"a {kind} address" in caplog.messages[0]


def test_private_addresses_only_with_the_test_setting(site, fetcher_for):
    """CARDS_ALLOW_PRIVATE lets loopback through, never the cloud metadata address."""
    site.routes["/"] = Route(page('<meta property="og:title" content="Test page">'))
    fetcher = fetcher_for(allow_private=True)
    assert fetcher.card(site.url("/"), FALLBACK).title == "Test page"
    assert fetcher.card("http://169.254.169.254/latest/meta-data/", FALLBACK).title == "Feed title"


def public_looking(site: Site) -> Guard:
    """A guard that takes news.example for a public site: it resolves to the test server, whose
    address (127.0.0.1 only) is treated as public."""
    def resolver(host: str, port: int) -> list[str]:
        assert host == "news.example", host  # any other name would be a real lookup
        return ["127.0.0.1"]

    return Guard(resolver=resolver, trusted=["127.0.0.1"])


@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/secret",
    "http://[::1]:{port}/secret",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/admin",
    "file:///etc/passwd",
])
def test_a_redirect_to_a_refused_address_is_not_followed(site, fetcher_for, caplog, target):
    """A public page that redirects to an inside address gives the feed's card; the inside
    address is never reached."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    site.routes["/story"] = Route(status=302, headers={"Location": target.format(port=site.port)})
    site.routes["/secret"] = Route(page('<meta property="og:title" content="Secret">'))
    url = f"http://news.example:{site.port}/story"
    card = fetcher_for(guard=public_looking(site)).card(url, FALLBACK)
    assert card.title == "Feed title"
    assert dict(site.hits) == {"/story": 1}
    assert "card.page_failed" in caplog.messages[0]


def test_a_redirect_between_public_pages_is_followed(site, fetcher_for):
    """The same public-looking page redirecting to itself is followed; the card is the page's."""
    site.routes["/story"] = Route(status=302, headers={"Location": "/story/"})
    site.routes["/story/"] = Route(page('<meta property="og:title" content="Story">'))
    fetcher = fetcher_for(guard=public_looking(site))
    assert fetcher.card(f"http://news.example:{site.port}/story", FALLBACK).title == "Story"


def test_more_than_five_redirects_give_the_feed_card(site, fetcher_for, caplog):
    """A redirect loop is given up after 5 redirects."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    for n in range(10):
        site.routes[f"/r{n}"] = Route(status=302, headers={"Location": f"/r{n + 1}"})
    assert fetcher_for(allow_private=True).card(site.url("/r0"), FALLBACK).title == "Feed title"
    assert site.total == 6 and "too many redirects" in caplog.messages[0]


v4 = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)


@given(v4)
def test_an_ipv4_address_in_ipv6_clothes_is_judged_as_itself(ip):
    """::ffff:a.b.c.d and 6to4 2002:ab:cd:: get the same verdict as a.b.c.d."""
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80))
    assert refused_kind(mapped) == refused_kind(ip) == refused_kind(sixtofour)


# -- how much is read ----------------------------------------------------------------------

def test_a_huge_page_is_read_only_up_to_the_limit(site, fetcher_for):
    """A page whose head never ends is read up to 2 MB, not to its end; its tags still count."""
    def endless() -> Iterator[bytes]:
        yield b'<html><head><meta property="og:title" content="Huge"><!--'
        for _ in range(800):  # 50 MB
            yield b"x" * 65536

    site.routes["/huge"] = Route(stream=endless)
    assert fetcher_for(allow_private=True).card(site.url("/huge"), FALLBACK).title == "Huge"
    site.release.wait(0.5)  # let the server notice the client went away
    assert site.sent["/huge"] < 20_000_000


def test_a_page_is_read_only_until_its_head_ends(site, fetcher_for):
    """Once </head> has come, the rest of the page is not read."""
    def long_body() -> Iterator[bytes]:
        yield page('<meta property="og:title" content="Short head">')[:-len(b"</body></html>")]
        for _ in range(400):  # 25 MB of body
            yield b"<p>" + b"y" * 65536 + b"</p>"

    site.routes["/long"] = Route(stream=long_body)
    assert fetcher_for(allow_private=True).card(site.url("/long"), FALLBACK).title == "Short head"
    site.release.wait(0.5)
    assert site.sent["/long"] < 20_000_000


def test_a_compressed_bomb_page_is_read_only_up_to_the_limit(site, fetcher_for):
    """A gzip page that inflates to 200 MB is inflated only up to the 2 MB read limit."""
    bomb = gzip.compress(b'<html><head><meta property="og:title" content="Zip"><!--'
                         + b"\0" * 200_000_000, compresslevel=9)
    site.routes["/zip"] = Route(bomb, headers={"Content-Encoding": "gzip"})
    assert fetcher_for(allow_private=True).card(site.url("/zip"), FALLBACK).title == "Zip"


def test_a_compressed_bomb_image_is_refused(site, fetcher_for, caplog):
    """An image that inflates past 10 MB is refused."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    bomb = gzip.compress(encode(Image.new("L", (8, 8)), "PNG") + b"\0" * 50_000_000)
    site.routes["/zip.png"] = Route(bomb, "image/png", headers={"Content-Encoding": "gzip"})
    assert fetcher_for(allow_private=True).thumb(site.url("/zip.png")) is None
    assert "too large (over 10000000 bytes)" in caplog.messages[0]


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/pdf", ""])
def test_a_page_that_is_not_html_gives_the_feed_card(site, fetcher_for, ctype):
    """Only text/html (or XHTML) is read as a page."""
    site.routes["/data"] = Route(page('<meta property="og:title" content="No">'), ctype)
    assert fetcher_for(allow_private=True).card(site.url("/data"), FALLBACK).title == "Feed title"


def test_a_picture_must_say_it_is_an_image(site, fetcher_for):
    """A picture served as application/octet-stream is not used."""
    site.routes["/i"] = Route(encode(noise((40, 40)), "JPEG"), "application/octet-stream")
    assert fetcher_for(allow_private=True).thumb(site.url("/i")) is None


# -- pictures -------------------------------------------------------------------------------

def test_a_3mb_png_becomes_a_thumb_under_the_limit_with_its_size_kept(site, fetcher_for):
    """A 4 MB 1800x1200 PNG is uploaded as a thumb under 1,000,000 bytes, 1800x1200."""
    data = encode(noise((1800, 1200), block=6).filter(ImageFilter.GaussianBlur(1)), "PNG",
                  compress_level=1)
    assert len(data) > 3_000_000
    site.routes["/big.png"] = Route(data, "image/png")
    thumb = fetcher_for(allow_private=True).thumb(site.url("/big.png"))
    assert thumb is not None and len(thumb.data) < MAX_THUMB_BYTES
    out = Image.open(io.BytesIO(thumb.data))
    assert abs(out.width - 1800) <= 3 and abs(out.height - 1200) <= 3
    assert abs(out.width / out.height - 1.5) < 0.01


def test_a_huge_picture_keeps_its_aspect_when_scaled(site, fetcher_for):
    """A 6000x2000 picture is scaled to about 2000 px on the long side, still 3:1."""
    site.routes["/wide.jpg"] = Route(encode(noise((6000, 2000), block=20), "JPEG"), "image/jpeg")
    thumb = fetcher_for(allow_private=True).thumb(site.url("/wide.jpg"))
    assert thumb is not None
    out = Image.open(io.BytesIO(thumb.data))
    assert out.width <= 2000 and out.width >= 1600 and abs(out.width / out.height - 3) < 0.01


def test_a_picture_behind_a_redirect_is_fetched(site, fetcher_for):
    """The page's og:image redirecting to the real picture gives the picture."""
    site.routes["/p"] = Route(page('<meta property="og:image" content="/img/go">'))
    site.routes["/img/go"] = Route(status=302, headers={"Location": "/img/real.jpg"})
    data = encode(noise((120, 80)), "JPEG")
    site.routes["/img/real.jpg"] = Route(data, "image/jpeg")
    fetcher = fetcher_for(allow_private=True)
    card = fetcher.card(site.url("/p"), FALLBACK)
    assert card.thumb_url == site.url("/img/go")
    thumb = fetcher.thumb(card.thumb_url)
    assert thumb is not None and thumb.data == data


def with_gps(size: tuple[int, int]) -> bytes:
    img = noise(size, block=8)
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(0x8825)[2] = (55.0, 45.0, 0.0)  # GPSLatitude
    return encode(img, "JPEG", exif=exif.tobytes(), quality=80)


@pytest.mark.parametrize("size", [(300, 200), (3000, 2000)])
def test_exif_and_gps_are_stripped(site, fetcher_for, size):
    """A photo carrying camera and GPS data is uploaded without them, small or large."""
    data = with_gps(size)
    assert Image.open(io.BytesIO(data)).getexif()
    site.routes["/photo.jpg"] = Route(data, "image/jpeg")
    thumb = fetcher_for(allow_private=True).thumb(site.url("/photo.jpg"))
    assert thumb is not None
    out = Image.open(io.BytesIO(thumb.data))
    assert not out.getexif() and b"SpyCam" not in thumb.data and "exif" not in out.info


def test_an_animated_gif_becomes_its_first_frame(site, fetcher_for):
    """An animated GIF is uploaded as a still picture of its first frame."""
    frames = [Image.new("RGB", (200, 100), c) for c in ((200, 0, 0), (0, 0, 200), (0, 200, 0))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    site.routes["/anim.gif"] = Route(out.getvalue(), "image/gif")
    thumb = fetcher_for(allow_private=True).thumb(site.url("/anim.gif"))
    assert thumb is not None and thumb.mime in ("image/jpeg", "image/png")
    still = Image.open(io.BytesIO(thumb.data))
    assert not getattr(still, "is_animated", False) and still.size == (200, 100)
    red, green, blue = still.convert("RGB").getpixel((100, 50))
    assert red > 180 and green < 30 and blue < 30


def test_a_flat_png_graphic_stays_png_when_smaller(site, fetcher_for):
    """A large flat-colour PNG is scaled and kept as PNG, which is smaller than JPEG there."""
    img = Image.new("RGB", (2400, 1200), (30, 90, 160))
    img.paste((250, 250, 250), (0, 0, 1200, 600))
    site.routes["/flat.png"] = Route(encode(img, "PNG"), "image/png")
    thumb = fetcher_for(allow_private=True).thumb(site.url("/flat.png"))
    assert thumb is not None and thumb.mime == "image/png"
    assert Image.open(io.BytesIO(thumb.data)).size == (2000, 1000)


def test_over_50_megapixels_is_refused(site, fetcher_for, caplog):
    """A real 51-megapixel image is not decoded."""
    caplog.set_level(logging.WARNING, logger="bot.cards")
    site.routes["/vast.png"] = Route(encode(Image.new("1", (10_200, 5_000)), "PNG"), "image/png")
    assert fetcher_for(allow_private=True).thumb(site.url("/vast.png")) is None
    assert "too large to decode (10200x5000)" in caplog.messages[0]


# -- sharing the work -----------------------------------------------------------------------

def test_pages_of_different_sites_are_fetched_side_by_side(fetcher_for):
    """Three sites whose pages each wait for the others to be asked all answer: the fetches
    overlap (one after another, each would wait in vain and give the feed's card)."""
    sites = [Site(f"127.0.0.{n}") for n in (1, 2, 3)]
    together = threading.Barrier(3, timeout=2)
    try:
        for s in sites:
            s.routes["/p"] = Route(page(f'<meta property="og:title" content="{s.host}">'))
            waiting = s.routes["/p"]
            waiting.stream = lambda body=waiting.body: (together.wait(), iter([body]))[1]
        fetcher = fetcher_for(allow_private=True)
        cards = fetcher.cards(Card(uri=s.url("/p"), title="feed") for s in sites)
        assert sorted(c.title for c in cards.values()) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    finally:
        for s in sites:
            s.close()


def test_at_most_two_requests_at_a_time_to_one_host(site, fetcher_for):
    """Six readings on one site are fetched two at a time, never more."""
    for n in range(6):
        site.routes[f"/{n}"] = Route(page(f"<title>{n}</title>"), delay=0.2)
    cards = fetcher_for(allow_private=True).cards(
        Card(uri=site.url(f"/{n}"), title="feed") for n in range(6))
    assert sorted(c.title for c in cards.values()) == [str(n) for n in range(6)]
    assert site.most_at_once == 2


def test_two_cards_sharing_a_picture_download_it_once(site, fetcher_for):
    """thumbs() fetches a picture two cards share once."""
    site.routes["/i.jpg"] = Route(encode(noise((60, 60)), "JPEG"), "image/jpeg")
    thumbs = fetcher_for(allow_private=True).thumbs([site.url("/i.jpg"), site.url("/i.jpg"), None])
    assert list(thumbs) == [site.url("/i.jpg")] and site.hits["/i.jpg"] == 1


# -- what is kept ---------------------------------------------------------------------------

def test_the_cache_is_the_owners_only(site, fetcher_for, tmp_path):
    """The cache folder is 0700 and its files 0600, even when the folder was there before."""
    folder = tmp_path / "shared-cache"
    folder.mkdir(mode=0o755)
    site.routes["/p"] = Route(page('<meta property="og:image" content="/i.jpg">'))
    site.routes["/i.jpg"] = Route(encode(noise((30, 30)), "JPEG"), "image/jpeg")
    fetcher = fetcher_for(allow_private=True, cache_dir=folder)
    fetcher.thumb(fetcher.card(site.url("/p"), FALLBACK).thumb_url)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    files = list(folder.iterdir())
    assert len(files) == 3  # the page's JSON, the picture's JSON and its bytes
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


def test_found_cards_are_kept_a_day_and_failures_an_hour(site, fetcher_for):
    """A card fetched is not fetched again for a day; a failure is tried again after an hour."""
    now = [1_000_000.0]
    site.routes["/ok"] = Route(page("<title>OK</title>"))
    fetcher = fetcher_for(allow_private=True, clock=lambda: now[0])
    fetcher.card(site.url("/ok"), FALLBACK)
    fetcher.card(site.url("/down"), FALLBACK)
    now[0] += 3_500
    fetcher.card(site.url("/ok"), FALLBACK)
    fetcher.card(site.url("/down"), FALLBACK)
    assert dict(site.hits) == {"/ok": 1, "/down": 1}
    now[0] += 200  # past the hour
    fetcher.card(site.url("/down"), FALLBACK)
    fetcher.card(site.url("/ok"), FALLBACK)
    assert dict(site.hits) == {"/ok": 1, "/down": 2}
    now[0] += 86_400
    fetcher.card(site.url("/ok"), FALLBACK)
    assert site.hits["/ok"] == 2
