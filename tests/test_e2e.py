"""End to end: `python -m bot poll` processes against the reference PDS (through a counting
proxy) and a newsletter on loopback — posting once, 304s without Bluesky, a deleted database,
two processes at once, SIGTERM and SIGKILL in the middle of a thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from drivers.newsletter_feed import NewsletterServer

from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import compose
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.pds
APPLY = "com.atproto.repo.applyWrites"


@pytest.fixture
def nl():
    with NewsletterServer() as server:
        yield server


def env_for(nl, db: Path, service: str, acct) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BSKY_", "BACKFILL"))}
    env.update(FEED_URL=nl.feed_url, DATABASE_URL=f"sqlite:///{db}", BSKY_SERVICE=service,
               BSKY_HANDLE=acct.handle, BSKY_APP_PASSWORD=acct.app_password)
    return env


def bot(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def length(nl, slug: str) -> int:
    profile = load_profile()
    issue = next(i for i in parse_feed(nl.feed_bytes(), profile).issues
                 if i.link == nl.link(slug))
    return sum(len(t) for t in compose(issue, profile))


def threads(pds, acct) -> dict[str, int]:
    """Each thread on the account (by its root's link card) and how many posts it has."""
    records = pds.list_records(acct.did)
    by_root = {r["uri"]: r["value"]["embed"]["external"]["uri"]
               for r in records if "reply" not in r["value"]}
    counts = dict.fromkeys(by_root.values(), 0)
    for r in records:
        root = r["value"]["reply"]["root"]["uri"] if "reply" in r["value"] else r["uri"]
        counts[by_root[root]] += 1
    assert len(counts) == len(by_root), "an issue has two threads"
    return counts


def test_poll_posts_once_304_is_free_lost_database_posts_nothing(nl, tmp_path, pds, pds_proxy):
    """New issue → one thread; 304 → no Bluesky call; deleted database → nothing posted twice."""
    acct = pds.new_account("eone")
    env = env_for(nl, tmp_path / "bot.db", pds_proxy.url, acct)
    nl.add("one")
    first = bot(env, "poll")
    assert first.returncode == 0, first.stderr
    assert f"{nl.link('one')}: posted {length(nl, 'one')} posts: https://bsky.app/profile/" \
        in first.stdout
    assert acct.app_password not in first.stdout + first.stderr
    assert threads(pds, acct) == {nl.link("one"): length(nl, "one")}

    pds_proxy.reset_counts()
    second = bot(env, "poll")
    assert second.returncode == 0, second.stderr
    assert "not modified; nothing to post" in second.stdout
    assert pds_proxy.counts() == {}

    for f in tmp_path.glob("bot.db*"):
        f.unlink()
    third = bot(env, "poll")
    assert third.returncode == 0, third.stderr
    assert f"{nl.link('one')}: already on Bluesky: https://bsky.app/profile/" in third.stdout
    assert pds_proxy.count(APPLY) == 0
    assert threads(pds, acct) == {nl.link("one"): length(nl, "one")}

    nl.add("two", published=datetime.now(UTC) - timedelta(minutes=10))
    fourth = bot(env, "poll")
    assert fourth.returncode == 0, fourth.stderr
    assert f"{nl.link('two')}: posted" in fourth.stdout
    assert nl.link("one") not in fourth.stdout
    assert threads(pds, acct) == {nl.link("one"): length(nl, "one"),
                                  nl.link("two"): length(nl, "two")}

    again = bot(env, "post", "--entry", nl.link("two"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Already on Bluesky, not posted again")
    assert "https://bsky.app/profile/did:" in again.stdout
    status = bot(env, "status")
    assert status.stdout.count("→ https://bsky.app/profile/") == 2


def test_two_poll_processes_at_once_post_each_issue_once(nl, tmp_path, pds, pds_proxy):
    """Two `poll` processes on one database at the same time post each issue exactly once."""
    acct = pds.new_account("etwo")
    env = env_for(nl, tmp_path / "bot.db", pds_proxy.url, acct)
    nl.add("a", published=datetime.now(UTC) - timedelta(hours=3))
    nl.add("b", published=datetime.now(UTC) - timedelta(hours=2))
    procs = [start(env, "poll"), start(env, "poll")]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    assert threads(pds, acct) == {nl.link("a"): length(nl, "a"), nl.link("b"): length(nl, "b")}
    posted = "".join(out for out, _ in outs).count(": posted ")
    assert posted == 2


def test_sigterm_during_poll_finishes_the_thread_and_next_poll_posts_the_rest(
        nl, tmp_path, pds, pds_proxy):
    """SIGTERM while a thread is written: it is finished, the pass stops, the next run goes on."""
    acct = pds.new_account("eterm")
    env = env_for(nl, tmp_path / "bot.db", pds_proxy.url, acct)
    nl.add("a", published=datetime.now(UTC) - timedelta(hours=3))
    nl.add("b", published=datetime.now(UTC) - timedelta(hours=2))
    proc = start(env, "poll")
    pds_proxy.on_request(APPLY, lambda _req: proc.send_signal(signal.SIGTERM), times=1)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "signal.received signal=SIGTERM" in err
    assert "stopped early" in out
    assert threads(pds, acct) == {nl.link("a"): length(nl, "a")}

    nxt = bot(env, "poll")
    assert nxt.returncode == 0, nxt.stderr
    assert threads(pds, acct) == {nl.link("a"): length(nl, "a"), nl.link("b"): length(nl, "b")}


def test_sigkill_after_the_write_before_the_database_knows_posts_nothing_twice(
        nl, tmp_path, pds, pds_proxy):
    """Killed after Bluesky stored the thread but before the database did: the next poll
    finds it and writes nothing."""
    acct = pds.new_account("ekill")
    env = env_for(nl, tmp_path / "bot.db", pds_proxy.url, acct)
    nl.add("a")
    proc = start(env, "poll")
    pds_proxy.on_response(APPLY, lambda _req: proc.send_signal(signal.SIGKILL), times=1)
    proc.communicate(timeout=180)
    assert proc.returncode == -signal.SIGKILL
    assert threads(pds, acct) == {nl.link("a"): length(nl, "a")}

    pds_proxy.reset_counts()
    nxt = bot(env, "poll")
    assert nxt.returncode == 0, nxt.stderr
    assert f"{nl.link('a')}: already on Bluesky" in nxt.stdout
    assert pds_proxy.count(APPLY) == 0
    assert threads(pds, acct) == {nl.link("a"): length(nl, "a")}
