"""`status` with a year of issues: 5,000 issues for each of 3 bots, every one posted with a
15-post thread (225,000 posts), in a SQLite store. The figure is the wall time of the command a
person types, `python -m bot status` (a fresh process: imports, the 20 newest issues and their
threads), compared with the same process's `python -m bot --help` (the start-up alone).
Target: under 1 s. With --quick: 500 issues per bot (the same command, a smaller store).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import ROOT, Config, Figure, log
from benchmarks.fleet import write_bots_file

BOTS = 3
ISSUES = 5000
POSTS = 15
TARGET_S = 1.0


def fill(url: str, bots: list[str], issues: int) -> None:
    """The store as a year of posting leaves it (rows written directly: only reading is
    measured)."""
    from sqlalchemy import create_engine, text

    from bot.store.api import Store

    store = Store(url, bot=None)
    store.upgrade()
    store.close()
    engine = create_engine(url)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for b, bot in enumerate(bots):
            conn.execute(text("INSERT INTO feeds (id, bot, url, created_at) VALUES "
                              "(:id, :bot, :url, :t)"),
                         {"id": b + 1, "bot": bot, "url": f"http://127.0.0.1:9/{bot}/feed",
                          "t": start})
            rows, posts = [], []
            for n in range(issues):
                issue_id = b * issues + n + 1
                when = start + timedelta(hours=n * 2)
                link = f"http://127.0.0.1:9/{bot}/p/issue-{n}"
                rows.append({"id": issue_id, "feed": b + 1, "guid": link, "link": link,
                             "title": f"Issue {n} of {bot}", "published": when, "hash": "h",
                             "state": "posted", "t": when})
                posts += [{"issue": issue_id, "place": p, "rkey": f"3l{issue_id:09d}{p:03d}",
                           "uri": f"at://did:plc:bench{b}/app.bsky.feed.post/3l{issue_id:09d}"
                                  f"{p:03d}", "cid": "bafyrei" + "a" * 52, "t": when}
                          for p in range(POSTS)]
            conn.execute(text(
                "INSERT INTO issues (id, feed_id, guid, link, title, published, content_hash, "
                "state, generation, approved, left_feed, created_at, updated_at, posted_at) "
                "VALUES (:id, :feed, :guid, :link, :title, :published, :hash, :state, 0, "
                "false, false, :t, :t, :t)"), rows)
            conn.execute(text(
                "INSERT INTO posts (issue_id, generation, place, rkey, uri, cid, created_at) "
                "VALUES (:issue, 0, :place, :rkey, :uri, :cid, :t)"), posts)
    engine.dispose()


def _wall(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"bot {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return took


def measure(config: Config) -> list[Figure]:
    issues = config.loops(ISSUES, 500)
    figure = Figure(name=f"status, 5,000 issues x {BOTS} bots", unit="s",
                    compared_with="`python -m bot --help`", target=f"< {TARGET_S:g} s",
                    check=lambda v, _r: v < TARGET_S,
                    note=f"{issues} issues per bot, {POSTS} posts each (SQLite)")
    with tempfile.TemporaryDirectory(prefix="bwr-bench-status-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bot.db'}"
        bots = [f"bot-{b}" for b in range(BOTS)]
        started = time.perf_counter()
        fill(url, bots, issues)
        log(f"status: {BOTS * issues} issues stored in {time.perf_counter() - started:.1f} s")
        bots_file = Path(tmp) / "bots.toml"
        write_bots_file(bots_file, [{"name": b, "feed_url": f"http://127.0.0.1:9/{b}/feed",
                                     "service": "http://127.0.0.1:9", "handle": f"{b}.test",
                                     "app_password_env": "BENCH_STATUS_PASSWORD"}
                                    for b in bots])
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BSKY_", "FEED_URL", "BOTS_FILE", "DATABASE_URL"))}
        env.update(BOTS_FILE=str(bots_file), DATABASE_URL=url,
                   BENCH_STATUS_PASSWORD="abcd-efgh-ijkl-mnop")  # status never signs in
        for _run in range(config.runs):
            figure.add(_wall(["status"], env), _wall(["--help"], env))
    return [figure]
