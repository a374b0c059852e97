"""The daemon between issues: polls answered 304 Not Modified.

Each run starts benchmarks/idle_driver.py in a subprocess (so /proc/<pid>/status VmRSS is the
daemon's own) against a loopback feed server (the 20-item real feed, then 304s) and a counting
proxy (tests/faultproxy.py) in front of the local PDS, with a real account configured (not a dry
run). Figures: CPU time per 304 poll, PDS requests over the polls, resident memory after startup
and after 100 polls. Comparison: a bare poller in its own process (httpx conditional GET,
feedparser on a 200), the same loop. Targets: a few ms of CPU, 0 PDS requests, under 80 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Config, Figure, log
from benchmarks.compose import FEED
from benchmarks.feedserver import FeedServer

RSS_TARGET_MB = 80.0
CPU_TARGET_S = 0.005


def _run_driver(kind: str, url: str, polls: int, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.idle_driver", kind, url, str(polls)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"idle driver ({kind}) failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(config: Config, pds: Any) -> list[Figure]:
    from benchmarks.pds import _fixtures

    proxy_cls = _fixtures().FaultProxy
    polls = 100  # the figure is "after 100 polls", quick mode too (a 304 pass is cheap)
    cpu = Figure(name="304 poll: CPU time", unit="s", compared_with="bare httpx+feedparser",
                 target=f"< {CPU_TARGET_S * 1000:g} ms", check=lambda v, _r: v < CPU_TARGET_S)
    reqs = Figure(name="304 poll: PDS requests", unit="count", target="0",
                  check=lambda v, _r: v == 0, note=f"over {polls} polls (and the first pass)")
    rss0 = Figure(name="daemon RSS after startup", unit="MB", compared_with="bare poller",
                  target=f"< {RSS_TARGET_MB:g} MB", check=lambda v, _r: v < RSS_TARGET_MB)
    rss1 = Figure(name=f"daemon RSS after {polls} polls", unit="MB", compared_with="bare poller",
                  target=f"< {RSS_TARGET_MB:g} MB", check=lambda v, _r: v < RSS_TARGET_MB)
    account = pds.new_account("benchidle")
    with FeedServer(FEED.read_bytes()) as feed, proxy_cls(pds.url) as proxy:
        for _run in range(config.runs):
            with tempfile.TemporaryDirectory(prefix="bwr-bench-idle-") as tmp:
                env = {
                    **os.environ,
                    "FEED_URL": feed.url,
                    "BSKY_SERVICE": proxy.url,
                    "BSKY_HANDLE": account.handle,
                    "BSKY_APP_PASSWORD": account.app_password,
                    "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bot.db'}",
                    "POLL_INTERVAL": "300",
                    "PYTHONPATH": str(ROOT),
                }
                proxy.reset_counts()
                ours = _run_driver("bot", feed.url, polls, env)
                pds_requests = sum(proxy.counts().values())
                bare = _run_driver("bare", feed.url, polls, env)
            if ours["not_modified"] != polls:
                raise RuntimeError(f"{ours['not_modified']} of {polls} polls got a 304")
            cpu.add(ours["cpu_per_poll_s"], bare["cpu_per_poll_s"])
            reqs.add(pds_requests)
            rss0.add(ours["rss_startup_kb"] / 1024, bare["rss_startup_kb"] / 1024)
            rss1.add(ours["rss_after_kb"] / 1024, bare["rss_after_kb"] / 1024)
    log(f"idle: {cpu.value * 1000:.2f} ms CPU per 304 poll, {reqs.value:g} PDS requests, "
        f"RSS {rss0.value:.1f} -> {rss1.value:.1f} MB")
    return [cpu, reqs, rss0, rss1]
