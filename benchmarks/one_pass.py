"""A poll pass that posts, on the local reference PDS: how often it reads the account per thread,
and how many database transactions it takes.

A newsletter on loopback (the tests' NewsletterServer) publishes issues; one Worker pass, in
process, on a fresh SQLite store and a fresh account, posts them. The publisher's connection
counts its XRPC calls (getRecord and listRecords are the reads of the account that ask "is this
thread there?"); a SQLAlchemy `begin` listener on the store's engine counts the transactions.
Figures: PDS reads per thread over a pass posting THREADS issues (target <= 2: the one find —
the root key, then a scan for the link when the root is not there — and nothing more), and the
transactions of a pass that posts one thread (target <= 3, what issue 19 asks for; the figure
says how far the pass is from it).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Config, Figure, log

THREADS = 4
READS = ("com.atproto.repo.getRecord", "com.atproto.repo.listRecords")


def _pass(pds: Any, issues: int, steady: bool = False) -> tuple[int, int, int]:
    """One pass posting `issues` new issues: (PDS reads, transactions, threads posted).
    `steady`: measured on a second pass, after a first one posted as many."""
    from benchmarks.pds import _fixtures

    _fixtures()  # puts tests/ on sys.path, for the newsletter server
    from drivers.newsletter_feed import NewsletterServer
    from sqlalchemy import event

    from bot.service.worker import Worker
    from bot.settings import Settings
    from bot.store.api import Store

    acct = pds.new_account("benchpass")
    with tempfile.TemporaryDirectory(prefix="bwr-bench-pass-") as tmp, \
            NewsletterServer() as nl:
        for n in range(issues):
            nl.add(f"i{n}", published=datetime.now(UTC) - timedelta(hours=issues - n))
        url = f"sqlite:///{Path(tmp) / 'bot.db'}"
        settings = Settings(feed_url=nl.feed_url, bsky_service=pds.url,
                            bsky_handle=acct.handle, bsky_app_password=acct.app_password,
                            database_url=url, backfill_hours=48.0, post_delay=0,
                            cards="feed", cards_allow_private=True)
        store = Store(url)
        store.upgrade()
        worker = Worker(settings, store, cache_dir=Path(tmp) / "cache",
                        feed_options={"retries": 0})
        if steady:  # the daemon's usual pass: its Worker signed in, the feed known, one issue new
            worker.poll()
            for n in range(issues):
                nl.add(f"new{n}", published=datetime.now(UTC) - timedelta(minutes=issues - n))
        transactions = 0

        def count(_conn: Any) -> None:
            nonlocal transactions
            transactions += 1

        event.listen(store._engine, "begin", count)  # noqa: SLF001 (a benchmark's probe)
        try:
            with worker:
                before = sum(worker.publisher.connection.requests[m] for m in READS) \
                    if steady else 0
                result = worker.poll()
                reads = sum(worker.publisher.connection.requests[m] for m in READS) - before
        finally:
            event.remove(store._engine, "begin", count)  # noqa: SLF001
            store.close()
        posted = sum(1 for o in result.outcomes if o.outcome == "posted")
        return reads, transactions, posted


def measure(config: Config, pds: Any) -> list[Figure]:
    reads = Figure(name="pass: PDS reads per thread", unit="count", target="<= 2",
                   check=lambda v, _r: v <= 2,
                   note=f"getRecord + listRecords over a pass posting {THREADS} threads")
    txs = Figure(name="pass posting one thread: DB transactions", unit="count", target="<= 3",
                 check=lambda v, _r: v <= 3,
                 note="every transaction of a daemon's usual pass (session saved), reads too")
    for _run in range(config.runs):
        n_reads, _, posted = _pass(pds, THREADS)
        assert posted == THREADS, f"the pass posted {posted} of {THREADS} threads"
        reads.add(n_reads / posted)
        _, n_txs, posted = _pass(pds, 1, steady=True)
        assert posted == 1
        txs.add(n_txs)
    log(f"pass: {reads.value:g} PDS reads per thread, {txs.value:g} transactions for one thread")
    return [reads, txs]
