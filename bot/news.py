"""What is news: the state a new issue of the feed is recorded in, and recording it.

The rules (see bot.worker, step 3, for why): an issue published within the backfill window is
queued; on a feed's first pass (an empty store: first deployment or a wiped disk) an older one
is only recorded as seen, so nothing floods the account; later, a new issue newer than the
newest known is queued however old (a bot that was down for days catches up), and one older than
that is history.

And whether an issue found on Bluesky is already posted whole (`whole_on_pds`), or which record
keys its threads have when its first thread is found by its link (`anchored_keys`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.model import Issue
from bot.post import Thread
from bot.rkey import is_tid, keys_from_root
from bot.store import IssueState, Store, Upserted

if TYPE_CHECKING:
    from bot.bluesky_records import PostedThread

_S = IssueState


def decide(
    issue: Issue,
    *,
    first_run: bool,
    newest_known: datetime | None,
    now: datetime,
    backfill_hours: float,
) -> IssueState:
    """The state a NEW issue is recorded in (see the module docstring, step 3)."""
    published = issue.published
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    if published is not None and published >= now - timedelta(hours=backfill_hours):
        return _S.QUEUED
    if first_run:
        return _S.SEEN
    if published is None or newest_known is None or published > newest_known:
        return _S.QUEUED
    return _S.SEEN


def record_issue(
    store: Store, feed_url: str, issue: Issue, state: IssueState = IssueState.SEEN
) -> Upserted:
    """Record an issue read from the feed (new: in `state`; known: see Store.upsert_issue)."""
    return store.upsert_issue(
        feed_url,
        guid=issue.guid,
        link=issue.link,
        title=issue.title,
        published=as_utc(issue.published),
        content_hash=issue.content_hash,
        state=state,
    )


def as_utc(when: datetime | None) -> datetime | None:
    """`when` in UTC (a naive time is taken as UTC)."""
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def published_key(issue: Issue) -> datetime:
    """Sort key: the issue's date, undated issues first."""
    return as_utc(issue.published) or datetime.min.replace(tzinfo=UTC)


def whole_on_pds(found: PostedThread, threads: Sequence[Thread]) -> bool:
    """Whether the issue's thread(s) found on the PDS (`find_thread`) are all there is to post:
    a whole first thread by its root key when the issue is one thread; when the quick bites
    have a thread of their own, the second may be missing (a crash between the two), so
    `publish` checks each part. A thread found by a scan for the link (its keys unknown) is
    taken as the issue posted."""
    return found.found_by == "link_scan" or (found.complete and len(threads) == 1)


def anchored_keys(found: PostedThread, threads: Sequence[Thread]) -> list[list[str]] | None:
    """The keys of every thread of a two-part issue, anchored to its first thread as a link
    scan found it, when that thread is one the bot wrote (its keys in sequence from its
    root's). The issue's date or guid changed since it was written, so its keys now would be
    others; anchored, the second thread is completed instead of forgotten. None otherwise (a
    one-thread issue, or a post written by hand): the issue is then taken as posted."""
    if found.found_by != "link_scan" or len(threads) < 2 or not found.posts:
        return None
    root = found.posts[0].rkey
    try:
        if not is_tid(root) or [p.rkey for p in found.posts] != keys_from_root(
            root, len(found.posts)
        ):
            return None
        return [keys_from_root(root, len(t), part) for part, t in enumerate(threads)]
    except ValueError:  # more posts than one thread holds: not ours
        return None
