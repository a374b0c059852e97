"""Runs in its own process so the resident memory measured is the daemon's own.

    python -m benchmarks.fleet_driver prime|pass        (bots from BOTS_FILE, as `run` reads them)
    python -m benchmarks.fleet_driver bare URL_FILE THREADS

`prime`: one daemon pass over every bot (each feed answers 200; its issues are old, so they are
recorded as seen), leaving every feed's validators and issues in the store.
`pass`: starts as `python -m bot run` does (`bot.service.daemon.run_daemon`'s steps: migrations,
the Fleet, the refused-credentials check, the Daemon), reads VmRSS, then runs ONE pass over all
bots through the daemon's own scheduler and thread pool, timed from the first bot's pass starting
to the last one ending, and reads VmRSS again.
`bare`: the least a poller of those feeds does: one httpx client, conditional GETs of every URL
in URL_FILE from THREADS threads (the first round fetches the validators, the timed one is 304s).
Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from benchmarks.idle_driver import rss_kb

PASS_TIMEOUT = 300.0


def rounds_pass(daemon: Any) -> dict[str, float]:
    """One pass of a daemon of many bots (bot.service.checks.RoundsDaemon: its bots' checks in
    rounds, not one job each): `pass_s` from `run()` to every bot checked once, leases
    included (`leases_s` 0)."""
    total = len(daemon.runners)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run()
        except BaseException as exc:  # the main thread reports it
            failures.append(exc)

    started, cpu = time.perf_counter(), time.process_time()
    thread = threading.Thread(target=run, name="daemon")
    thread.start()
    deadline = started + PASS_TIMEOUT
    while daemon.completed < total and thread.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.01)
    ended, cpu = time.perf_counter(), time.process_time() - cpu
    done = daemon.completed
    daemon.stop()
    thread.join(PASS_TIMEOUT)
    if failures:
        raise RuntimeError(f"the daemon failed: {failures[0]!r}") from failures[0]
    if done < total:
        raise RuntimeError(f"only {done} of {total} bots had a pass in {PASS_TIMEOUT:g} s")
    return {"leases_s": 0.0, "pass_s": ended - started, "cpu_s": cpu, "bots": total,
            "failed_bots": sum(1 for r in daemon.runners.values() if r.failures)}


def one_pass(daemon: Any) -> dict[str, float]:
    """Runs `daemon` (a bot.service.daemon.Daemon) until every bot it owns has had one pass,
    then stops it. Times: `leases_s` from `run()` to the first pass starting (taking the bots'
    leases, starting the scheduler), `pass_s` from the first pass starting to the last ending."""
    if hasattr(daemon, "checked"):
        return rounds_pass(daemon)
    lock = threading.Lock()
    all_done = threading.Event()
    first_started: list[float] = []
    done: list[str] = []
    total = len(daemon.runners)

    def counted(runner: Any) -> Any:
        run_pass = runner.run_pass

        def wrapped() -> None:
            with lock:
                if not first_started:
                    first_started.append(time.perf_counter())
            try:
                run_pass()
            finally:
                with lock:
                    done.append(runner.name)
                    if len(done) == total:
                        all_done.set()

        return wrapped

    for runner in daemon.runners.values():
        runner.run_pass = counted(runner)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run()
        except BaseException as exc:  # the main thread reports it
            failures.append(exc)
            all_done.set()

    started, cpu = time.perf_counter(), time.process_time()
    thread = threading.Thread(target=run, name="daemon")
    thread.start()
    finished = all_done.wait(PASS_TIMEOUT)
    ended, cpu = time.perf_counter(), time.process_time() - cpu
    daemon.stop()
    thread.join(PASS_TIMEOUT)
    if failures:
        raise RuntimeError(f"the daemon failed: {failures[0]!r}") from failures[0]
    if not finished:
        raise RuntimeError(f"only {len(done)} of {total} bots had a pass in {PASS_TIMEOUT:g} s")
    return {
        "leases_s": first_started[0] - started,
        "pass_s": ended - first_started[0],
        "cpu_s": cpu,  # the whole process's, leases included: wall much above it is waiting
        "bots": total,
        "failed_bots": sum(1 for r in daemon.runners.values() if r.failures),
    }


def start_daemon() -> tuple[Any, Any]:
    """The store and Daemon as `run_daemon` makes them (without its signal handlers)."""
    from bot.bots import load_bots
    from bot.service.daemon import build_daemon

    return build_daemon(load_bots(dotenv=False))


def fleet_pass(prime: bool) -> dict[str, float]:
    import logging

    import bot.service.daemon  # noqa: F401  (the daemon's imports count towards its memory)
    from bot.log import configure

    configure()  # the daemon's log lines (one per bot per pass) are part of its pass, as in `run`
    logging.getLogger("alembic").setLevel(logging.WARNING)
    started = time.perf_counter()
    store, daemon = start_daemon()
    startup_s = time.perf_counter() - started
    try:
        startup = rss_kb()
        result = one_pass(daemon)
        result.update(startup_s=startup_s, rss_startup_kb=startup, rss_after_kb=rss_kb())
        if prime:  # every bot's feed must now have its validators, for the 304 pass
            missing = [b.name for b in daemon.fleet.bots
                       if not store.for_bot(b.name).feeds.get(b.feed_url).etag]
            if missing:
                raise RuntimeError(f"{len(missing)} bots have no validators, e.g. {missing[0]}")
        return result
    finally:
        store.close()


def bare_pass(url_file: str, threads: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    import feedparser
    import httpx

    with open(url_file, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    etags: dict[str, str] = {}
    with httpx.Client(trust_env=False, timeout=30,
                      limits=httpx.Limits(max_connections=threads)) as http:

        def get(url: str) -> int:
            headers = {"If-None-Match": etags[url]} if url in etags else {}
            resp = http.get(url, headers=headers)
            if resp.status_code == 200:
                feedparser.parse(resp.content)
                etags[url] = resp.headers["ETag"]
            return resp.status_code

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(get, urls))
            startup = rss_kb()
            started = time.perf_counter()
            statuses = list(pool.map(get, urls))
            pass_s = time.perf_counter() - started
    return {"pass_s": pass_s, "rss_startup_kb": startup, "rss_after_kb": rss_kb(),
            "not_modified": statuses.count(304)}


def main(argv: list[str]) -> int:
    kind = argv[0]
    if kind == "bare":
        result = bare_pass(argv[1], int(argv[2]))
    else:
        result = fleet_pass(prime=kind == "prime")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
