"""Runs in its own process, so its CPU time and resident memory are the daemon's own.

    python -m benchmarks.scale_driver daemon INTERVAL SETTLE WINDOW   (bots from BOTS_FILE)
    python -m benchmarks.scale_driver bare aiohttp|httpx URL_FILE
    python -m benchmarks.scale_driver serve                           (until SIGTERM)

`daemon`: starts as `python -m bot run` does (the bots file parsed, migrations, the Fleet, the
daemon: for many bots bot.service.checks.RoundsDaemon) and runs it: `startup_s` until every bot
had its first check; then SETTLE seconds (the checks after the first pass settle on their slots);
then a WINDOW of seconds in which it counts the checks that fell due (each bot's slots in the
window) and those done, and the process's CPU time (`time.process_time`: the machine is shared,
so wall time would measure the others too). Prints one JSON line.
`bare`: the least an async poller does: one client, conditional GETs of every URL (the same
connection limits as the daemon's: bot.feed_checks), a first round for the validators and a
timed round of 304s; CPU time per request.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

from benchmarks.idle_driver import rss_kb


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.behind: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("daemon.behind"):
            self.behind.append(message)


def _slots(daemon: Any, start: float, end: float) -> int:
    """How many checks fall due in [start, end): each owned bot's slots in it."""
    from bot.service.schedule import offset

    total = 0
    for name in daemon.owned:
        interval = daemon.runners[name].base_interval
        off = offset(name, interval)
        total += int((end - off) // interval) - int((start - off) // interval)
    return total


def _done(daemon: Any) -> int:
    return int(daemon.completed)


def run_daemon(interval: float, settle: float, window: float) -> dict[str, Any]:
    started, cpu0 = time.perf_counter(), time.process_time()
    from bot.bots import load_bots
    from bot.log import configure
    from bot.service.daemon import build_daemon

    configure()
    logging.getLogger().setLevel(logging.WARNING)  # per-pass lines would be the bench's cost
    counter = _Counter()
    logging.getLogger().addHandler(counter)
    bots = load_bots(dotenv=False)
    parsed_s = time.perf_counter() - started
    store, daemon = build_daemon(bots)
    thread = threading.Thread(target=daemon.run, name="daemon")
    thread.start()
    try:
        total = len(bots)
        deadline = time.perf_counter() + 600
        while _done(daemon) < total:
            if time.perf_counter() > deadline or not thread.is_alive():
                raise RuntimeError(f"first pass: only {_done(daemon)} of {total} checks")
            time.sleep(0.05)
        startup_s = time.perf_counter() - started
        startup_cpu_s = time.process_time() - cpu0
        rss_startup = rss_kb()
        time.sleep(settle)
        w0, cpu1, done1 = time.time(), time.process_time(), _done(daemon)
        time.sleep(window)
        w1, cpu2, done2 = time.time(), time.process_time(), _done(daemon)
        due = _slots(daemon, w0, w1)
        status = status_check()  # while the daemon runs: its heartbeats are fresh
        now = store.now()
        beats = store.leases.heartbeats()
        fresh = sum(1 for b in beats
                    if b.last_pass_at and (now - b.last_pass_at).total_seconds() <= interval + 2)
        result = {
            "bots": total, "kind": type(daemon).__name__, "parsed_s": parsed_s,
            "startup_s": startup_s, "startup_cpu_s": startup_cpu_s,
            "window_s": w1 - w0, "due": due, "done": done2 - done1,
            "cpu_s": cpu2 - cpu1, "fresh": fresh, "rss_startup_kb": rss_startup,
            "rss_after_kb": rss_kb(), "behind": counter.behind[-1:], **status,
        }
    finally:
        daemon.stop()
        thread.join(120)
        store.close()
    return result


def status_check() -> dict[str, Any]:
    """`python -m bot status --check` over every bot, in a process of its own: its wall time,
    its CPU time, its exit status and line."""
    import os
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "status", "--check"], env=os.environ,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"status_s": wall, "status_cpu_s": cpu, "status_exit": done.returncode,
            "status_line": done.stdout.strip()[:200]}


def run_bare(client: str, url_file: str) -> dict[str, Any]:
    import asyncio

    from bot.feed_checks import IN_FLIGHT, PER_HOST

    with open(url_file, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    etags: dict[str, str] = {}

    async def with_aiohttp() -> tuple[float, list[int]]:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=IN_FLIGHT, limit_per_host=PER_HOST)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def get(url: str) -> int:
                headers = {"If-None-Match": etags[url]} if url in etags else {}
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    etags[url] = resp.headers.get("ETag", "")
                    return resp.status

            await asyncio.gather(*(get(u) for u in urls))
            cpu = time.process_time()
            statuses = await asyncio.gather(*(get(u) for u in urls))
            return time.process_time() - cpu, statuses

    async def with_httpx() -> tuple[float, list[int]]:
        import httpx

        limits = httpx.Limits(max_connections=PER_HOST, max_keepalive_connections=PER_HOST)
        async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as http:
            async def get(url: str) -> int:
                headers = {"If-None-Match": etags[url]} if url in etags else {}
                resp = await http.get(url, headers=headers)
                etags[url] = resp.headers.get("ETag", "")
                return resp.status_code

            await asyncio.gather(*(get(u) for u in urls))
            cpu = time.process_time()
            statuses = await asyncio.gather(*(get(u) for u in urls))
            return time.process_time() - cpu, statuses

    cpu_s, statuses = asyncio.run(with_aiohttp() if client == "aiohttp" else with_httpx())
    return {"cpu_s": cpu_s, "requests": len(statuses), "not_modified": statuses.count(304)}


def serve() -> int:
    """`serve`: the daemon as `run` runs it (default leases), until SIGTERM; for the two-daemon
    figure, which reads the leases from the database."""
    from bot.bots import load_bots
    from bot.log import configure
    from bot.service.daemon import build_daemon, install_signal_handlers

    configure()
    logging.getLogger().setLevel(logging.WARNING)
    store, daemon = build_daemon(load_bots(dotenv=False))
    install_signal_handlers(daemon.stop)
    try:
        return daemon.run()
    finally:
        store.close()


def main(argv: list[str]) -> int:
    if argv[0] == "serve":
        return serve()
    if argv[0] == "daemon":
        result = run_daemon(float(argv[1]), float(argv[2]), float(argv[3]))
    else:
        result = run_bare(argv[1], argv[2])
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
