"""What the worker reports: each issue's outcome in a pass, the pass itself, and the Bluesky
addresses of a thread. Plain values; `poll`, `post` and `status` print them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.core.post import post_url
from bot.core.rkey import PARTS, is_tid, keys_from_root, thread_keys
from bot.store.api import PostRef, StoredIssue

if TYPE_CHECKING:
    from bot.bluesky.records import PostedThread


@dataclass(frozen=True)
class IssueOutcome:
    """What a pass did with one issue.

    outcome: posted | already_posted | failed | deferred | busy | would_post | gone."""

    link: str
    title: str
    outcome: str
    posts: int = 0
    roots: tuple[str, ...] = ()  # at:// URI of each thread's root
    error: str | None = None

    @property
    def urls(self) -> list[str]:
        """The bsky.app address of each thread."""
        return [post_url(u) for u in self.roots]

    @property
    def problem(self) -> bool:
        return self.outcome in ("failed", "deferred", "gone")


@dataclass
class PollResult:
    """A pass: how the feed answered, what was recorded, and each issue's outcome."""

    feed_url: str
    fetched: str = ""  # not_modified | fetched | read (a local file)
    in_feed: int = 0
    new: int = 0
    queued: int = 0
    outcomes: list[IssueOutcome] = field(default_factory=list)
    stopped: bool = False
    dry_run: bool = False

    @property
    def problems(self) -> list[IssueOutcome]:
        return [o for o in self.outcomes if o.problem]

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    def summary(self) -> str:
        """A few readable lines for `poll`."""
        if self.fetched == "not_modified":
            return f"feed {self.feed_url}: not modified; nothing to post"
        issues = "1 issue" if self.in_feed == 1 else f"{self.in_feed} issues"
        head = f"feed {self.feed_url}: {issues}, {self.new} new, {self.queued} queued"
        lines = [head + (" (dry run)" if self.dry_run else "")]
        for o in self.outcomes:
            where = " ".join(o.urls)
            detail = {
                "posted": f"posted {o.posts} posts: {where}",
                "already_posted": f"already on Bluesky: {where}",
                "would_post": f"would post {o.posts} posts",
            }.get(o.outcome, f"{o.outcome}: {o.error}" if o.error else o.outcome)
            lines.append(f"  {o.link}: {detail}")
        if not self.outcomes:
            lines.append("  nothing to post")
        if self.stopped:
            lines.append("  stopped early; the next pass goes on from here")
        return "\n".join(lines)


def post_refs(thread: PostedThread, offset: int = 0) -> list[PostRef]:
    return [PostRef(offset + p.place, p.rkey, p.uri, p.cid) for p in thread.posts]


def thread_roots(stored: StoredIssue, posts: Sequence[Any]) -> list[str]:
    """The root URI of each thread among an issue's recorded posts: place 0, and the post at
    each later part's deterministic root key."""
    first = next((p.rkey for p in posts if p.place == 0), None)
    if first is not None and is_tid(first):  # the keys were derived from it (Worker.keys)
        part_roots = {keys_from_root(first, 1, p)[0] for p in range(1, PARTS)}
    else:
        part_roots = {
            thread_keys(stored.guid, stored.published, 1, stored.generation, p)[0]
            for p in range(1, PARTS)
        }
    return [p.uri for p in posts if p.place == 0 or p.rkey in part_roots]
