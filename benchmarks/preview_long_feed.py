"""How long `preview --all` takes over a 730-entry podcast feed whose every entry links to a
page of its own (the size of feed that ran past 60 s before card fetches were capped).

Prints figures (no pass/fail): wall time of `preview --all --json` with cards (`CARDS=rich`,
each page on a loopback server answering after 50 ms, a fresh card cache), how many pages were
fetched, and `preview --all --offline` for comparison. Everything is on 127.0.0.1.

    .venv/bin/python benchmarks/preview_long_feed.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from card_site import Route, Site, page  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from bot.cli.app import cli  # noqa: E402

ENTRIES = 730


def feed(site: Site) -> str:
    items = []
    for n in range(ENTRIES):
        path = f"/episode/{n}"
        site.routes[path] = Route(page(f"<title>Episode {n}</title>"), delay=0.05)
        items.append(
            f"<item><title>Episode {n}: a conversation</title><link>{site.url(path)}</link>"
            f"<description>In episode {n} we talk about rivers, roads and ferries.</description>"
            f"<enclosure url='https://cdn.example/{n}.mp3' type='audio/mpeg' length='1'/>"
            f"<pubDate>Mon, 01 Apr 2024 00:00:00 GMT</pubDate></item>"
        )
    return ('<rss version="2.0"><channel><title>Long podcast</title><language>en</language>'
            + "".join(items) + "</channel></rss>")  # fmt: skip


def run(tmp: Path, feed_path: Path, *args: str) -> float:
    env = {"CARDS_ALLOW_PRIVATE": "1", "DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}",
           "BSKY_HANDLE": None, "BSKY_APP_PASSWORD": None, "CARDS": None, "BOTS_FILE": None,
           "BOT_CONFIG": str(ROOT / "config" / "bwr.toml")}  # fmt: skip
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["preview", "--all", "--json", "--feed", str(feed_path),
                                      *args], env=env)  # fmt: skip
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return elapsed


def main() -> None:
    site = Site()
    try:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            feed_path = tmp / "long.rss"
            feed_path.write_text(feed(site), encoding="utf-8")
            offline = run(tmp, feed_path, "--offline")
            rich = run(tmp, feed_path)
    finally:
        site.close()
    print(f"preview --all, {ENTRIES} entries, cards from pages:  {rich:.2f} s, "
          f"{site.total} pages fetched")
    print(f"preview --all, {ENTRIES} entries, --offline:          {offline:.2f} s")


if __name__ == "__main__":
    main()
