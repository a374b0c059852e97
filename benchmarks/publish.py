"""A 15-post thread published on the local reference PDS: the bot's way vs createRecord per post.

The measuring is benchmarks/publish_thread.py's (owned by the publisher's work; reused here,
not copied): `ours` posts threads with `bot.bluesky.publisher` from one saved session (a new
Publisher per thread, as a new process would: it signs in once, then reuses the stored
session), each thread one getRecord (is the root there?) and ONE applyWrites; `one_by_one`
signs in on every run and writes one `com.atproto.repo.createRecord` per post, the way most
bots post. Each side posts THREADS threads of 15 posts to its own fresh account per run; the
figures are per thread (the bot's single first sign-in is spread over those threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks import publish_thread
from benchmarks.common import Config, Figure, log

POSTS = publish_thread.POSTS


def create_sessions(counts: Mapping[str, int]) -> int:
    """createSession calls among requests counted by XRPC method (full NSID or last part)."""
    return sum(n for method, n in counts.items() if method.endswith("createSession"))


def measure(config: Config, pds: Any) -> list[Figure]:
    threads = config.loops(4, 2)
    other = "createRecord per post"
    time_fig = Figure(
        name=f"publish {POSTS}-post thread: time", unit="s", compared_with=other,
        target="faster than per-post", check=lambda _v, r: r is not None and r < 1.0,
    )
    req_fig = Figure(
        name=f"publish {POSTS}-post thread: HTTP requests", unit="count",
        compared_with=other, target="<= 2 + first sign-in",
        check=lambda v, _r: v <= 2 + 1 / threads,
    )
    sess_fig = Figure(
        name=f"publish {POSTS}-post thread: createSession", unit="count",
        compared_with=other, target=f"first of {threads} threads only",
        check=lambda v, _r: round(v * threads) <= 1,
        note=f"per thread, over {threads} threads per run",
    )
    for run in range(config.runs):
        ours_acct = publish_thread.new_account(pds.url, "benchours")
        theirs_acct = publish_thread.new_account(pds.url, "benchbase")
        sides = [("ours", publish_thread.ours, ours_acct),
                 ("theirs", publish_thread.one_by_one, theirs_acct)]
        if run % 2:  # alternate which side goes first
            sides.reverse()
        got = {name: fn(pds.url, *acct, threads) for name, fn, acct in sides}
        (ours_counts, ours_s), (theirs_counts, theirs_s) = got["ours"], got["theirs"]
        time_fig.add(ours_s / threads, theirs_s / threads)
        req_fig.add(sum(ours_counts.values()) / threads, sum(theirs_counts.values()) / threads)
        sess_fig.add(create_sessions(ours_counts) / threads,
                     create_sessions(theirs_counts) / threads)
        if run == 0:
            log(f"publish ({threads} threads): bot {dict(ours_counts)}; "
                f"per-post {dict(theirs_counts)}")
    log(f"publish: {time_fig.value * 1000:.0f} ms vs {time_fig.comparison * 1000:.0f} ms a thread")
    return [time_fig, req_fig, sess_fig]
