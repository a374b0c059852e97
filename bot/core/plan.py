"""The plan: what happens to an issue now. The ONE place that decides it.

The poll pass, the editor's `post` and `approve`, every dry run, `preview` and `status` ask
`plan()` and say its answer in its words (`Plan.describe`), so what the bot says it will do is
what it does. Pure: its inputs are values — the issue as the feed has it, what the store and the
PDS said about it (`Known`), the profile, the clock and the operator's windows (`Rules`) — so it
is tested without I/O, over every state, review and clock.

The order of the questions, and why:
1. An interrupted post (state `posting`) is completed, whatever the window, the review or
   `--force` say: a new thread beside one that may be whole would be a second copy.
2. On the account already — per the store (posted) or per the PDS (a lost database) — it is
   not posted again; `--force` posts a new thread. A thread the PDS found half-written is
   completed.
3. The editor's `post` (and `approve`) posts the issue as read, now: no window, no review.
4. The pass: an issue no longer in the feed cannot be composed (gone); a new one is news or
   history (bot.core.news), and news past the flood guard's cap is held for the editor; seen,
   skipped and failed ones are left alone; a held one waits for the editor (unless it changed
   in the feed and the review passes it now: then it is queued again); a queued one waits
   out the grace window, then the review holds it, announces it only, or posts it (an
   approved one is posted as read).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.model import Issue
from bot.core.news import held_by_flood, judge
from bot.core.post import Thread, post_url
from bot.core.profile import Profile
from bot.core.review import Action as ReviewAction
from bot.core.review import review
from bot.core.state import IssueState

_S = IssueState

# Only words for the editor: that an issue left the feed is kept in `left_feed`, not in this text.
GONE = (
    "it is no longer in the feed (unpublished?); it is queued again if it comes back; "
    "`post --entry LINK --feed FILE` posts it from a saved copy of the feed"
)


class Step(enum.StrEnum):
    """What happens to an issue now."""

    IGNORE = "ignore"  # not posted (history, skipped, failed, seen): `reason` says why
    WAIT = "wait"  # in the grace window: posted at `due`
    HOLD = "hold"  # for the editor: `reason`
    ANNOUNCE = "announce"  # its root post and card only: `reason`
    POST = "post"  # the whole thread(s)
    ALREADY_POSTED = "already_posted"  # on the account: `where`
    COMPLETE = "complete"  # a thread half-written (interrupted): completed
    GONE = "gone"  # queued, but no longer in the feed: cannot be composed


class Asker(enum.StrEnum):
    """Who asks: the poll pass, or the editor by hand."""

    PASS = "pass"  # the daemon's pass (and `poll`)
    POST = "post"  # `post --entry LINK` and `approve`: now, as read
    FORCE = "force"  # `post --force`: a new thread even when one is on the account


WRITES = frozenset({Step.POST, Step.ANNOUNCE, Step.COMPLETE})  # steps that write to Bluesky


@dataclass(frozen=True)
class OnAccount:
    """What the PDS said: the issue's thread(s) found on the account (root at:// URIs), and
    whether what was found is all there is to post."""

    roots: tuple[str, ...]
    whole: bool = True


@dataclass(frozen=True)
class Known:
    """What the store (and, when asked, the PDS) knows of an issue. `state` None: the store has
    never seen it; then `first_run` (no issue of its feed known) and `newest_known` (the newest
    issue of its feed known) decide whether it is news."""

    state: IssueState | None = None
    first_seen: datetime | None = None  # when the bot first saw it: the grace window counts from it
    approved: bool = False  # the editor approved it after a hold: not reviewed again
    left_feed: bool = False  # failed because it left the feed: news again when it comes back
    error: str | None = None  # the store's reason (held, failed)
    posted: tuple[str, ...] = ()  # root at:// URIs the store recorded
    on_account: OnAccount | None = None  # None: the PDS was not asked, or has nothing
    first_run: bool = False
    newest_known: datetime | None = None
    # A new issue past the flood guard's cap for this pass (bot.core.news.flood_guard): why it
    # is held for the editor instead of queued.
    flooded: str | None = None
    # A held issue the feed has changed since (recorded in this pass): judged again.
    changed: bool = False


@dataclass(frozen=True)
class Rules:
    """The operator's windows: BACKFILL_HOURS and POST_DELAY (minutes)."""

    backfill_hours: float = 48.0
    post_delay: float = 0.0


@dataclass(frozen=True)
class Plan:
    """The answer: the step, why, when (WAIT), where (ALREADY_POSTED), and — when the caller
    gave the composed threads — exactly the threads it writes (announce: the root only)."""

    step: Step
    reason: str | None = None
    due: datetime | None = None
    where: tuple[str, ...] = ()
    threads: tuple[Thread, ...] | None = field(default=None, compare=False)

    @property
    def writes(self) -> bool:
        return self.step in WRITES

    @property
    def posts(self) -> int | None:
        """How many posts it writes (None: not composed, or nothing to write)."""
        if self.threads is None or not self.writes:
            return None
        return sum(len(t) for t in self.threads)

    def describe(self) -> str:
        """The plan in the words every command prints (after the issue's link)."""
        n = self.posts
        count = "" if n is None else f" ({n} post{'' if n == 1 else 's'})"
        if self.step is Step.POST:
            return f"posts it{count}"
        if self.step is Step.ANNOUNCE:
            return f"announces it only, root post and card{count}: {self.reason}"
        if self.step is Step.COMPLETE:
            return f"completes its interrupted thread{count}"
        if self.step is Step.WAIT:
            return f"waits until {when(self.due)} (POST_DELAY)"
        if self.step is Step.HOLD:
            return f"held: {self.reason}"
        if self.step is Step.ALREADY_POSTED:
            where = " ".join(post_url(u) for u in self.where)
            return f"already on Bluesky at {where}" if where else "already on Bluesky"
        if self.step is Step.GONE:
            return f"gone from the feed: {self.reason}"
        return f"not posted: {self.reason}"


def when(moment: datetime | None) -> str:
    """A moment as the plan says it: '2026-12-02 15:40 UTC'."""
    if moment is None:
        return "?"
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _held(known: Known, link: str) -> str:
    """Why a held issue waits: the store's reason, and what the editor can do."""
    return known.error or f"waiting for the editor; approve, post or skip --entry {link}"


def _left_alone(known: Known, link: str) -> str:
    """Why a known issue the pass does not post is left alone."""
    if known.state is _S.SKIPPED:
        return f"skipped by the editor; post --entry {link} posts it"
    if known.state is _S.FAILED:
        return f"failed: {known.error or 'see the log'}; retry --entry {link} queues it again"
    return f"seen, not news (older than the backfill, or history); post --entry {link} posts it"


def plan(
    issue: Issue | None,
    known: Known,
    profile: Profile,
    now: datetime,
    rules: Rules = Rules(),
    *,
    by: Asker = Asker.PASS,
    threads: Sequence[Thread] | None = None,
    in_feed: bool | None = None,
) -> Plan:
    """What happens to `issue` now (see the module docstring). `issue` None: not read from
    the feed — gone from it, or (`in_feed=None`, as `status` asks) the feed was not read, so
    no review is made. `threads`: the issue composed, so the plan counts what it writes."""
    if in_feed is None and issue is not None:
        in_feed = True
    link = issue.link if issue is not None else "LINK"
    chosen = tuple(threads) if threads is not None else None

    def writing(step: Step, reason: str | None = None) -> Plan:
        if step is Step.ANNOUNCE and chosen:
            return Plan(step, reason, threads=(chosen[0][:1],))
        return Plan(step, reason, threads=chosen)

    state = known.state
    # 1. An interrupted post is completed (also under --force) — from the feed's content.
    if state is _S.POSTING and in_feed is False:
        return Plan(Step.GONE, GONE)
    if state is _S.POSTING:
        return writing(Step.COMPLETE)
    # 2. On the account already.
    if by is not Asker.FORCE:
        found = known.on_account
        if state is _S.POSTED:
            return Plan(Step.ALREADY_POSTED, where=known.posted or (found.roots if found else ()))
        if found is not None and found.whole:
            return Plan(Step.ALREADY_POSTED, where=found.roots)
        if found is not None:
            return writing(Step.COMPLETE)
    # 3. The editor posts it now, as read.
    if by is not Asker.PASS:
        if issue is None:
            return Plan(Step.GONE, GONE)
        return writing(Step.POST)
    # 4. The pass.
    if in_feed is False:
        if state is _S.QUEUED:
            return Plan(Step.GONE, GONE)
        if state is _S.HELD:
            return Plan(Step.HOLD, _held(known, link))
        return Plan(Step.IGNORE, _left_alone(known, link))
    first_seen = known.first_seen
    if state is None:
        if issue is None:
            return Plan(Step.IGNORE, "not in the database")
        news = judge(issue, first_run=known.first_run, newest_known=known.newest_known,
                     now=now, backfill_hours=rules.backfill_hours)
        if news.state is not _S.QUEUED:
            return Plan(Step.IGNORE, news.reason)
        if known.flooded:  # more new issues than a pass may post: the editor says which
            return Plan(Step.HOLD, known.flooded)
        first_seen = now  # seen for the first time in this pass
    elif state is _S.FAILED and known.left_feed and in_feed:
        pass  # back in the feed: news again, queued
    elif state is _S.HELD:
        # Held, and changed since: what held it may have been a feed read that was not whole,
        # or a slip the author fixed — reviewed again. The flood guard's holds stay the
        # editor's to release, changed or not.
        if issue is None or not known.changed or held_by_flood(known.error):
            return Plan(Step.HOLD, _held(known, link))
        again = review(issue, profile)
        if again.action is ReviewAction.HOLD:
            return Plan(Step.HOLD, again.reason)
        # Passes the review now: queued again, and on as a queued issue.
    elif state is not _S.QUEUED:
        return Plan(Step.IGNORE, _left_alone(known, link))
    # Queued: the grace window, then the review.
    if rules.post_delay > 0 and first_seen is not None:  # 0: at once, as ever
        due = as_utc(first_seen) + timedelta(minutes=rules.post_delay)
        if as_utc(now) < due:
            return Plan(Step.WAIT, due=due)
    if known.approved or issue is None:
        return writing(Step.POST)
    verdict = review(issue, profile)
    if verdict.action is ReviewAction.HOLD:
        return Plan(Step.HOLD, verdict.reason)
    if verdict.action is ReviewAction.ANNOUNCE:
        return writing(Step.ANNOUNCE, verdict.reason)
    return writing(Step.POST)
