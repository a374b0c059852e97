"""What the bot says it will do is what it does: every command's dry run — `poll`, `post`,
`approve`, `preview` (text, JSON, HTML) and `status` — against the real command, over a table of
situations, on the reference PDS and a newsletter served on loopback. They agree post for post.

Each situation is built twice (its own newsletter, account and database): once for the pass
(`poll`), once for the editor's command (`post`, or `approve` for a held issue)."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from drivers.newsletter_feed import NewsletterServer
from test_worker import settings_for

from bot.cli.app import cli
from bot.errors import BotError
from bot.service.editor import approve, post_one, status_rows
from bot.service.outcomes import IssueOutcome, Outcome
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import IssueState, Store

pytestmark = pytest.mark.pds


@dataclass
class Case:
    nl: NewsletterServer
    settings: Settings
    store: Store
    link: str
    acct: object
    tmp: Path

    def worker(self, **kw: object) -> Worker:
        return Worker(self.settings, self.store, cache_dir=self.tmp / "cache",
                      feed_options={"retries": 0}, **kw)

    def poll(self) -> IssueOutcome | None:
        with self.worker() as w:
            return _mine(w.poll().outcomes, self.link)


def _mine(outcomes: list[IssueOutcome], link: str) -> IssueOutcome | None:
    found = [o for o in outcomes if o.link == link]
    assert len(found) <= 1
    return found[0] if found else None


def _announce_profile(tmp: Path) -> str:
    path = tmp / "announce.toml"
    bundled = (ROOT / "config" / "bwr.toml").read_text(encoding="utf-8")
    path.write_text(bundled.replace('short_issue = "hold"', 'short_issue = "announce"'))
    return str(path)


# -- the situations: each makes the state it names, through the bot's own commands -----------

def new(c: Case) -> None:
    pass


def waiting(c: Case) -> None:
    c.settings = dataclasses.replace(c.settings, post_delay=10)
    assert c.poll().outcome is Outcome.WAITING  # first seen now: ten minutes to go


def short(c: Case) -> None:
    pass  # no takeaways: BWR's profile holds it


def held(c: Case) -> None:
    assert c.poll().outcome is Outcome.HELD


def approved(c: Case) -> None:
    held(c)
    c.store.issues.approve(c.store.issues.find_by_link(c.link).id)


def announce_only(c: Case) -> None:
    c.settings = dataclasses.replace(c.settings, bot_config=_announce_profile(c.tmp))


def already_posted(c: Case) -> None:
    assert c.poll().outcome is Outcome.POSTED


def interrupted(c: Case) -> None:
    """Claimed and moved to posting by a worker that then died before writing."""
    c.settings = dataclasses.replace(c.settings, post_delay=60)
    assert c.poll().outcome is Outcome.WAITING  # recorded
    c.settings = dataclasses.replace(c.settings, post_delay=0)
    stored = c.store.issues.find_by_link(c.link)
    assert c.store.issues.claim(stored.id, "dead-host:1:x", 600)
    c.store.issues.mark_posting(stored.id, "dead-host:1:x")
    assert c.store.issues.release(stored.id, "dead-host:1:x")


def lost_database(c: Case) -> None:
    """Held, approved and posted; then the database is lost (a new, empty one)."""
    approved(c)
    assert c.poll().outcome is Outcome.POSTED
    c.store.close()
    fresh = c.tmp / "fresh.db"
    c.settings = dataclasses.replace(c.settings, database_url=f"sqlite:///{fresh}")
    c.store = Store(c.settings.database_url)
    c.store.upgrade()


def gone(c: Case) -> None:
    c.settings = dataclasses.replace(c.settings, post_delay=10)
    assert c.poll().outcome is Outcome.WAITING
    c.nl.remove(c.link.rsplit("/", 1)[1])


SITUATIONS: dict[str, tuple[Callable[[Case], None], bool]] = {
    # name: (how it is made, whether the issue has its takeaways)
    "new": (new, True),
    "waiting": (waiting, True),
    "short": (short, False),
    "held": (held, False),
    "approved": (approved, False),
    "announce-only": (announce_only, False),
    "already posted": (already_posted, True),
    "interrupted": (interrupted, True),
    "lost database": (lost_database, False),
    "gone": (gone, True),
}


@pytest.fixture
def build(pds, tmp_path):
    made: list[Case] = []

    def make(name: str, twin: str) -> Case:
        how, takeaways = SITUATIONS[name]
        tmp = tmp_path / twin
        tmp.mkdir()
        nl = NewsletterServer().__enter__()
        nl.add("it", published=datetime.now(UTC) - timedelta(hours=1), takeaways=takeaways)
        acct = pds.new_account("plan")
        db = f"sqlite:///{tmp / 'bot.db'}"
        store = Store(db)
        store.upgrade()
        case = Case(nl, settings_for(nl.feed_url, db, pds.url, acct), store, nl.link("it"),
                     acct, tmp)
        made.append(case)
        how(case)
        return case

    yield make
    for case in made:
        case.store.close()
        case.nl.__exit__(None, None, None)


REAL = {Outcome.WOULD_POST: Outcome.POSTED}


def agree(dry: IssueOutcome | None, real: IssueOutcome | None, written: int) -> None:
    """The dry run said what the real command did, post for post."""
    if dry is None or real is None:
        assert dry is real is None, (dry, real)
        assert written == 0
        return
    assert REAL.get(dry.outcome, dry.outcome) is real.outcome, (dry, real)
    if real.outcome is Outcome.POSTED:
        assert dry.posts == real.posts == written
    else:
        assert written == 0
    if real.outcome is Outcome.WAITING:
        assert dry.due == real.due
    if real.outcome is Outcome.HELD:
        assert dry.error == real.error
    if real.outcome is Outcome.ALREADY_POSTED:
        assert dry.roots == real.roots and real.roots


def records(pds, case: Case) -> int:
    return len(pds.list_records(case.acct.did))


def env_of(case: Case) -> dict[str, str]:
    s = case.settings
    return {"FEED_URL": s.feed_url, "DATABASE_URL": s.database_url, "BSKY_SERVICE": s.bsky_service,
            "BSKY_HANDLE": s.bsky_handle or "", "BSKY_APP_PASSWORD": s.bsky_app_password or "",
            "POST_DELAY": f"{s.post_delay:g}", "BOT_CONFIG": s.bot_config,
            "BACKFILL_HOURS": "48", "CARDS_ALLOW_PRIVATE": "1", "BOTS_FILE": ""}


def preview(case: Case) -> tuple[dict, str, str]:
    """`preview --json` (its plan), its text and its HTML page, as the editor runs them."""
    page = case.tmp / "preview.html"
    base = ["preview", "--feed", case.nl.feed_url, "--entry", case.link]
    runner = CliRunner()
    js = runner.invoke(cli, [*base, "--json", "--html", str(page)], env=env_of(case))
    assert js.exit_code == 0, js.output
    text = runner.invoke(cli, base, env=env_of(case))
    assert text.exit_code == 0, text.output
    (element,) = json.loads(js.stdout)
    return element["plan"], text.stdout, page.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(SITUATIONS))
def test_every_dry_run_says_what_the_real_command_does(name, build, pds):
    # The pass: poll --dry-run, preview and status, then the real poll.
    case = build(name, "pass")
    with case.worker(dry_run=True) as w:
        dry = _mine(w.poll().outcomes, case.link)
    if name != "gone":  # preview reads the issue from the feed: it has left it
        plan, text, page = preview(case)
    delay = {"default": case.settings.post_delay}
    rows = {r["link"]: r for r in status_rows(case.store, post_delay=delay)}
    before = records(pds, case)
    real = case.poll()
    agree(dry, real, records(pds, case) - before)

    if name != "gone":
        if dry is not None:
            # preview says the dry poll's words, in text, JSON and HTML alike.
            assert plan["says"] == dry.plan
        if plan["step"] != "post":
            assert f"Plan: {plan['says']}" in text
            assert f"Plan: {html.escape(plan['says'])}" in page
    row = rows.get(case.link)
    if row is not None and dry is not None and row["step"] in ("wait", "hold") \
            and name != "gone":  # status reads no feed: it cannot know an issue left it
        assert row["plan"] == dry.plan  # status, from the store alone, says the same

    # The editor: post --dry-run (approve --dry-run for a held issue), then the real command.
    twin = build(name, "editor")
    if name == "gone":  # the editor's post reads the feed, which no longer has it: both refuse
        errors = []
        for dry_run in (True, False):
            with twin.worker(dry_run=dry_run) as w, pytest.raises(BotError) as err:
                post_one(w, entry=twin.link, dry_run=dry_run)
            errors.append(str(err.value))
        assert errors[0] == errors[1] and f"no issue with link {twin.link}" in errors[0]
        return
    by_hand = approve if name == "held" else None
    with twin.worker(dry_run=True) as w:
        if by_hand:
            _, dry_hand, _ = approve(w, twin.link, dry_run=True)
        else:
            _, dry_hand, _ = post_one(w, entry=twin.link, dry_run=True)
    before = records(pds, twin)
    with twin.worker() as w:
        if by_hand:
            _, real_hand, _ = approve(w, twin.link)
        else:
            _, real_hand, _ = post_one(w, entry=twin.link)
    agree(dry_hand, real_hand, records(pds, twin) - before)
    assert twin.store.issues.find_by_link(twin.link).state is IssueState.POSTED


def test_the_commands_print_the_plan_in_its_words(build, pds):
    """As the editor types them: `poll --dry-run` says the wait, `post --dry-run` of a thread on
    the account says where it is, `status` says the same, and nothing is written."""
    case = build("waiting", "cli")
    env = env_of(case)
    runner = CliRunner()
    stored = case.store.issues.find_by_link(case.link)
    due = (stored.created_at + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M UTC")
    shown = runner.invoke(cli, ["poll", "--dry-run"], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"  {case.link}: waits until {due} (POST_DELAY)" in shown.stdout
    status = runner.invoke(cli, ["status", "--json"], env=env)
    (row,) = json.loads(status.stdout)["issues"]
    assert row["plan"] == f"waits until {due} (POST_DELAY)" and row["step"] == "wait"

    case.settings = dataclasses.replace(case.settings, post_delay=0)
    assert case.poll().outcome is Outcome.POSTED
    env = env_of(case)
    before = records(pds, case)
    again = runner.invoke(cli, ["post", "--entry", case.link, "--dry-run"], env=env)
    assert again.exit_code == 0, again.output
    (root,) = [r for r in case.store.posts.recent(1)[0].posts if r.place == 0]
    url = f"https://bsky.app/profile/{case.acct.did}/post/{root.rkey}"
    assert again.stdout.strip() == (f"dry run: {case.link}: already on Bluesky at {url}; "
                                    "nothing posted")
    status = runner.invoke(cli, ["status", "--json"], env=env)
    (row,) = json.loads(status.stdout)["issues"]
    assert row["plan"] == f"already on Bluesky at {url}"
    assert records(pds, case) == before


def test_a_flood_of_new_issues_is_held_in_the_dry_run_as_in_the_pass(build, pds):
    """More new issues than MAX_NEW_PER_PASS on a feed's first pass: the dry run says which go
    out and which are held, and the real pass does exactly that."""
    case = build("new", "flood")
    for n in range(6):
        case.nl.add(f"more{n}", published=datetime.now(UTC) - timedelta(minutes=50 - n))
    with case.worker(dry_run=True) as w:
        dry = {o.link: o for o in w.poll().outcomes}
    before = records(pds, case)
    with case.worker() as w:
        real = {o.link: o for o in w.poll().outcomes}
    assert set(dry) == set(real) and len(real) == 7
    assert sum(o.outcome is Outcome.HELD for o in real.values()) == 7 - 5
    posted = 0
    for link, outcome in real.items():
        agree(dry[link], outcome, 0 if outcome.outcome is not Outcome.POSTED else outcome.posts)
        posted += outcome.posts if outcome.outcome is Outcome.POSTED else 0
    assert records(pds, case) - before == posted
