"""createSession calls per 100 polls: the bot's saved session vs signing in on every poll.

Bluesky locks out accounts that sign in too often (30 createSession per 5 minutes, a few hundred
a day), so the bot saves its session in the store and reuses it. Here each poll is what a poll
costs in sessions: a FRESH store handle and a fresh Publisher (as in a new `python -m bot poll`
process or a daemon tick), which signs in from the store's saved session and asks the PDS
whether the seed issue is posted (`find_thread`). The publisher's clock moves POLL_INTERVAL
(300 s) per poll, so 100 polls span 8 h 20 min of token life. The PDS dates the tokens it gives
by its real clock, so after ~20 polls the SDK finds every access token stale and refreshes on
each later poll (about 80 refreshSession per 100 polls here, an artifact of the fast clock;
in real time it is one per ~2 h): that exercises the rotate-and-save path 80 times, and
createSession must stay 0 throughout.

The comparison signs in with the app password on every poll, as a stateless cron bot does.
Target: 0 createSession after the first sign-in.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import Config, Figure, log
from benchmarks.publish import create_sessions

POLL_INTERVAL = 300.0  # seconds between polls (the default POLL_INTERVAL)
SEED_LINK = "https://aablanco.substack.com/p/russias-eroding-influence-in-the"


def with_saved_session(pds: Any, account: Any, polls: int, db_url: str) -> Counter[str]:
    """Requests by method over `polls` polls, each signing in from the store's saved session;
    the first poll of all finds no saved session and signs in (not counted)."""
    from bot.bluesky.connection import Connection
    from bot.bluesky.publisher import Publisher
    from bot.store.api import Store

    fake_now = [time.time()]

    def clock() -> float:
        return fake_now[0]

    def one_poll(counts: Counter[str]) -> None:
        store = Store(db_url)
        try:
            sessions = store.sessions.keeper(account.handle, pds.url)
            with Publisher(Connection(pds.url, account.handle, account.app_password, sessions,
                                      clock=clock)) as pub:
                pub.find_thread(SEED_LINK, ())
                counts.update(pub.connection.requests)
        finally:
            store.close()

    first: Counter[str] = Counter()
    one_poll(first)  # the first sign-in ever: createSession, saved to the store
    counts: Counter[str] = Counter()
    for _ in range(polls):
        fake_now[0] += POLL_INTERVAL
        one_poll(counts)
    return counts


def signing_in_each_poll(pds: Any, account: Any, polls: int) -> Counter[str]:
    """Requests by method over `polls` polls that each sign in with the app password."""
    from bot.bluesky.connection import Connection
    from bot.bluesky.publisher import Publisher
    from bot.bluesky.session import MemorySessionKeeper

    counts: Counter[str] = Counter()
    for _ in range(polls):
        with Publisher(Connection(pds.url, account.handle, account.app_password,
                                  MemorySessionKeeper())) as pub:
            pub.find_thread(SEED_LINK, ())
            counts.update(pub.connection.requests)
    return counts


def measure(config: Config, pds: Any) -> list[Figure]:
    from bot.store.api import Store

    polls = config.loops(100, 20)
    scale = 100 / polls
    fig = Figure(
        name="createSession per 100 polls", unit="count",
        compared_with="sign in every poll", target="0 after first sign-in",
        check=lambda v, _r: v == 0,
    )
    refreshes: list[int] = []
    for _run in range(config.runs):
        account = pds.new_account("benchsess")
        with tempfile.TemporaryDirectory(prefix="bwr-bench-store-") as tmp:
            db_url = f"sqlite:///{Path(tmp) / 'bot.db'}"
            store = Store(db_url)
            store.upgrade()
            store.close()
            ours = with_saved_session(pds, account, polls, db_url)
        theirs = signing_in_each_poll(pds, account, polls)
        fig.add(create_sessions(ours) * scale, create_sessions(theirs) * scale)
        refreshes.append(sum(n for m, n in ours.items() if m.endswith("refreshSession")))
    fig.note = (f"{polls} polls per run, {POLL_INTERVAL:g} s apart on the publisher's clock; "
                f"refreshSession calls per run: {refreshes}")
    log(f"sessions: {fig.value:g} vs {fig.comparison:g} createSession per 100 polls; "
        f"refreshes {refreshes}")
    return [fig]
