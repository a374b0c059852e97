"""Ten thousand newsletters: one daemon of `--bots` bots (10,000; `--quick` 1,000), every feed
unchanged (304), `poll_interval` 30 s (`--quick`: 10 s), 1,000 bots per account, each bot its own
feed path on one loopback feed server; the SQLite store primed as after a first pass (every
feed's validators saved). benchmarks/scale_driver.py runs the daemon as `run` starts it, in a
process of its own, and measures it (see there); beside it, bare async conditional-GET loops
(aiohttp, then httpx) over the same feeds, so the ratio shows the bot's own cost.

Figures: daemon CPU per unchanged-feed check, the share of due checks done, feeds checked in
the last interval, start-up (bots file parsed to every feed checked once), RSS, requests to the
PDS (a counting server on loopback: there should be none), and `status --check` over all bots.
With DATABASE_URL_POSTGRES set (scripts/postgres.sh), two daemons on one Postgres: the split.
CPU is process time (`time.process_time`), not wall time: the machine is shared.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Config, Figure, log
from benchmarks.feedserver import FeedServer
from benchmarks.fleet import run_driver, write_bots_file

PER_ACCOUNT = 1000
HTTPX_URLS = 1000
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Scale</title><link>http://example.org/</link>
<description>A feed of the benchmark</description>
<item><title>Old issue</title><link>http://example.org/p/old</link>
<guid>http://example.org/p/old</guid><pubDate>Mon, 06 Jan 2020 10:00:00 GMT</pubDate>
<description>An old issue.</description></item></channel></rss>"""


class CountingPds:
    """A loopback server standing for the PDS: counts every request (there should be none)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        pds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                pds.requests[self.path.split("?")[0]] += 1
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def prime(db_url: str, bots: list[dict[str, Any]], feed: FeedServer) -> None:
    """Every bot's feed row with its validators, as a first pass leaves it (one bulk insert)."""
    from sqlalchemy import insert

    from bot.store.api import Store
    from bot.store.models import FeedRow

    store = Store(db_url, bot=None)
    store.upgrade()
    now = datetime.now(UTC)
    rows = [{"bot": b["name"], "url": b["feed_url"], "etag": feed.ETAG,
             "last_modified": feed.last_modified, "created_at": now} for b in bots]
    with store._engine.begin() as conn:  # a benchmark's shortcut past the first pass
        conn.execute(insert(FeedRow), rows)
    store.close()


def measure(config: Config, bots_count: int) -> list[Figure]:
    interval = 10 if config.quick else 30
    settle, window = (interval, interval) if config.quick else (interval, 2 * interval)
    n = bots_count
    name = "scale"  # the same names whatever --bots: the bots and interval are in the notes
    cpu = Figure(name=f"{name}: daemon CPU per 304 check", unit="ms",
                 compared_with="bare aiohttp loop", target="<= 1 ms (stretch 0.3)",
                 check=lambda v, _r: v <= 1.0)
    done_share = Figure(name=f"{name}: due checks done", unit="%", target=">= 90 %",
                        check=lambda v, _r: v >= 90.0)
    fresh = Figure(name=f"{name}: feeds checked in the last interval", unit="%",
                   target="100 %", check=lambda v, _r: v >= 100.0)
    startup = Figure(name=f"{name}: start-up", unit="s", target="<= 60 s",
                     check=lambda v, _r: v <= 60.0)
    rss = Figure(name=f"{name}: daemon RSS", unit="MB", target="<= 300 MB",
                 check=lambda v, _r: v <= 300.0)
    pds_reqs = Figure(name=f"{name}: PDS requests while none is due", unit="count", target="0",
                      check=lambda v, _r: v == 0)
    status = Figure(name=f"{name}: status --check", unit="s", target="<= 2 s",
                    check=lambda v, _r: v <= 2.0)
    httpx_cpu = Figure(name=f"{name}: bare httpx loop CPU per GET", unit="ms",
                       compared_with="bare aiohttp loop", target="> aiohttp",
                       check=lambda _v, r: r is not None and r > 1.0,
                       note="why the hot path is on aiohttp")
    pds = CountingPds()
    with FeedServer(FEED) as feed, tempfile.TemporaryDirectory(prefix="bwr-bench-scale-") as tmp:
        bots = [{"name": f"bot-{i:05d}", "feed_url": feed.url_for(f"feed/{i}"),
                 "service": pds.url, "handle": f"scale{i // PER_ACCOUNT}.test",
                 "app_password_env": f"BENCH_SCALE_PASSWORD_{i // PER_ACCOUNT}",
                 "poll_interval": interval} for i in range(n)]
        bots_file = Path(tmp) / "bots.toml"
        write_bots_file(bots_file, bots)
        url_file = Path(tmp) / "urls.txt"
        url_file.write_text("\n".join(b["feed_url"] for b in bots) + "\n", encoding="utf-8")
        # httpx's pool slows down with thousands of requests waiting for 8 connections: its
        # figure is per GET over the first HTTPX_URLS feeds, enough to show the difference.
        httpx_file = Path(tmp) / "urls-httpx.txt"
        httpx_file.write_text("\n".join(b["feed_url"] for b in bots[:HTTPX_URLS]) + "\n",
                              encoding="utf-8")
        db_url = f"sqlite:///{Path(tmp) / 'bot.db'}"
        prime(db_url, bots, feed)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "FEED_URL"))}
        env.update({f"BENCH_SCALE_PASSWORD_{a}": "abcd-efgh-ijkl-mnop"
                    for a in range((n + PER_ACCOUNT - 1) // PER_ACCOUNT)})
        env.update(BOTS_FILE=str(bots_file), DATABASE_URL=db_url, PYTHONPATH=str(ROOT))
        log(f"scale: {n} bots primed; the daemon runs ~{interval + settle + window:g} s")
        ours = run_driver("benchmarks.scale_driver",
                          ["daemon", str(interval), str(settle), str(window)], env)
        bare = run_driver("benchmarks.scale_driver", ["bare", "aiohttp", str(url_file)], env)
        bare_httpx = run_driver("benchmarks.scale_driver", ["bare", "httpx", str(httpx_file)], env)
        pds.close()
    per_check = ours["cpu_s"] / max(ours["done"], 1) * 1000
    bare_ms = bare["cpu_s"] / bare["requests"] * 1000
    cpu.add(per_check, bare_ms)
    done_share.add(100.0 * ours["done"] / max(ours["due"], 1))
    fresh.add(100.0 * ours["fresh"] / n)
    startup.add(ours["startup_s"])
    rss.add(ours["rss_after_kb"] / 1024)
    pds_reqs.add(sum(pds.requests.values()))
    status.add(ours["status_s"])
    httpx_cpu.add(bare_httpx["cpu_s"] / bare_httpx["requests"] * 1000, bare_ms)
    httpx_cpu.note = f"why the hot path is on aiohttp; {bare_httpx['requests']} GETs"
    fresh.note = f"{ours['fresh']} of {n} bots' heartbeats within an interval at the end"
    cpu.note = (f"{n} bots @ {interval} s: process CPU over {ours['window_s']:.0f} s of steady "
                f"checks, {ours['done']} checks ({ours['kind']})")
    done_share.note = f"{ours['done']} done of {ours['due']} due in the window"
    startup.note = (f"bots file parsed in {ours['parsed_s']:.1f} s; CPU "
                    f"{ours['startup_cpu_s']:.1f} s; RSS at start-up "
                    f"{ours['rss_startup_kb'] / 1024:.0f} MB")
    status.note = (f"wall time while the daemon runs; CPU {ours['status_cpu_s']:.2f} s, exit "
                   f"{ours['status_exit']}: {ours['status_line'][:60]}")
    log(f"scale: {ours}")
    figures = [cpu, done_share, fresh, startup, rss, pds_reqs, status, httpx_cpu]
    postgres = os.environ.get("DATABASE_URL_POSTGRES", "").strip()
    if postgres and not config.quick:
        figures += two_daemons(postgres, n, interval)
    else:
        log("scale: no two-daemon figures (they need DATABASE_URL_POSTGRES, and not --quick)")
    return figures


def _serving(db_url: str) -> dict[str, int]:
    from bot.store.api import Store

    store = Store(db_url, bot=None)
    try:
        return store.leases.serving()
    finally:
        store.close()


def _wait(what: str, ok: Any, timeout: float) -> float:
    started = time.monotonic()
    while not ok():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(0.5)
    return time.monotonic() - started


def two_daemons(admin_url: str, n: int, interval: int) -> list[Figure]:
    """Two daemons (`run`'s own leases: 90 s, renewed every 22.5 s) on one Postgres schema of
    their own, the same `n` bots: each one's share once both run, and how long after one is
    killed (SIGKILL, on this host) the other serves them all."""
    import signal
    import subprocess
    import uuid
    from urllib.parse import quote

    import psycopg

    share = Figure(name="scale: two daemons on Postgres: larger share", unit="%",
                   target="about half (<= 55 %)", check=lambda v, _r: v <= 55.0)
    takeover = Figure(name="scale: two daemons on Postgres: takeover after a kill", unit="s",
                      target="<= 120 s", check=lambda v, _r: v <= 120.0)
    libpq = "postgresql://" + admin_url.split("://", 1)[1]
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in admin_url else "?"
    db_url = f"{admin_url}{sep}options={quote('-csearch_path=' + schema)}"
    procs: list[subprocess.Popen[bytes]] = []
    pds = CountingPds()
    try:
        with FeedServer(FEED) as feed, \
                tempfile.TemporaryDirectory(prefix="bwr-bench-two-") as tmp:
            bots = [{"name": f"bot-{i:05d}", "feed_url": feed.url_for(f"feed/{i}"),
                     "service": pds.url, "handle": f"scale{i // PER_ACCOUNT}.test",
                     "app_password_env": f"BENCH_SCALE_PASSWORD_{i // PER_ACCOUNT}",
                     "poll_interval": interval} for i in range(n)]
            bots_file = Path(tmp) / "bots.toml"
            write_bots_file(bots_file, bots)
            prime(db_url, bots, feed)
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("BSKY_", "FEED_URL"))}
            env.update({f"BENCH_SCALE_PASSWORD_{a}": "abcd-efgh-ijkl-mnop"
                        for a in range((n + PER_ACCOUNT - 1) // PER_ACCOUNT)})
            env.update(BOTS_FILE=str(bots_file), DATABASE_URL=db_url, PYTHONPATH=str(ROOT))

            def start() -> subprocess.Popen[bytes]:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.scale_driver", "serve"], cwd=ROOT,
                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
                procs.append(proc)
                return proc

            first = start()
            _wait("the first daemon serves every bot",
                  lambda: list(_serving(db_url).values()) == [n], 300)
            start()
            split = _wait("both daemons serve bots",
                          lambda: sorted(_serving(db_url).values()) == [n // 2, n - n // 2], 300)
            serving = _serving(db_url)
            share.add(100.0 * max(serving.values()) / n)
            share.note = (f"{n} bots; split {sorted(serving.values())} {split:.0f} s after the "
                          "second started")
            first.send_signal(signal.SIGKILL)
            first.wait()
            took = _wait("the survivor serves every bot",
                         lambda: list(_serving(db_url).values()) == [n], 300)
            takeover.add(took)
            takeover.note = ("killed on this host: taken at the survivor's next lease tick; "
                             "from another host add the 90 s lease")
            log(f"scale: two daemons: {serving}, takeover {took:.1f} s, "
                f"PDS requests {sum(pds.requests.values())}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        pds.close()
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return [share, takeover]
