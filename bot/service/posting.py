"""Recording an issue read from the feed, and what a thread found on Bluesky means for it:
posted whole already (`whole_on_pds`), or its record keys anchored to the first thread a link
scan found (`anchored_keys`)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.bluesky.records import FoundBy, PostedThread
from bot.core.model import Issue
from bot.core.news import as_utc
from bot.core.post import Thread
from bot.core.rkey import is_tid, keys_from_root
from bot.store.api import IssueState, Store, Upserted


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


def whole_on_pds(found: PostedThread, threads: Sequence[Thread]) -> bool:
    """Whether the issue's thread(s) found on the PDS (`find_thread`) are all there is to post:
    a whole first thread by its root key when the issue is one thread; when the quick bites
    have a thread of their own, the second may be missing (a crash between the two), so
    `publish` checks each part. A thread found by a scan for the link (its keys unknown) is
    taken as the issue posted."""
    return found.found_by is FoundBy.LINK_SCAN or (found.complete and len(threads) == 1)


def anchored_keys(found: PostedThread, threads: Sequence[Thread]) -> list[list[str]] | None:
    """The keys of every thread of a two-part issue, anchored to its first thread as a link
    scan found it, when that thread is one the bot wrote (its keys in sequence from its
    root's). The issue's date or guid changed since it was written, so its keys now would be
    others; anchored, the second thread is completed instead of forgotten. None otherwise (a
    one-thread issue, or a post written by hand): the issue is then taken as posted."""
    if found.found_by is not FoundBy.LINK_SCAN or len(threads) < 2 or not found.posts:
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
