"""A daemon of many bots (bot.service.checks) checks their feeds in rounds: one conditional GET
per bot, the store read and written a few statements per round whatever the number of bots;
each bot on its own stable slot in its interval; a changed feed still gets the ordinary pass;
`status --check` says when the daemons cannot keep up."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from drivers.many_feeds import ManyFeeds
from fixtures_store import Clock
from sqlalchemy import event

from bot.bots import bots_from_file
from bot.service.checks import RoundsDaemon
from bot.service.fleet import Fleet
from bot.service.fleet_health import check_all
from bot.service.schedule import Schedule, next_slot, offset
from bot.settings import Settings
from bot.store.api import Store
from bot.store.feeds import Checked

PASSWORD = "abcd-efgh-ijkl-mnop"


def write_bots(path: Path, feeds: ManyFeeds, count: int, interval: int = 30) -> Path:
    """A BOTS_FILE of `count` bots, bot n reading feed n; the PDS port is closed: a check that
    made any Bluesky request would fail."""
    lines = []
    for n in range(count):
        lines += ["[[bots]]", f'name = "bot-{n:05d}"', f'feed_url = "{feeds.url(n)}"',
                  'service = "http://127.0.0.1:9"', 'handle = "many.test"',
                  'app_password_env = "MANY_PASSWORD"', f"poll_interval = {interval}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def load(path: Path, db_url: str) -> list[Settings]:
    return bots_from_file(path, {"DATABASE_URL": db_url, "MANY_PASSWORD": PASSWORD})


def prime(store: Store, bots: list[Settings], feeds: ManyFeeds) -> None:
    """Every bot's feed as after a first pass: its validators saved (the next GET is a 304)."""
    for n, b in enumerate(bots):
        store.for_bot(b.name).feeds.save_validators(b.feed_url, feeds.etag(n), feeds.last_modified)


def run_until(daemon: RoundsDaemon, done: Callable[[], bool], timeout: float = 120.0) -> None:
    """Runs `daemon` in a thread until `done()`, then stops it."""
    thread = threading.Thread(target=daemon.run, name="rounds-daemon")
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "the daemon did not get there in time"
            time.sleep(0.05)
    finally:
        daemon.stop()
        thread.join(60)
    assert not thread.is_alive()


@pytest.fixture
def feeds() -> Iterator[ManyFeeds]:
    with ManyFeeds() as f:
        yield f


@pytest.mark.parametrize("count", [100, 1000])
def test_a_pass_over_unchanged_feeds_costs_the_same_few_statements_for_100_or_1000_bots(
    count: int, feeds: ManyFeeds, tmp_path: Path
) -> None:
    """Every bot's feed is asked once (a 304) and every bot's check and heartbeat is recorded,
    in at most 30 SQL statements for 100 bots as for 1,000 (the path of one bot: 3 or more per
    bot)."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    bots = load(write_bots(tmp_path / "bots.toml", feeds, count), db_url)
    store = Store(db_url, bot=None)
    store.upgrade()
    prime(store, bots, feeds)
    statements: list[str] = []
    # The store's own engine: every statement any part of the daemon sends goes through it.
    event.listen(store._engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: statements.append(sql))
    fleet = Fleet(bots, store)
    daemon = RoundsDaemon(fleet, daemon="host-a:1:test")
    run_until(daemon, lambda: daemon.checked >= count)
    store.close()

    assert feeds.statuses == Counter({304: count})
    assert len(statements) <= 30, f"{len(statements)} statements for {count} bots"
    reread = Store(db_url, bot=None)
    beats = reread.leases.heartbeats()
    assert len(beats) == count and all(b.last_ok_at is not None for b in beats)
    outcomes = {reread.for_bot(b.name).feeds.get(b.feed_url).last_outcome for b in bots}
    assert outcomes == {"not_modified"}
    reread.close()


def test_a_changed_feed_gets_the_ordinary_pass_and_the_others_stay_304(
    feeds: ManyFeeds, tmp_path: Path
) -> None:
    """Feed 7 has a new issue: it is fetched once (the 200 of the check is handed to the pass,
    not asked for again) and its issue recorded; the 59 others answer 304."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    bots = load(write_bots(tmp_path / "bots.toml", feeds, 60), db_url)
    store = Store(db_url, bot=None)
    store.upgrade()
    prime(store, bots, feeds)
    feeds.change(7)
    fleet = Fleet(bots, store)
    daemon = RoundsDaemon(fleet, daemon="host-a:1:test")
    runner = daemon.runners["bot-00007"]
    run_until(daemon, lambda: daemon.checked >= 59 and runner.passes >= 1)
    store.close()

    assert feeds.statuses == Counter({304: 59, 200: 1})
    reread = Store(db_url, bot="bot-00007")
    assert [i.link for i in reread.issues.all()] == ["http://example.org/p/f/7-1"]
    reread.close()


def test_a_failing_feed_backs_off_on_its_own_and_the_others_go_on(
    feeds: ManyFeeds, tmp_path: Path
) -> None:
    """Feed 3 answers 500: its bot gets the ordinary pass, which records the error in its
    heartbeat and doubles its interval; the 59 others are checked and healthy."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    bots = load(write_bots(tmp_path / "bots.toml", feeds, 60), db_url)
    store = Store(db_url, bot=None)
    store.upgrade()
    prime(store, bots, feeds)
    feeds.failing["/f/3"] = 500
    fleet = Fleet(bots, store, feed_options={"retries": 0})  # no retry waits in the test
    daemon = RoundsDaemon(fleet, daemon="host-a:1:test")
    runner = daemon.runners["bot-00003"]
    run_until(daemon, lambda: daemon.checked >= 59 and runner.failures >= 1
              and "bot-00003" in daemon.schedule)
    planned = daemon.schedule.when("bot-00003")
    store.close()

    assert runner.interval == 60.0  # 30 s doubled
    assert planned is not None and planned - time.time() > 30.0
    reread = Store(db_url, bot=None)
    beats = {b.bot: b for b in reread.leases.heartbeats()}
    assert "HTTP 500" in (beats["bot-00003"].last_error or "")
    assert beats["bot-00003"].feed_failing_since is not None
    assert all(b.last_error is None for name, b in beats.items() if name != "bot-00003")
    assert len(beats) == 60
    reread.close()


def test_bots_are_spread_over_their_interval_on_slots_that_do_not_move() -> None:
    """10,000 bots on a 30 s interval: no second of it has more than 1.3 times its share of
    checks; a bot's slot is the same whenever it is asked for (another daemon, a restart)."""
    names = [f"bot-{n:05d}" for n in range(10_000)]
    per_second = Counter(int(offset(n, 30.0)) for n in names)
    assert len(per_second) == 30 and max(per_second.values()) <= 1.3 * 10_000 / 30
    now = 1_800_000_000.0
    for name in names[:50]:
        slot = next_slot(name, 30.0, now)
        assert now < slot <= now + 30.0
        assert next_slot(name, 30.0, now + 7.5) in (slot, slot + 30.0)
        assert (next_slot(name, 30.0, slot) - slot) == pytest.approx(30.0)


def test_the_schedule_gives_each_due_bot_once() -> None:
    """A bot planned twice is due once, at its latest plan; a removed bot is never due."""
    s = Schedule()
    s.at("a", 10.0)
    s.at("a", 12.0)
    s.at("b", 11.0)
    s.at("c", 5.0)
    s.remove("c")
    assert s.due(11.5) == [("b", 11.0)]
    assert s.next_time() == 12.0
    assert s.due(20.0) == [("a", 12.0)] and s.due(30.0) == [] and len(s) == 0


def test_status_check_over_many_bots_says_when_the_daemons_are_behind(tmp_path: Path) -> None:
    """60 bots checked on time: one line, ok. Ten minutes later (interval 30 s) nobody checked
    them: one line saying the daemons are behind, with the numbers."""
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}", bot=None, clock=clock)
    store.upgrade()
    names = [f"bot-{n:02d}" for n in range(60)]
    for name in names:
        store.for_bot(name).feeds.save_validators(f"http://127.0.0.1:9/{name}", '"e"', None)
    states = store.feeds.check_states([(n, f"http://127.0.0.1:9/{n}") for n in names])
    assert len(states) == 60 and not any(s.pending for s in states.values())
    store.feeds.record_not_modified(
        [Checked(n, states[n].feed_id, 30) for n in names])
    clock.advance(10)
    assert check_all(store, names, clock.now).line == "all 60 bots ok"
    clock.advance(timedelta(minutes=10).total_seconds())
    health = check_all(store, names, clock.now)
    assert not health.ok
    assert health.line.startswith(
        "the daemons are behind: 60 of 60 bots not checked within 1.5 poll intervals "
        "(checks due 120/min, done on time 0/min)")
    store.close()


def test_a_daemon_that_cannot_keep_up_says_so_in_one_line_with_the_numbers(
    feeds: ManyFeeds, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A minute in which 100 checks fell due and 50 were done: the minute's line, then one
    warning with due and done per minute; a minute that kept up has no warning."""
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    bots = load(write_bots(tmp_path / "bots.toml", feeds, 3), db_url)
    store = Store(db_url, bot=None)
    daemon = RoundsDaemon(Fleet(bots, store), daemon="host-a:1:test")
    daemon.owned = {b.name for b in bots}
    caplog.set_level("INFO", logger="bot.service.checks")
    daemon.minute.due, daemon.minute.done, daemon.minute.unchanged = 100, 50, 50
    daemon._report(60.0)
    daemon.minute.due, daemon.minute.done, daemon.minute.unchanged = 100, 100, 100
    daemon._report(60.0)
    daemon.fleet.close()
    store.close()
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split()[0] for line in lines] == ["daemon.checks", "daemon.behind",
                                                   "daemon.checks"]
    assert lines[1].startswith("daemon.behind due_per_min=100 done_per_min=50 ")
    assert lines[2].startswith("daemon.checks due_per_min=100 done_per_min=100 unchanged=100")
