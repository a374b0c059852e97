"""One daemon pass over 100 bots whose feeds answer 304 Not Modified.

100 bots in a BOTS_FILE, over 10 accounts on the local PDS (10 bots each, behind the counting
proxy: credentials set, not a dry run), each bot its own feed: a path of one loopback feed
server (the 20-item real feed with an ETag, then 304s). The store (SQLite) is primed by a daemon
pass in a process of its own (every feed's validators saved, its issues recorded as seen); then
each run starts benchmarks/fleet_driver.py in a fresh process, which starts as `python -m bot
run` does and runs ONE pass over all bots through the daemon's scheduler and thread pool.
Figures: the pass's wall time, PDS requests, the process's resident memory after the pass.
Comparison: a bare poller in its own process (one httpx client, conditional GETs of the 100
feeds from as many threads as the daemon's pool). Targets: <= 2 s, 0, <= 100 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Config, Figure, log
from benchmarks.compose import FEED
from benchmarks.feedserver import FeedServer

BOTS = 100
ACCOUNTS = 10
WALL_TARGET_S = 2.0
RSS_TARGET_MB = 100.0


def _toml(value: object) -> str:
    # JSON's strings and numbers are TOML's too (for the plain values written here).
    return json.dumps(value)


def write_bots_file(path: Path, bots: Sequence[dict[str, object]]) -> None:
    """A BOTS_FILE of `bots`, one [[bots]] table each."""
    lines: list[str] = []
    for table in bots:
        lines.append("[[bots]]")
        lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def run_driver(module: str, args: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Runs `python -m module args` and returns the JSON line it printed last."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(config: Config, pds: Any) -> list[Figure]:
    from benchmarks.pds import _fixtures
    from bot.service.daemon import MAX_THREADS

    proxy_cls = _fixtures().FaultProxy
    threads = min(MAX_THREADS, BOTS + 1)  # the daemon's pool (Daemon.run)
    name = f"{BOTS} bots, 304 pass"
    wall = Figure(name=f"{name}: wall time", unit="s",
                  compared_with=f"bare poller, {threads} threads",
                  target=f"<= {WALL_TARGET_S:g} s", check=lambda v, _r: v <= WALL_TARGET_S)
    reqs = Figure(name=f"{name}: PDS requests", unit="count", target="0",
                  check=lambda v, _r: v == 0,
                  note=f"{ACCOUNTS} accounts, {BOTS // ACCOUNTS} bots each")
    rss = Figure(name=f"{name}: daemon RSS", unit="MB", compared_with="bare poller",
                 target=f"<= {RSS_TARGET_MB:g} MB", check=lambda v, _r: v <= RSS_TARGET_MB)
    accounts = [pds.new_account("benchfleet") for _ in range(ACCOUNTS)]
    with FeedServer(FEED.read_bytes()) as feed, proxy_cls(pds.url) as proxy, \
            tempfile.TemporaryDirectory(prefix="bwr-bench-fleet-") as tmp:
        urls = [feed.url_for(f"feed/{n}") for n in range(BOTS)]
        bots_file = Path(tmp) / "bots.toml"
        write_bots_file(bots_file, [
            {"name": f"bot-{n:03d}", "feed_url": url, "service": proxy.url,
             "handle": accounts[n % ACCOUNTS].handle,
             "app_password_env": f"BENCH_FLEET_PASSWORD_{n % ACCOUNTS}"}
            for n, url in enumerate(urls)
        ])
        url_file = Path(tmp) / "urls.txt"
        url_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "FEED_URL"))}
        env.update({f"BENCH_FLEET_PASSWORD_{i}": a.app_password for i, a in enumerate(accounts)})
        env.update(BOTS_FILE=str(bots_file), DATABASE_URL=f"sqlite:///{Path(tmp) / 'bot.db'}",
                   PYTHONPATH=str(ROOT))
        primed = run_driver("benchmarks.fleet_driver", ["prime"], env)
        log(f"fleet: store primed ({BOTS} feeds fetched) in {primed['pass_s']:.1f} s")
        for _run in range(config.runs):
            proxy.reset_counts()
            feed.answers.clear()
            ours = run_driver("benchmarks.fleet_driver", ["pass"], env)
            pds_requests = sum(proxy.counts().values())
            answers = dict(feed.answers)
            if answers != {304: BOTS} or ours["failed_bots"]:
                raise RuntimeError(f"the pass should get {BOTS} 304s and no failure, not "
                                   f"{answers} and {ours['failed_bots']} failed bots")
            bare = run_driver("benchmarks.fleet_driver", ["bare", str(url_file), str(threads)],
                              env)
            if bare["not_modified"] != BOTS:
                raise RuntimeError(f"the bare poller got {bare['not_modified']} 304s")
            wall.add(ours["pass_s"], bare["pass_s"])
            reqs.add(pds_requests)
            rss.add(ours["rss_after_kb"] / 1024, bare["rss_after_kb"] / 1024)
            log(f"fleet: startup {ours['startup_s']:.2f} s, leases {ours['leases_s']:.2f} s, "
                f"pass {ours['pass_s']:.2f} s (CPU {ours['cpu_s']:.2f} s); "
                f"RSS {ours['rss_startup_kb'] / 1024:.1f} -> {ours['rss_after_kb'] / 1024:.1f} MB")
    wall.note = (f"from the first bot's pass starting to the last one ending, {threads} threads "
                 "(the daemon's pool)")
    return [wall, reqs, rss]
