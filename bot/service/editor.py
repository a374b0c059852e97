"""What the editor does by hand: post one issue now, skip one, retry a failed one, mark one as
posted, and look at recent issues. Library functions the CLI calls (bot.cli.service);
posting goes through the same `Worker.post_issue` the poll pass uses, so it is exactly-once too.

An issue is found by its link (or guid) in the store; one the store has never seen is read from
the feed the editor names (--feed) and recorded first, so the editor can skip an issue before the
bot posts it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from shlex import quote
from typing import Any

from bot.core.model import Issue
from bot.core.post import Thread, post_url
from bot.errors import BotError
from bot.log import event, redact_url
from bot.service.outcomes import IssueOutcome, Outcome, thread_roots
from bot.service.posting import record_issue
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import IssueState, PostRef, Store, StoredIssue

logger = logging.getLogger(__name__)

_S = IssueState


def post_one(
    worker: Worker,
    *,
    entry: str | None = None,
    source: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> tuple[Issue, IssueOutcome, list[Thread]]:
    """`post`: the issue with link (or guid) `entry`, else the newest, read from `source`
    (default FEED_URL), posted now by `Worker.post_issue`, the decision the poll pass makes too
    (`force` and `dry_run` are its arguments). Returns the issue, the outcome and the composed
    thread(s). When it is not posted, the outcome's error says what the editor can do (a
    one-off `post` is not retried by itself)."""
    from bot.core.reader import parse_feed, pick_issue

    data, src = worker.read_feed(source)
    issue = pick_issue(parse_feed(data, worker.profile, source=src).issues, entry, src)
    event(logger, "post.start", link=issue.link, force=force or None, dry_run=dry_run or None)
    threads = worker.compose(issue)
    if dry_run:  # nothing recorded: a dry run writes nothing
        return issue, worker.post_issue(None, issue, dry_run=True, threads=threads), threads
    _ = worker.publisher  # no credentials: ConfigError now, before anything changes
    stored = _record(worker, issue)
    outcome = worker.post_issue(stored, issue, force=force, threads=threads)
    if outcome.outcome is Outcome.BUSY:
        holder = worker.store.issue(stored.id).claimed_by or "another worker"
        raise BotError(
            f"{issue.link} is being posted right now by {holder}; try again in a few minutes"
        )
    return issue, _what_now(outcome, issue.link), threads


def approve(
    worker: Worker, entry: str, source: str | None = None
) -> tuple[Issue, IssueOutcome, list[Thread]]:
    """`approve`: an issue the review held is posted now, as the bot composes it from the feed
    (`source`, default FEED_URL), and never held again (if Bluesky fails now, the daemon posts it
    later without holding it). BotError when the issue is not held."""
    store = worker.store
    found = store.find_by_link(entry) or store.find_issue(worker.settings.feed_url, entry)
    if found is None:
        raise BotError(f"no issue with link {entry} in the database: nothing to approve")
    if found.state is not _S.HELD:
        raise BotError(
            f"{found.link} is {found.state.value}, not held: nothing to approve "
            "(`post --entry LINK` posts an issue now)"
        )
    _ = worker.publisher  # no credentials: ConfigError now, before anything changes
    store.approve(found.id)
    event(logger, "issue.approved", link=found.link)
    return post_one(worker, entry=found.link, source=source)


def _what_now(outcome: IssueOutcome, link: str) -> IssueOutcome:
    """The outcome of a one-off `post` that did not post, its error ending with what the editor
    can do: a one-off `post` does not try again by itself."""
    # Bluesky's errors are worded for the daemon, whose next pass does try again.
    error = (outcome.error or "").removesuffix("; will try again later")
    if outcome.outcome is Outcome.DEFERRED:
        hint = f"run `post --entry {quote(link)}` again to complete it (a running bot also does)"
    elif outcome.outcome is Outcome.FAILED:
        hint = (
            f"`retry --entry {quote(link)}` queues it for the next poll, "
            f"or run `post --entry {quote(link)}` again"
        )
    else:
        return outcome
    return dataclasses.replace(outcome, error=f"{error}; {hint}")


def _record(worker: Worker, issue: Issue) -> StoredIssue:
    """The issue as stored under FEED_URL (recorded as seen when new)."""
    url = worker.settings.feed_url
    found = worker.store.find_issue(url, issue.guid) or worker.store.find_by_link(issue.link)
    if found is not None:
        return found
    return record_issue(worker.store, url, issue, now=worker._clock()).issue


def find_issue(
    settings: Settings, store: Store, link: str, source: str | None = None
) -> StoredIssue:
    """The stored issue with this link (or guid); one the store does not know yet is read from
    the feed `source` (the editor's --feed) and recorded as seen. Without `source` nothing is
    fetched: BotError at once, saying how to give the feed. BotError naming the link when the
    feed lacks it too."""
    found = store.find_by_link(link) or store.find_issue(settings.feed_url, link)
    if found is not None:
        return found
    if source is None:
        raise BotError(
            f"no issue with link {link} in the database; give --feed PATH|URL to read it from "
            "the feed"
        )
    from bot.core.profile import load_profile

    with Worker(settings, store, profile=load_profile(settings.bot_config)) as worker:
        from bot.core.reader import parse_feed, pick_issue

        data, src = worker.read_feed(source)
        issue = pick_issue(parse_feed(data, worker.profile, source=src).issues, link, src)
        return _record(worker, issue)


def skip(
    settings: Settings, store: Store, link: str, source: str | None = None
) -> StoredIssue:
    """The editor does not want this issue posted (seen/queued/failed → skipped)."""
    issue = store.skip(find_issue(settings, store, link, source).id)
    event(logger, "issue.skipped", link=issue.link)
    return issue


def retry(
    settings: Settings, store: Store, link: str, source: str | None = None
) -> StoredIssue:
    """Post a failed issue again on the next pass (failed → queued)."""
    found = find_issue(settings, store, link, source)
    if found.state is not _S.FAILED:
        raise BotError(
            f"{found.link} is {found.state.value}, not failed: nothing to retry "
            "(`post --entry LINK` posts an issue now)"
        )
    issue = store.retry(found.id)
    event(logger, "issue.retry", link=issue.link)
    return issue


def mark_posted(
    settings: Settings,
    store: Store,
    link: str,
    uri: str | None = None,
    source: str | None = None,
) -> StoredIssue:
    """The editor says this issue is on Bluesky (optionally at the post `uri`, an at:// URI of
    the thread's root): the bot will not post it."""
    posts: list[PostRef] = []
    if uri is not None:
        parts = uri.removeprefix("at://").split("/")
        if not uri.startswith("at://") or len(parts) != 3 or parts[1] != "app.bsky.feed.post":
            raise BotError(
                f"--uri {uri!r} is not a post's at:// URI like "
                "at://did:plc:…/app.bsky.feed.post/3l…"
            )
        posts = [PostRef(0, parts[2], uri)]
    issue = store.mark_posted_by_hand(find_issue(settings, store, link, source).id, posts)
    event(logger, "issue.marked_posted", link=issue.link, root=uri)
    return issue


def status_rows(
    store: Store,
    limit: int = 20,
    post_delay: Mapping[str, float] | None = None,
    bots: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Recent issues, newest first, as `status --json` prints them (no secrets in here), of
    every bot the store reads (or of `bots`), each with its bot and the feed it was read from.
    A queued issue in its bot's grace window (`post_delay` minutes, per bot) has its `due` time."""
    rows = []
    now = store.now()
    for item in _one_per_issue(store.recent(limit * 2, bots=bots))[:limit]:
        i = item.issue
        roots = thread_roots(i, item.posts)
        due = i.created_at + timedelta(minutes=(post_delay or {}).get(i.bot, 0.0))
        waiting = i.state is IssueState.QUEUED and due > now
        rows.append(
            {
                "bot": i.bot,
                "feed": redact_url(i.feed_url),  # a user:password@ or ?token= stays hidden
                "guid": i.guid,
                "link": i.link,
                "title": i.title,
                "published": i.published.isoformat() if i.published else None,
                "state": i.state.value,
                "posted_at": i.posted_at.isoformat() if i.posted_at else None,
                "error": i.error,
                "generation": i.generation,
                "posts": len(item.posts),
                "threads": [{"uri": r, "url": post_url(r)} for r in roots],
                "due": due.isoformat() if waiting else None,
            }
        )
    return rows


_FURTHEST = {IssueState.POSTED: 0, IssueState.POSTING: 1}  # the rest: 2


def _one_per_issue(items: Sequence[Any]) -> list[Any]:
    """One issue read from two addresses of its bot (`post --feed X` and FEED_URL) is two rows of
    the store with one guid or link: one issue, kept once (in the place of its newest row), as
    the row that got furthest (a posted one before its twin that is merely seen)."""
    groups: list[list[Any]] = []
    where: dict[tuple[str, str, str], int] = {}
    for item in items:
        i = item.issue
        keys = [(i.bot, "guid", i.guid), (i.bot, "link", i.link)]
        n = next((where[k] for k in keys if k in where), None)
        if n is None:
            n = len(groups)
            groups.append([])
        groups[n].append(item)
        for k in keys:
            where.setdefault(k, n)
    return [min(g, key=lambda it: _FURTHEST.get(it.issue.state, 2)) for g in groups]
