"""What hostile input costs before it is refused or recorded (issue "Hostile input, hostile
config"): the limits hold early, so an attacker's feed costs about what reading it costs.

- "9 MB paragraph: refused": CPU time of `parse_feed` + `compose` of a feed whose one issue
  ends in a 9 MB paragraph, until `compose` refuses it (ThreadError: more text than 999 posts
  hold), vs `feedparser.parse` of the same bytes. Before: 170 s and 1.9 GB, refused by the post
  count after splitting. Target: under 1 s, within 3x the bare parse.
- "first pass over a huge feed": wall time of one `Worker.poll` on an empty SQLite store of a
  local feed of 40,000 small entries (4,000 with --quick), all older than the backfill window,
  vs `feedparser.parse` of the same bytes; the note says how many log lines the pass wrote.
  Before: one transaction (one fsync) and one log line per entry (100,000 entries: 157 s,
  100,000 lines). Target: within 3x the bare parse, fewer than 50 lines.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser

from benchmarks.common import Config, Figure, from_tests, log, timed
from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import compose
from bot.errors import ThreadError


def _huge_paragraph_feed() -> bytes:
    newsletter = from_tests("drivers.newsletter_feed")
    with newsletter.NewsletterServer() as nl:
        nl.add("huge")
        nl.edit("huge", extra="word " * 1_800_000)
        return nl.feed_bytes()


def _refused(data: bytes) -> None:
    profile = load_profile()
    (issue,) = parse_feed(data, profile).issues
    try:
        compose(issue, profile)
    except ThreadError:
        return
    raise AssertionError("the 9 MB paragraph was not refused")


def _paragraph(config: Config) -> Figure:
    data = _huge_paragraph_feed()
    fig = Figure(
        name="9 MB paragraph: refused",
        unit="s",
        target="< 1 s, <= 3x bare parse",
        compared_with="feedparser.parse",
        check=lambda value, ratio: value < 1.0 and ratio is not None and ratio <= 3.0,
        note=f"{len(data)} bytes",
    )
    for _ in range(config.runs):
        fig.add(timed(lambda: _refused(data), cpu=True), timed(lambda: feedparser.parse(data),
                                                               cpu=True))
    log(f"{fig.name}: {fig.value:.2f} s, ratio {fig.ratio:.2f}x")
    return fig


def _feed(entries: int) -> bytes:
    base = datetime(2020, 1, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>t{n}</title><link>https://x.test/p/{n}</link><guid>g{n}</guid>"
        f"<pubDate>{format_datetime(base + timedelta(minutes=n), usegmt=True)}</pubDate></item>"
        for n in range(entries))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
            "</channel></rss>").encode()


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1


def _first_pass(folder: Path, data: bytes, run: int) -> tuple[float, int]:
    from bot.service.worker import Worker
    from bot.settings import Settings
    from bot.store.api import Store

    feed = folder / "feed.xml"
    feed.write_bytes(data)
    settings = Settings(feed_url=str(feed), database_url=f"sqlite:///{folder / f'{run}.db'}",
                        bsky_handle="bench.test", bsky_app_password="abcd-efgh-ijkl-mnop",
                        cards="off")
    store = Store(settings.database_url)
    store.upgrade()
    counter = _Count()
    bot_log = logging.getLogger("bot")
    level, propagate = bot_log.level, bot_log.propagate
    bot_log.addHandler(counter)
    bot_log.setLevel(logging.INFO)
    bot_log.propagate = False  # counted, not printed: the table is what this prints
    try:
        with Worker(settings, store, cache_dir=folder / "cache") as worker:
            seconds = timed(worker.poll)
    finally:
        bot_log.removeHandler(counter)
        bot_log.setLevel(level)
        bot_log.propagate = propagate
        store.close()
    return seconds, counter.lines


def _huge_feed(config: Config) -> Figure:
    entries = 4_000 if config.quick else 40_000
    data = _feed(entries)
    lines = 0
    fig = Figure(
        name="first pass over a huge feed",
        unit="s",
        target="<= 3x bare parse, < 50 log lines",
        compared_with="feedparser.parse",
        check=lambda _value, ratio: ratio is not None and ratio <= 3.0 and lines < 50,
    )
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(config.runs):
            seconds, lines = _first_pass(Path(tmp), data, run)
            fig.add(seconds, timed(lambda: feedparser.parse(data)))
    fig.note = f"{entries} entries, {len(data)} bytes, {lines} log lines"
    log(f"{fig.name}: {fig.value:.2f} s, ratio {fig.ratio:.2f}x ({fig.note})")
    return fig


def measure(config: Config) -> list[Figure]:
    return [_paragraph(config), _huge_feed(config)]
