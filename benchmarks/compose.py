"""Read + compose every issue of a 20-item real Substack feed vs feedparser alone on the same bytes.

The bot's work: `bot.reader.parse_feed` (feedparser, then each entry's HTML read into sections)
and `bot.thread.compose` for every issue, offline (cards from the feed). The comparison is the
least any feed bot does: `feedparser.parse(data)` of the same bytes. Target: within 3x.
"""

from __future__ import annotations

import feedparser

from benchmarks.common import SHARED, Config, Figure, log, timed
from bot.profile import Profile, load_profile
from bot.reader import parse_feed
from bot.thread import compose

FEED = SHARED / "fixtures" / "substack" / "kofacts_obodugo_substack-feed.xml"
TARGET_RATIO = 3.0


def read_and_compose(data: bytes, profile: Profile) -> int:
    """Every issue of the feed read and composed; returns the number of posts made."""
    feed = parse_feed(data, profile)
    return sum(len(t) for issue in feed.issues for t in compose(issue, profile))


def measure(config: Config) -> list[Figure]:
    data = FEED.read_bytes()
    profile = load_profile()
    issues = len(feedparser.parse(data).entries)
    posts = read_and_compose(data, profile)  # warm-up: imports, regex compilation
    loops = config.loops(5, 1)
    fig = Figure(
        name=f"read+compose {issues}-item feed",
        unit="s",
        target=f"<= {TARGET_RATIO:g}x bare parse",
        compared_with="feedparser.parse",
        check=lambda _v, ratio: ratio is not None and ratio <= TARGET_RATIO,
        note=f"{FEED.name}: {len(data)} bytes, {issues} issues, {posts} posts",
    )
    for run in range(config.runs):
        # Alternate the order so neither side always runs on a warmer cache.
        if run % 2:
            bare = timed(lambda: feedparser.parse(data), loops)
            ours = timed(lambda: read_and_compose(data, profile), loops)
        else:
            ours = timed(lambda: read_and_compose(data, profile), loops)
            bare = timed(lambda: feedparser.parse(data), loops)
        fig.add(ours, bare)
    log(f"read+compose: {fig.value * 1000:.1f} ms, ratio {fig.ratio:.2f}x")
    return [fig]
