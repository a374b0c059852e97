"""Which addresses a card may be fetched from, and a transport that connects only there.

Reading links come from a feed's content, not from the operator, so a link must not make the bot
reach the machine it runs on, its network or a cloud metadata service. The guard itself is the
network's one guard (bot.net), shared with the feed's redirects; here it is given the card
fetcher's shape: a transport whose every connection, on every redirect hop, is checked, and
whose every request ends by its deadline."""

from __future__ import annotations

from bot.net import DeadlineTransport, Guard, Refused, refused_kind, resolve

__all__ = ["Guard", "GuardedTransport", "Refused", "refused_kind", "resolve"]


class GuardedTransport(DeadlineTransport):
    """A transport through `guard`, each request bounded by `budget` seconds (or by the
    `deadline` its request carries)."""

    def __init__(self, guard: Guard, budget: float = 10.0) -> None:
        super().__init__(budget, guard=guard)
