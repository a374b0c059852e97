"""Two daemons of many bots on one Postgres (each a process as `run` starts it, with short
leases): they split the bots evenly, no bot is checked by both within one interval, and when
one is killed the other takes over all its bots. (The same with 10,000 bots is measured by
`python -m benchmarks --only scale`.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from drivers.many_feeds import ManyFeeds
from test_rounds import PASSWORD, load, prime, write_bots

from bot.settings import PROJECT_ROOT
from bot.store.api import Store

BOTS = 300
INTERVAL = 10  # seconds: the shortest POLL_INTERVAL
LEASE = 6.0  # seconds (90 in `run`): a lease tick every 5 s
DRIVER = Path(__file__).parent / "drivers" / "rounds_daemon.py"

pytestmark = pytest.mark.postgres


def wait_for(what: str, ok: Callable[[], bool], timeout: float) -> float:
    """Seconds until `ok()`; fails naming `what` after `timeout`."""
    started = time.monotonic()
    while not ok():
        assert time.monotonic() - started < timeout, f"not within {timeout:g} s: {what}"
        time.sleep(0.2)
    return time.monotonic() - started


def pid_of(daemon: str) -> int:
    return int(daemon.split(":")[1])


@pytest.fixture
def feeds() -> Iterator[ManyFeeds]:
    with ManyFeeds() as f:
        yield f


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_daemons_split_the_bots_and_one_takes_over_when_the_other_is_killed(
    db_url: str, feeds: ManyFeeds, tmp_path: Path
) -> None:
    bots_file = write_bots(tmp_path / "bots.toml", feeds, BOTS, interval=INTERVAL)
    bots = load(bots_file, db_url)
    store = Store(db_url, bot=None)
    store.upgrade()
    prime(store, bots, feeds)
    records = store.leases
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "FEED_URL"))}
    env.update(BOTS_FILE=str(bots_file), DATABASE_URL=db_url, MANY_PASSWORD=PASSWORD)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs: list[subprocess.Popen[bytes]] = []
    files: list[BinaryIO] = []

    def start(log: Path) -> subprocess.Popen[bytes]:
        files.append(log.open("wb"))
        proc = subprocess.Popen([sys.executable, str(DRIVER), str(LEASE)], cwd=PROJECT_ROOT,
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=files[-1])
        procs.append(proc)
        return proc

    try:
        a = start(logs[0])
        wait_for("daemon A serves every bot", lambda: list(records.serving().values()) == [BOTS],
                 60)
        wait_for("every feed checked once", lambda: feeds.statuses[304] >= BOTS, 60)
        first_pass_done = time.monotonic()  # A's start-up checks all its bots at once
        b = start(logs[1])
        wait_for("A and B serve half the bots each",
                 lambda: sorted(records.serving().values()) == [BOTS // 2, BOTS // 2], 60)
        serving = records.serving()
        assert sorted(pid_of(d) for d in serving) == sorted([a.pid, b.pid])

        # Two intervals with both running: every feed is asked for, and never twice within
        # one interval (a bot handed from A to B is checked on the slot A used).
        window_from = time.monotonic()
        time.sleep(2 * INTERVAL + 2)
        window_to = time.monotonic()
        asked = {path: [t for t in times if window_from <= t <= window_to]
                 for path, times in feeds.asked.items()}
        assert sum(1 for times in asked.values() if times) == BOTS
        gaps = [later - earlier for times in feeds.asked.values()
                for earlier, later in zip(times, times[1:], strict=False)
                if earlier > first_pass_done]
        assert min(gaps) >= INTERVAL - 2, f"a feed asked for twice in {min(gaps):.1f} s"

        a.send_signal(signal.SIGKILL)
        a.wait()  # reaped: its process is gone from this host, as after a crash
        took = wait_for("B serves every bot after A was killed",
                        lambda: list(records.serving().items()) == [(next(
                            d for d in serving if pid_of(d) == b.pid), BOTS)], 30)
        time.sleep(INTERVAL + 2)
        since = time.monotonic() - (INTERVAL + 2)
        assert all(any(t >= since for t in times) for times in feeds.asked.values()), \
            "a bot of the killed daemon was not checked after the takeover"
        assert took <= 2 * LEASE
        assert feeds.statuses.keys() == {304}  # no feed was fetched whole: nothing changed
        b.send_signal(signal.SIGTERM)
        assert b.wait(30) == 0
        assert records.serving() == {}  # a daemon that stops lets its bots go at once
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for f in files:
            f.close()
        store.close()
    assert "daemon.behind" not in logs[1].read_text()
