"""`python -m benchmarks soak [--minutes N] [--daemons K] [--bots B] [--seed S]`: a stretch of
faults for real daemons, then an independent checker. Everything on 127.0.0.1.

- The reference PDS (tests/pds) with --accounts accounts (default 3) behind the tests' FaultProxy
  (tests/faultproxy.py), which plays at random: 502 before the request reaches the PDS, a write
  that reaches it and whose answer is lost (the connection closed after the PDS answered), 429
  with `ratelimit-reset`, answers seconds late, a connection closed with no answer.
- B bots (default 9) in a BOTS_FILE: newsletter n posted to account a, the newsletters served by
  tests/drivers/newsletter_feed.py, which plays 500s, a 200 whose XML stops halfway, a body
  shorter than its Content-Length and slow answers; a new issue on every feed every minute, and
  an older one edited (title and text) every minute. Each feed lists its newest 20 issues.
- K daemons (`python -m bot run`, default 3) on one throwaway Postgres (benchmarks/pgserver.py)
  that crashes (immediate shutdown) and comes back; a random daemon SIGKILLed every 20-60 s and
  started again a moment later (daemon 0, the witness, is spared when K > 1, so one daemon's
  memory is seen over the whole run); a daemon that ends by itself is counted and started again.
- Then the faults stop (no new issue either) and the checker reads every account's records from
  the PDS (directly, not through the proxy) and every issue from the database until all is
  settled or --settle minutes pass: every issue on its account exactly once and whole (a post
  count the composer gives for a version of the issue the feed served), no stray or half thread,
  no issue left posting, failed or held, no password in any log, no traceback.

It prints the seed (--seed replays the same schedule of faults), the faults by kind, the kills,
the time to settle, and each daemon's resident memory over time; the report also goes to --json.
Exit status 1 on any loss, duplicate or other finding: it can gate a release.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, from_tests, log
from benchmarks.soak_check import judge

WINDOW = 20  # issues listed per feed
POLL_INTERVAL = 10  # seconds, per bot
RSS_EVERY = 10.0  # seconds between samples
WARM_AFTER = 120.0  # seconds of a daemon's life before its memory counts as warm
RSS_FLAT_MB = 25.0
PDS_METHODS = ("com.atproto.repo.applyWrites", "com.atproto.repo.getRecord",
               "com.atproto.repo.listRecords", "com.atproto.repo.uploadBlob",
               "com.atproto.server.refreshSession", "com.atproto.server.getSession")
FEED_FAULTS = {"500": 0.08, "cut": 0.08, "short": 0.04, "slow": 0.04}


@dataclass
class Daemon:
    """One daemon slot: its current process and the log of each of its lives."""

    slot: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    lives: list[Path] = field(default_factory=list)
    rss: list[tuple[float, int, float]] = field(default_factory=list)  # (t, life, MB)
    fds: list[tuple[float, int, int]] = field(default_factory=list)  # (t, life, open files)
    ended_alone: int = 0


@dataclass
class Soak:
    """What the run did, for the report."""

    seed: int
    minutes: float
    kills: int = 0
    exits: list[str] = field(default_factory=list)
    pg_crashes: list[float] = field(default_factory=list)
    published: int = 0
    edits: int = 0
    settle_seconds: float | None = None
    findings: list[str] = field(default_factory=list)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Run:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.soak = Soak(seed=args.seed, minutes=args.minutes)
        self.faulting = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.counts: dict[str, set[int]] = {}  # link -> post counts of its versions
        self.env: dict[str, str] = {}  # the daemons' environment
        self.daemons: list[Daemon] = []
        self.db_bytes = 0  # the database's size when last checked
        self.t0 = time.monotonic()

    # -- the parts ------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def compose_count(self, nl: Any, slug: str) -> int:
        from bot.core.profile import load_profile
        from bot.core.reader import parse_feed
        from bot.core.thread import compose

        profile = load_profile()
        (issue,) = parse_feed(nl.feed_of(slug), profile).issues
        return sum(len(t) for t in compose(issue, profile))

    def publish(self, nl: Any, slug: str) -> None:
        nl.add(slug, published=datetime.now(UTC))
        self.counts.setdefault(nl.link(slug), set()).add(self.compose_count(nl, slug))
        self.soak.published += 1

    def edit(self, nl: Any, rng: random.Random) -> None:
        if len(nl.issues) < 2:
            return
        older = rng.choice(nl.issues[:-1])
        n = self.soak.edits + 1
        nl.edit(older.slug, title=f"{older.title.split(' (edited')[0]} (edited {n})",
                extra=f"Edited by the author ({n}).")
        self.counts[nl.link(older.slug)].add(self.compose_count(nl, older.slug))
        self.soak.edits += 1

    def start_daemon(self, d: Daemon) -> None:
        life = self.work / f"daemon{d.slot}-{len(d.lives) + 1}.log"
        d.lives.append(life)
        with life.open("wb") as out:
            d.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT,
                                      env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        d.started = time.monotonic()

    # -- the threads of chaos -----------------------------------------------------------------

    def pds_chaos(self, proxy: Any, rng: random.Random) -> None:
        """Every 1-4 s one fault waits for the next call of a random method."""
        while self.faulting.is_set():
            method = rng.choice(PDS_METHODS)
            kind = rng.choice(["502", "lost", "429", "slow", "reset"])
            if kind == "502":
                proxy.fail(method, status=502, error="BadGateway", message="injected")
            elif kind == "lost":
                proxy.drop("com.atproto.repo.applyWrites", after_forward=True)
            elif kind == "429":
                proxy.rate_limit(method, reset_in=rng.uniform(1, 5))
            elif kind == "slow":
                proxy.delay(method, rng.uniform(2, 6))
            else:
                proxy.drop(method)
            time.sleep(rng.uniform(1, 4))
        proxy.clear()

    def kills(self, daemons: list[Daemon], rng: random.Random) -> None:
        """SIGKILL a random daemon every 20-60 s, started again 1-5 s later. With two daemons
        or more, daemon 0 is the witness, never killed: its memory is watched over the run."""
        targets = daemons[1:] if len(daemons) > 1 else daemons
        while self.faulting.is_set():
            if self.done.wait(rng.uniform(20, 60)) or not self.faulting.is_set():
                return
            d = rng.choice(targets)
            with self.lock:
                if d.proc is not None and d.proc.poll() is None:
                    d.proc.send_signal(signal.SIGKILL)
                    d.proc.wait()
                    self.soak.kills += 1
                    d.proc = None
            time.sleep(rng.uniform(1, 5))
            with self.lock:
                if d.proc is None:
                    self.start_daemon(d)

    def postgres_crashes(self, pg: Any, rng: random.Random) -> None:
        """Crash Postgres `n` times, evenly spread over the faults (at least twice)."""
        n = max(2, int(self.args.minutes // 10))
        period = self.args.minutes * 60 / (n + 1)
        for _ in range(n):
            if self.done.wait(period * rng.uniform(0.7, 1.3)) or not self.faulting.is_set():
                return
            pg.crash()
            self.soak.pg_crashes.append(round(self.elapsed()))
            log(f"Postgres crashed at {self.elapsed():.0f} s")
            time.sleep(rng.uniform(3, 10))
            pg.start()

    def newsroom(self, servers: list[Any], rng: random.Random) -> None:
        """A new issue on every feed every minute; one older issue of each edited."""
        n = 0
        while self.faulting.is_set():
            if self.done.wait(60) or not self.faulting.is_set():
                return
            n += 1
            for i, nl in enumerate(servers):
                self.publish(nl, f"n{i}-{n}")
                self.edit(nl, rng)

    def supervise(self, daemons: list[Daemon]) -> None:
        """The platform: a daemon that ended by itself is started again (and counted); its
        memory is sampled every RSS_EVERY seconds."""
        while not self.done.is_set():
            with self.lock:
                for d in daemons:
                    if d.proc is None:
                        continue
                    code = d.proc.poll()
                    if code is not None:
                        d.ended_alone += 1
                        self.soak.exits.append(f"daemon {d.slot} life {len(d.lives)}: exit "
                                               f"{code} at {self.elapsed():.0f} s")
                        self.start_daemon(d)
                        continue
                    mb = _rss_mb(d.proc.pid)
                    age = round(time.monotonic() - d.started)
                    if mb is not None:
                        d.rss.append((age, len(d.lives), mb))
                    try:
                        d.fds.append((age, len(d.lives), len(os.listdir(f"/proc/{d.proc.pid}/fd"))))
                    except OSError:
                        pass
            self.done.wait(RSS_EVERY)

    # -- the checker ------------------------------------------------------------------------------

    def check(self, pds: Any, accounts: list[Any], bots: list[tuple[str, Any, Any]],
              db_url: str) -> list[str]:
        """Every finding (empty when all is well): read from the PDS itself and the database."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import SQLAlchemyError

        due: dict[str, set[str]] = {a.handle: set() for a in accounts}
        for _name, nl, acct in bots:
            due[acct.handle] |= {nl.link(i.slug) for i in nl.issues}
        try:
            records = {a.handle: pds.list_records(a.did) for a in accounts}
        except Exception as exc:  # noqa: BLE001 - the PDS busy: a finding, asked again later
            return [f"the PDS could not be read: {exc}"]
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                rows = [tuple(r) for r in conn.execute(text(
                    "SELECT f.bot, i.link, i.state, i.error FROM issues i "
                    "JOIN feeds f ON f.id = i.feed_id")).all()]
                if engine.dialect.name == "postgresql":
                    self.db_bytes = conn.execute(text(
                        "SELECT pg_database_size(current_database())")).scalar_one()
        except SQLAlchemyError as exc:
            return [f"the database could not be read: {exc}"]
        finally:
            engine.dispose()
        return judge(records, due, self.counts, rows)

    def log_findings(self, daemons: list[Daemon], secrets_: list[str]) -> list[str]:
        findings = []
        for d in daemons:
            for life in d.lives:
                said = life.read_text(errors="replace")
                if any(s and s in said for s in secrets_):
                    findings.append(f"a password in {life.name}")
                if "Traceback" in said:
                    findings.append(f"a traceback in {life.name}")
        return findings


def _rss_report(daemons: list[Daemon]) -> tuple[list[str], list[str]]:
    """Lines of each daemon's memory per minute of each life, and the findings (growth over
    RSS_FLAT_MB after warming up in a life long enough to tell)."""
    lines, findings = [], []
    for d in daemons:
        by_life: dict[int, list[tuple[float, float]]] = {}
        for t, life, mb in d.rss:
            by_life.setdefault(life, []).append((t, mb))
        longest = max(by_life.items(), key=lambda kv: kv[1][-1][0], default=None)
        if longest is None:
            continue
        life, samples = longest
        per_min = [f"{mb:.0f}" for t, mb in samples if t % 60 < RSS_EVERY]
        fds = [n for t, lf, n in d.fds if lf == life and t % 60 < RSS_EVERY]
        lines.append(f"daemon {d.slot}: {len(d.lives)} lives; longest (life {life}, "
                     f"{samples[-1][0] / 60:.1f} min) RSS MB per minute: {' '.join(per_min)}; "
                     f"open files per minute: {' '.join(map(str, fds))}")
        for life, samples in by_life.items():
            warm = [mb for t, mb in samples if t >= WARM_AFTER]
            if len(warm) >= 2 and max(warm) - warm[0] > RSS_FLAT_MB:
                findings.append(f"daemon {d.slot} life {life}: RSS grew {warm[0]:.0f} → "
                                f"{max(warm):.0f} MB after warming up")
    return lines, findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="minutes of faults")
    parser.add_argument("--daemons", type=int, default=3)
    parser.add_argument("--bots", type=int, default=9)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--settle", type=float, default=10.0,
                        help="minutes allowed to settle after the faults stop")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "soak.json")
    parser.add_argument("--pds-url", default=None,
                        help="use this running test PDS (loopback) instead of starting one")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the daemons' logs in this directory")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    log(f"soak: seed {args.seed}, {args.minutes:g} min of faults, {args.daemons} daemons, "
        f"{args.bots} bots over {args.accounts} accounts")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bwr-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    return _soak(args, work)


def _soak(args: argparse.Namespace, work: Path) -> int:
    from contextlib import nullcontext

    from benchmarks.pds import existing_pds, running_pds
    from benchmarks.pgserver import ThrowawayPostgres

    proxy_cls = from_tests("faultproxy").FaultProxy
    newsletter = from_tests("drivers.newsletter_feed").NewsletterServer
    run = Run(args, work)
    rng = run.rng
    n_news = math.ceil(args.bots / args.accounts)
    chosen = nullcontext(existing_pds(args.pds_url)) if args.pds_url else running_pds()
    with chosen as pds, proxy_cls(pds.url) as proxy, ThrowawayPostgres() as pg:
        servers = [newsletter() for _ in range(n_news)]
        try:
            accounts = [pds.new_account("soak") for _ in range(args.accounts)]
            bots = [(f"n{b // args.accounts}-a{b % args.accounts}", servers[b // args.accounts],
                     accounts[b % args.accounts]) for b in range(args.bots)]
            tables = [
                f'[[bots]]\nname = "{name}"\nfeed_url = "{nl.feed_url}"\n'
                f'service = "{proxy.url}"\nhandle = "{acct.handle}"\n'
                f'app_password_env = "SOAK{accounts.index(acct)}_PASSWORD"\n'
                f"poll_interval = {POLL_INTERVAL}\npost_delay = 0\n"
                for name, nl, acct in bots]
            bots_toml = work / "bots.toml"
            bots_toml.write_text("\n".join(tables), encoding="utf-8")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("BSKY_", "BACKFILL", "FEED_URL", "DATABASE_URL",
                                        "BOTS_FILE", "NOTIFY"))}
            env.update(BOTS_FILE=str(bots_toml), DATABASE_URL=pg.url, PYTHONUNBUFFERED="1",
                       CARDS_ALLOW_PRIVATE="1",  # the issues' pages are on loopback
                       **{f"SOAK{j}_PASSWORD": a.app_password for j, a in enumerate(accounts)})
            run.env = env
            for i, nl in enumerate(servers):
                nl.window = WINDOW
                nl.slow_seconds = 4.0
                run.publish(nl, f"n{i}-0")
            for nl in servers:
                nl.inject(partial(_feed_fault, random.Random(rng.random())))
            run.faulting.set()
            daemons = run.daemons = [Daemon(d) for d in range(args.daemons)]
            for d in daemons:
                run.start_daemon(d)
            threads = [
                threading.Thread(target=run.pds_chaos, args=(proxy, random.Random(rng.random())),
                                 daemon=True),
                threading.Thread(target=run.kills, args=(daemons, random.Random(rng.random())),
                                 daemon=True),
                threading.Thread(target=run.postgres_crashes,
                                 args=(pg, random.Random(rng.random())), daemon=True),
                threading.Thread(target=run.newsroom,
                                 args=(servers, random.Random(rng.random())), daemon=True),
            ]
            supervisor = threading.Thread(target=run.supervise, args=(daemons,), daemon=True)
            for t in threads:
                t.start()
            supervisor.start()
            end = time.monotonic() + args.minutes * 60
            while time.monotonic() < end:
                time.sleep(min(30.0, max(0.0, end - time.monotonic())))
                log(f"{run.elapsed() / 60:.1f} min: {run.soak.published} issues, "
                    f"{run.soak.kills} kills, PDS faults {sum(proxy.injected().values())}")
            # The faults stop: the proxy forwards, the feeds answer, nobody is killed.
            run.faulting.clear()
            for nl in servers:
                nl.inject(None)
            for t in threads:
                t.join(timeout=120)
            proxy.clear()
            stopped = time.monotonic()
            log("faults stopped; waiting for the daemons to settle")
            findings = run.check(pds, accounts, bots, pg.url)
            deadline = stopped + args.settle * 60
            while findings and time.monotonic() < deadline:
                time.sleep(10)
                findings = run.check(pds, accounts, bots, pg.url)
            if not findings:
                run.soak.settle_seconds = round(time.monotonic() - stopped, 1)
            run.done.set()
            supervisor.join(timeout=30)
            codes: list[int | str] = []
            for d in daemons:
                if d.proc is not None:
                    d.proc.send_signal(signal.SIGTERM)
                    try:
                        codes.append(d.proc.wait(timeout=60))
                    except subprocess.TimeoutExpired:
                        d.proc.kill()
                        codes.append("no exit within 60 s of SIGTERM")
            secrets_ = [a.app_password for a in accounts] + [a.password for a in accounts]
            findings += run.log_findings(daemons, secrets_)
            findings += [f"daemon {d.slot} stopped with {c}" for d, c in zip(daemons, codes,
                                                                                strict=False)
                         if c != 0]
            rss_lines, rss_findings = _rss_report(daemons)
            findings += rss_findings
            feed_faults: Counter[str] = Counter()
            for nl in servers:
                feed_faults.update(nl.faults)
            report = {
                "seed": args.seed,
                "minutes_of_faults": args.minutes,
                "daemons": args.daemons,
                "bots": args.bots,
                "accounts": args.accounts,
                "issues_published": run.soak.published,
                "edits": run.soak.edits,
                "issues_due": sum(len(nl.issues) for _n, nl, _a in bots),
                "pds_faults": proxy.injected(),
                "feed_faults": dict(feed_faults),
                "kills": run.soak.kills,
                "daemon_exits": run.soak.exits,
                "postgres_crashes_at_s": run.soak.pg_crashes,
                "settle_seconds": run.soak.settle_seconds,
                "rss": rss_lines,
                "database_mb": round(run.db_bytes / 1e6, 1),
                "findings": findings,
                "logs": str(work),
            }
        finally:
            run.done.set()
            run.faulting.clear()
            for d in run.daemons:  # whatever happened, no daemon outlives the run
                if d.proc is not None and d.proc.poll() is None:
                    d.proc.kill()
                    d.proc.wait()
            for nl in servers:
                nl.close()
    _print(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    return 1 if report["findings"] else 0


def _feed_fault(rng: random.Random) -> str | None:
    x = rng.random()
    for kind, p in FEED_FAULTS.items():
        if x < p:
            return kind
        x -= p
    return None


def _print(r: dict[str, Any]) -> None:
    out = [
        f"soak: seed {r['seed']}, {r['minutes_of_faults']:g} min of faults, {r['daemons']} "
        f"daemons, {r['bots']} bots over {r['accounts']} accounts",
        f"issues: {r['issues_published']} published ({r['edits']} edits), "
        f"{r['issues_due']} bot×issue due",
        "PDS faults: " + ", ".join(f"{k} {v}" for k, v in sorted(r["pds_faults"].items())),
        "feed faults: " + ", ".join(f"{k} {v}" for k, v in sorted(r["feed_faults"].items())),
        f"SIGKILLs: {r['kills']}; Postgres crashes at {r['postgres_crashes_at_s']} s; "
        f"daemons that ended by themselves: {len(r['daemon_exits'])}",
        *[f"  {e}" for e in r["daemon_exits"]],
        "settled " + (f"{r['settle_seconds']} s after the faults stopped"
                      if r["settle_seconds"] is not None else "NEVER"),
        *r["rss"],
        f"database size at the end: {r['database_mb']} MB",
        f"findings: {len(r['findings'])}" + ("" if r["findings"] else " (0 lost, 0 duplicates)"),
        *[f"  {f}" for f in r["findings"][:60]],
        f"logs: {r['logs']}",
    ]
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
