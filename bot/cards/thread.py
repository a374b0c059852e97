"""A thread's cards, as CARDS says: `rich` fetches the page of every link that gets a card,
`feed` only the newsletter's own page, `off` fetches nothing and cards the root alone.

The composer decides which links get a card; the thread is composed once without network to
learn them, their pages are fetched side by side, and it is composed again with what they said
(composing is pure and takes milliseconds)."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from bot.cards.fetcher import CardFetcher
from bot.core.model import Issue
from bot.core.post import Card, Thread
from bot.core.profile import Profile
from bot.core.thread import compose

Mode = Literal["rich", "feed", "off"]
MODES: tuple[Mode, ...] = ("rich", "feed", "off")


def compose_with_cards(
    issue: Issue, profile: Profile, fetcher: CardFetcher | None, mode: str = "rich"
) -> list[Thread]:
    """The thread(s) for `issue` with its cards fetched as `mode` says (none when `fetcher` is
    None: the feed's cards, offline)."""
    if mode not in MODES:
        raise ValueError(f"card mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "off":
        profile = replace(profile, thread=replace(profile.thread, cards_for_readings=False))
        return compose(issue, profile)
    offline = compose(issue, profile)
    if fetcher is None:
        return offline
    wanted = [c for c in cards_of(offline) if mode == "rich" or c.uri == issue.link]
    return compose(issue, profile, fetcher.cards(wanted))


def cards_of(threads: list[Thread]) -> list[Card]:
    """Every card of the threads, in order, each link once."""
    seen: dict[str, Card] = {}
    for thread in threads:
        for post in thread:
            if post.card is not None and post.card.uri not in seen:
                seen[post.card.uri] = post.card
    return list(seen.values())
