"""The card fetcher against what an attacker can serve or arrange: a cache filled while private
addresses were allowed, pictures sized to exhaust memory, many of them at once. Real HTTP
servers on loopback (tests/card_site.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from card_site import Route, Site, encode, page
from PIL import Image

import bot.cards.image as image
from bot.cards import CardFetcher
from bot.core.post import Card

FALLBACK = Card(uri="https://example.org/x", title="Feed title", description="Feed subtitle")


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def test_a_page_cached_while_private_addresses_were_allowed_is_not_served_under_the_guard(
        site, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="bot.cards")
    site.routes["/admin"] = Route(page('<meta property="og:title" content="Internal admin">'))
    url = site.url("/admin")
    with CardFetcher(tmp_path / "cards", allow_private=True) as lenient:
        assert lenient.card(url, FALLBACK).title == "Internal admin"
    with CardFetcher(tmp_path / "cards") as strict:  # the same cache folder, the guard on
        card = strict.card(url, FALLBACK)
        assert strict.fetched(url) == {}
    assert card.title == "Feed title"
    assert site.hits["/admin"] == 1  # and the guard refused it before any connection
    assert "a loopback address" in caplog.text


def test_a_page_cached_under_the_same_guard_is_still_served_from_the_cache(site, tmp_path):
    site.routes["/p"] = Route(page('<meta property="og:title" content="A page">'))
    url = site.url("/p")
    for _ in range(2):
        with CardFetcher(tmp_path / "cards", allow_private=True) as fetcher:
            assert fetcher.card(url, FALLBACK).title == "A page"
    assert site.hits["/p"] == 1


def test_a_7000_by_7000_picture_is_refused_before_it_is_decoded(site, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="bot.cards")
    site.routes["/big.png"] = Route(encode(Image.new("1", (7000, 7000)), "PNG"), "image/png")
    with CardFetcher(tmp_path / "c", allow_private=True) as fetcher:
        assert fetcher.thumb(site.url("/big.png")) is None
    assert "too large to decode (7000x7000)" in caplog.text


def test_at_most_two_pictures_are_decoded_at_a_time(site, tmp_path, monkeypatch):
    """Eight pictures fetched side by side (eight threads): two decodes at most at any moment."""
    active = 0
    most = 0
    lock = threading.Lock()
    real_open = image._open

    def watched(data: bytes):
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        try:
            time.sleep(0.1)
            return real_open(data)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(image, "_open", watched)
    png = encode(Image.new("RGB", (300, 200), "red"), "PNG")
    for n in range(8):
        site.routes[f"/{n}.png"] = Route(png, "image/png")
    with CardFetcher(tmp_path / "c", allow_private=True) as fetcher:
        got = fetcher.thumbs(site.url(f"/{n}.png") for n in range(8))
    assert len(got) == 8
    assert most == image.DECODES == 2


@pytest.mark.parametrize("host,kind", [
    ("[fec0::1]", "not public"),  # site-local: ipaddress calls it global
    ("192.0.0.8", "not public"),  # IETF protocol assignments: ipaddress calls it global
    ("[64:ff9b::7f00:1]", "loopback"),  # NAT64 of 127.0.0.1
    ("[64:ff9b::a9fe:a9fe]", "link-local"),  # NAT64 of the metadata service
    ("198.18.0.1", "private"),  # benchmarking
])
def test_addresses_ipaddress_calls_global_are_refused_before_any_connection(
        site, tmp_path, caplog, host, kind):
    caplog.set_level(logging.WARNING, logger="bot.cards")
    with CardFetcher(tmp_path / "c") as fetcher:
        card = fetcher.card(f"http://{host}:{site.port}/", FALLBACK)
    assert card.title == "Feed title"
    assert f"is a {kind} address" in caplog.text
