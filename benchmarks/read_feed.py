"""How long reading a 20-item feed takes, against bare feedparser on the same bytes.

Prints figures (no pass/fail): bare `feedparser.parse`, `parse_feed` (feedparser + every entry's
HTML read once with lxml), and `parse_feed` + composing every issue's thread, each the best of
several rounds, and their ratios to bare feedparser. Two feeds: a real 20-item Substack feed and
the seed issue repeated 20 times (every section present).

    .venv/bin/python benchmarks/read_feed.py
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.profile import load_profile  # noqa: E402
from bot.core.reader import parse_feed  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE_FEED = ROOT / "examples" / "bwr-feed.xml"
ROUNDS = 15


def best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def seed_times_20() -> bytes:
    data = SAMPLE_FEED.read_text(encoding="utf-8")
    item = re.search(r"<item>.*</item>", data, re.S).group(0)  # type: ignore[union-attr]
    items = [item.replace("russias-eroding-influence-in-the", f"issue-{n}") for n in range(20)]
    return data.replace(item, "".join(items)).encode("utf-8")


def main() -> None:
    profile = load_profile()
    try:
        from bot.core.thread import compose
    except ImportError:  # the composer is optional for this figure
        compose = None
    feeds = {
        "kofacts (20 real items)": (
            FIXTURES / "substack" / "kofacts_obodugo_substack-feed.xml"
        ).read_bytes(),
        "seed x 20 (BWR-shaped)": seed_times_20(),
    }
    for name, data in feeds.items():
        report(name, data, profile, compose)


def report(name: str, data: bytes, profile: object, compose: Callable[..., object] | None) -> None:
    bare = best(lambda: feedparser.parse(data, sanitize_html=False))
    read = best(lambda: parse_feed(data, profile))  # type: ignore[arg-type]
    print(f"{name}: {len(data) / 1024:.0f} KiB")
    print(f"  feedparser.parse        {bare * 1000:7.1f} ms")
    print(f"  parse_feed              {read * 1000:7.1f} ms  ({read / bare:.2f}x)")
    if compose is not None:

        def both() -> None:
            for issue in parse_feed(data, profile).issues:  # type: ignore[arg-type]
                compose(issue, profile)

        total = best(both)
        print(f"  parse_feed + compose    {total * 1000:7.1f} ms  ({total / bare:.2f}x)")


if __name__ == "__main__":
    main()
