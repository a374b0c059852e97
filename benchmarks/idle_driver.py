"""Runs in its own process so the resident memory measured is the daemon's own.

    python -m benchmarks.idle_driver bot|bare FEED_URL POLLS

`bot`: starts as `python -m bot run` does (bot.service.daemon, settings from the environment,
migrations applied, one Worker), runs the first pass (the feed answers 200; its issues are old,
so they are recorded as seen and nothing is posted), reads VmRSS ("after startup"), then runs
POLLS passes against the feed answering 304, timing this process's CPU per pass, and reads
VmRSS again. The passes are called directly instead of waiting POLL_INTERVAL between them.
`bare`: the least a poller does (httpx conditional GET, feedparser on the 200), same loop.
Prints one JSON line: {"rss_startup_kb", "rss_after_kb", "cpu_per_poll_s", "not_modified"}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def bot_polls(polls: int) -> dict[str, float]:
    import bot.service.daemon  # noqa: F401  (the daemon's imports count towards its memory)
    from bot.service.worker import Worker
    from bot.settings import load_settings
    from bot.store.api import Store

    settings = load_settings(dotenv=False)
    store = Store(settings.database_url)
    store.upgrade()
    worker = Worker(settings, store)
    try:
        first = worker.poll()
        if first.fetched != "fetched":
            raise RuntimeError(f"the first pass should fetch the feed, not {first.fetched}")
        startup = rss_kb()
        not_modified = 0
        cpu = time.process_time()
        for _ in range(polls):
            not_modified += worker.poll().fetched == "not_modified"
        cpu = time.process_time() - cpu
        return {"rss_startup_kb": startup, "rss_after_kb": rss_kb(),
                "cpu_per_poll_s": cpu / polls, "not_modified": not_modified}
    finally:
        worker.close()
        store.close()


def bare_polls(url: str, polls: int) -> dict[str, float]:
    import feedparser
    import httpx

    with httpx.Client(trust_env=False, timeout=30) as http:
        resp = http.get(url)
        feedparser.parse(resp.content)
        etag = resp.headers["ETag"]
        startup = rss_kb()
        not_modified = 0
        cpu = time.process_time()
        for _ in range(polls):
            resp = http.get(url, headers={"If-None-Match": etag})
            if resp.status_code == 304:
                not_modified += 1
            else:
                feedparser.parse(resp.content)
        cpu = time.process_time() - cpu
    return {"rss_startup_kb": startup, "rss_after_kb": rss_kb(),
            "cpu_per_poll_s": cpu / polls, "not_modified": not_modified}


def main(argv: list[str]) -> int:
    kind, url, polls = argv[0], argv[1], int(argv[2])
    result = bot_polls(polls) if kind == "bot" else bare_polls(url, polls)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
