"""Read + compose every issue of a feed vs feedparser alone on the same bytes, in the same run.

The bot's work: `bot.core.reader.parse_feed` (feedparser, then each entry's HTML read into sections)
and `bot.core.thread.compose` for every issue, offline (cards from the feed). The comparison is the
least any feed bot does: `feedparser.parse(data)` of the same bytes. Target: within 3x.
Measured as CPU time of this process (single-threaded work; steadier than wall time when the
machine is shared).

Two feeds: the 20-item real Substack feed
(tests/fixtures/substack/kofacts_obodugo_substack-feed.xml, not a BWR newsletter: root posts only)
and the seed BWR issue repeated 20 times (every section present,
17 posts each), which is the bot's real workload.
"""

from __future__ import annotations

import re

import feedparser

from benchmarks.common import FIXTURES, SAMPLE_FEED, Config, Figure, log, timed
from bot.core.profile import Profile, load_profile
from bot.core.reader import parse_feed
from bot.core.thread import compose

FEED = FIXTURES / "substack" / "kofacts_obodugo_substack-feed.xml"
SEED_FEED = SAMPLE_FEED
TARGET_RATIO = 3.0


def read_and_compose(data: bytes, profile: Profile) -> int:
    """Every issue of the feed read and composed; returns the number of posts made."""
    feed = parse_feed(data, profile)
    return sum(len(t) for issue in feed.issues for t in compose(issue, profile))


def seed_times(n: int) -> bytes:
    """The seed feed with its one issue repeated n times (distinct links and guids)."""
    text = SEED_FEED.read_text(encoding="utf-8")
    found = re.search(r"<item>.*</item>", text, re.S)
    assert found is not None, "the seed feed has no <item>"
    item = found.group(0)
    slug = "russias-eroding-influence-in-the"
    items = [item.replace(slug, f"{slug}-{k}") for k in range(n)]
    return text.replace(item, "".join(items)).encode("utf-8")


def _figure(name: str, data: bytes, profile: Profile, config: Config) -> Figure:
    issues = len(feedparser.parse(data).entries)
    posts = read_and_compose(data, profile)  # warm-up: imports, regex compilation
    loops = config.loops(5, 1)
    fig = Figure(
        name=name,
        unit="s",
        target=f"<= {TARGET_RATIO:g}x bare parse",
        compared_with="feedparser.parse",
        check=lambda _v, ratio: ratio is not None and ratio <= TARGET_RATIO,
        note=f"{len(data)} bytes, {issues} issues, {posts} posts",
    )
    for run in range(config.runs):
        # Alternate the order so neither side always runs on a warmer cache.
        if run % 2:
            bare = timed(lambda: feedparser.parse(data), loops, cpu=True)
            ours = timed(lambda: read_and_compose(data, profile), loops, cpu=True)
        else:
            ours = timed(lambda: read_and_compose(data, profile), loops, cpu=True)
            bare = timed(lambda: feedparser.parse(data), loops, cpu=True)
        fig.add(ours, bare)
    log(f"{name}: {fig.value * 1000:.1f} ms, ratio {fig.ratio:.2f}x ({fig.note})")
    return fig


def measure(config: Config) -> list[Figure]:
    profile = load_profile()
    return [
        _figure("read+compose 20-item feed", FEED.read_bytes(), profile, config),
        _figure("read+compose seed issue x20", seed_times(20), profile, config),
    ]
