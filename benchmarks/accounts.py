"""10 bots on 10 accounts, each posting a new issue in one daemon pass.

Each bot its own newsletter on loopback (the tests' NewsletterServer: the seed BWR issue under
new links, its page and cover on the same server) and its own fresh account on the local PDS,
behind the counting proxy. The store (SQLite, no saved session yet) is primed by a daemon pass
in a process of its own (each feed's one old issue recorded as seen); then every newsletter
publishes a new issue and benchmarks/fleet_driver.py runs ONE daemon pass in a fresh process,
as `python -m bot run` would. The proxy counts the PDS calls; the threads are read back from
the PDS. Figures: applyWrites per thread (compared with the posts each thread has, which is what
a bot writing one record per post would send), createSession per account. Targets: 1 and 1.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Config, Figure, log
from benchmarks.fleet import run_driver, write_bots_file

BOTS = 10
APPLY = "com.atproto.repo.applyWrites"
SESSION = "com.atproto.server.createSession"


def threads_of(pds: Any, did: str) -> list[int]:
    """The number of posts of each thread on the account (threads by their root)."""
    records = pds.list_records(did)
    posts: dict[str, int] = {r["uri"]: 0 for r in records if "reply" not in r["value"]}
    for r in records:
        root = r["value"]["reply"]["root"]["uri"] if "reply" in r["value"] else r["uri"]
        posts[root] += 1
    return list(posts.values())


def measure(config: Config, pds: Any) -> list[Figure]:
    from benchmarks.pds import _fixtures

    fixtures = _fixtures()  # puts tests/ on sys.path, for the newsletter server
    from drivers.newsletter_feed import NewsletterServer

    name = f"{BOTS} bots on {BOTS} accounts"
    apply = Figure(name=f"{name}: applyWrites per thread", unit="count",
                   compared_with="posts per thread", target="1", check=lambda v, _r: v == 1)
    sessions = Figure(name=f"{name}: createSession per account", unit="count", target="1",
                      check=lambda v, _r: v <= 1,
                      note="no saved session before the pass: each account signs in once")
    for _run in range(config.runs):
        accounts = [pds.new_account("benchacct") for _ in range(BOTS)]
        with fixtures.FaultProxy(pds.url) as proxy, \
                tempfile.TemporaryDirectory(prefix="bwr-bench-accounts-") as tmp:
            newsletters = [NewsletterServer() for _ in range(BOTS)]
            try:
                for nl in newsletters:
                    nl.add("old", published=datetime.now(UTC) - timedelta(days=30))
                bots_file = Path(tmp) / "bots.toml"
                write_bots_file(bots_file, [
                    {"name": f"bot-{n:02d}", "feed_url": nl.feed_url, "service": proxy.url,
                     "handle": accounts[n].handle,
                     "app_password_env": f"BENCH_ACCOUNT_PASSWORD_{n}",
                     "post_delay": 0, "cards": "feed"}
                    for n, nl in enumerate(newsletters)
                ])
                env = {k: v for k, v in os.environ.items()
                       if not k.startswith(("BSKY_", "FEED_URL", "POST_DELAY", "CARDS"))}
                env.update({f"BENCH_ACCOUNT_PASSWORD_{n}": a.app_password
                            for n, a in enumerate(accounts)})
                env.update(BOTS_FILE=str(bots_file), PYTHONPATH=str(ROOT),
                           DATABASE_URL=f"sqlite:///{Path(tmp) / 'bot.db'}",
                           CARDS_ALLOW_PRIVATE="1")  # the issue pages are on 127.0.0.1
                run_driver("benchmarks.fleet_driver", ["prime"], env)
                for nl in newsletters:
                    nl.add("new", published=datetime.now(UTC) - timedelta(minutes=10))
                proxy.reset_counts()
                ours = run_driver("benchmarks.fleet_driver", ["pass"], env)
                counts = proxy.counts()
            finally:
                for nl in newsletters:
                    nl.close()
        threads = [threads_of(pds, a.did) for a in accounts]
        if ours["failed_bots"] or any(len(t) != 1 for t in threads):
            raise RuntimeError(f"each account should have one thread, not {threads} "
                               f"({ours['failed_bots']} bots failed)")
        posted = sum(len(t) for t in threads)
        posts = sum(sum(t) for t in threads)
        apply.add(counts.get(APPLY, 0) / posted, posts / posted)
        sessions.add(counts.get(SESSION, 0) / BOTS)
        log(f"accounts: {posted} threads ({posts} posts) in {ours['pass_s']:.2f} s; "
            f"PDS calls {counts}")
    return [apply, sessions]
