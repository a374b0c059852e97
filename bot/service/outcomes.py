"""What the worker reports: each issue's outcome in a pass, the pass itself, and the Bluesky
addresses of a thread. Plain values; `poll`, `post` and `status` print them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.core.address import ThreadPost
from bot.core.post import post_url
from bot.core.rkey import PARTS, is_tid, keys_from_root, thread_keys
from bot.store.api import StoredIssue

if TYPE_CHECKING:
    from bot.bluesky.records import PostedThread


class Outcome(enum.StrEnum):
    """What a pass (or `post`) did with one issue."""

    POSTED = "posted"
    ALREADY_POSTED = "already_posted"  # on the account already (per the store or the PDS)
    FAILED = "failed"  # cannot be posted as it is (marked failed, with the error)
    DEFERRED = "deferred"  # Bluesky was unwell: left for the next try
    BUSY = "busy"  # another worker holds its claim
    WOULD_POST = "would_post"  # a dry run
    GONE = "gone"  # queued, but no longer in the feed (marked failed)
    HELD = "held"  # not what the profile expects: held for the editor (error says why)
    WAITING = "waiting"  # in the grace window (POST_DELAY): posted once it is over
    IGNORED = "ignored"  # a dry run: the plan leaves it alone (error says why)


PROBLEMS = frozenset({Outcome.FAILED, Outcome.DEFERRED, Outcome.GONE})


class Fetched(enum.StrEnum):
    """How the feed answered a pass."""

    NOT_MODIFIED = "not_modified"  # a 304
    FETCHED = "fetched"
    READ = "read"  # a local file


@dataclass(frozen=True)
class IssueOutcome:
    """What a pass did with one issue (see Outcome)."""

    link: str
    title: str
    outcome: Outcome
    posts: int = 0
    roots: tuple[str, ...] = ()  # at:// URI of each thread's root
    error: str | None = None
    due: datetime | None = None  # waiting: when it goes out
    plan: str | None = None  # a dry run: the plan's words (bot.core.plan.Plan.describe)

    @property
    def urls(self) -> list[str]:
        """The bsky.app address of each thread."""
        return [post_url(u) for u in self.roots]

    @property
    def problem(self) -> bool:
        return self.outcome in PROBLEMS


@dataclass
class PollResult:
    """A pass: how the feed answered, what was recorded, and each issue's outcome."""

    feed_url: str
    fetched: Fetched | None = None  # None until the feed answered
    in_feed: int = 0
    new: int = 0
    queued: int = 0
    outcomes: list[IssueOutcome] = field(default_factory=list)
    stopped: bool = False
    dry_run: bool = False
    # Entries of the feed that are not issues (no link), said as the reader said them.
    skipped: list[str] = field(default_factory=list)

    @property
    def next_due(self) -> datetime | None:
        """When the first issue waiting in the grace window goes out (the daemon wakes then)."""
        return min((o.due for o in self.outcomes if o.due is not None), default=None)

    @property
    def problems(self) -> list[IssueOutcome]:
        return [o for o in self.outcomes if o.problem]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    def summary(self) -> str:
        """A few readable lines for `poll`."""
        if self.fetched is Fetched.NOT_MODIFIED:
            return f"feed {self.feed_url}: not modified; nothing to post"
        issues = "1 issue" if self.in_feed == 1 else f"{self.in_feed} issues"
        head = f"feed {self.feed_url}: {issues}, {self.new} new, {self.queued} queued"
        lines = [head + (" (dry run)" if self.dry_run else "")]
        lines += [f"  {line}" for line in self.skipped]
        for o in self.outcomes:
            where = " ".join(o.urls)
            detail = o.plan if o.plan and o.outcome is not Outcome.WOULD_POST else {
                Outcome.POSTED: f"posted {o.posts} posts: {where}",
                Outcome.ALREADY_POSTED: f"already on Bluesky: {where}",
                Outcome.WOULD_POST: f"would post {o.posts} posts",
                Outcome.WAITING: f"waiting; goes out at {_hhmm(o.due)}",
                Outcome.HELD: f"held for the editor: {o.error}",
            }.get(o.outcome, f"{o.outcome}: {o.error}" if o.error else o.outcome)
            lines.append(f"  {o.link}: {detail}")
        if not self.outcomes:
            lines.append("  nothing to post")
        if self.stopped:
            lines.append("  stopped early; the next pass goes on from here")
        return "\n".join(lines)


def _hhmm(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else "?"


def post_refs(thread: PostedThread, offset: int = 0) -> list[ThreadPost]:
    """The thread's posts at their places among the issue's posts (after `offset` earlier)."""
    return [ThreadPost(offset + p.place, p.address) for p in thread.posts]


def thread_roots(stored: StoredIssue, posts: Sequence[Any]) -> list[str]:
    """The root URI of each thread among an issue's recorded posts: place 0, and the post at
    each later part's deterministic root key."""
    first = next((p.rkey for p in posts if p.place == 0), None)
    if first is not None and is_tid(first):  # the keys were derived from it (Worker.keys)
        part_roots = {keys_from_root(first, 1, p)[0] for p in range(1, PARTS)}
    else:
        part_roots = {
            thread_keys(stored.guid, stored.keyed_at, 1, stored.generation, p)[0]
            for p in range(1, PARTS)
        }
    return [p.uri for p in posts if p.place == 0 or p.rkey in part_roots]
