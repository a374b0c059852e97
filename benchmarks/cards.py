"""Composing an issue with six readings whose pages each answer after 1 s, vs the slowest single
fetch, in the same run. Target: within 1.5x — the thread's pages are fetched side by side, so
the issue costs about its slowest page, not the sum (6 s).

Six sites, one per reading, on 127.0.0.1 … 127.0.0.6 (each its own host, as six newspapers
would be; one host gets at most 2 requests at a time), each page answering after 1 s; the
newsletter's own page answers at once. The bot's side is `compose_with_cards(…, "rich")` with a
fresh fetcher and no cache; the comparison is one fresh fetcher fetching one of those pages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from benchmarks.common import Config, Figure, from_tests, log
from bot.cards import CardFetcher, compose_with_cards
from bot.core.model import Issue, Item, Link
from bot.core.post import Card
from bot.core.profile import load_profile

READINGS = 6
DELAY = 1.0
TARGET_RATIO = 1.5


@contextmanager
def _sites() -> Iterator[tuple[Any, list[Any]]]:
    card_site = from_tests("card_site")  # tests/card_site.py: the card tests' web server
    with ExitStack() as stack:
        home = card_site.Site("127.0.0.1")
        stack.callback(home.close)
        home.routes["/issue"] = card_site.Route(card_site.page("<title>The issue</title>"))
        readings = []
        for n in range(READINGS):
            site = card_site.Site(f"127.0.0.{n + 2}")
            stack.callback(site.close)
            site.routes["/story"] = card_site.Route(
                card_site.page(f'<meta property="og:title" content="Story {n}">'), delay=DELAY)
            readings.append(site)
        yield home, readings


def _issue(home: Any, readings: list[Any]) -> Issue:
    return Issue(
        guid=home.url("/issue"),
        link=home.url("/issue"),
        title="An issue with six readings",
        follow_ups=tuple(
            Item(headline=f"Follow-up {n}", paragraphs=("What happened.",),
                 links=(Link(f"Reading {n}", site.url("/story")),))
            for n, site in enumerate(readings)
        ),
    )


def measure(config: Config) -> list[Figure]:
    profile = load_profile()
    fig = Figure(
        name="compose with 6 slow card pages",
        unit="s",
        target=f"<= {TARGET_RATIO:g}x slowest page",
        compared_with="one page alone",
        check=lambda _v, ratio: ratio is not None and ratio <= TARGET_RATIO,
        note=f"{READINGS} readings on {READINGS} hosts, each page answering after {DELAY:g} s",
    )
    with _sites() as (home, readings):
        issue = _issue(home, readings)
        for run in range(config.runs):
            log(f"cards: run {run + 1}/{config.runs}")
            with CardFetcher(None, allow_private=True) as fetcher:
                start = time.perf_counter()
                threads = compose_with_cards(issue, profile, fetcher, "rich")
                together = time.perf_counter() - start
            titles = [p.card.title for t in threads for p in t
                      if p.card and p.card.uri != issue.link]
            assert titles == [f"Story {n}" for n in range(READINGS)], titles
            with CardFetcher(None, allow_private=True) as fetcher:
                start = time.perf_counter()
                fetcher.card(readings[0].url("/story"), Card(uri="", title="feed"))
                alone = time.perf_counter() - start
            fig.add(together, alone)
    return [fig]
