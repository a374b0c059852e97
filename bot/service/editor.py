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
from shlex import quote
from typing import TYPE_CHECKING, Any

from bot.core.address import POST_COLLECTION, PostAddress, ThreadPost
from bot.core.model import Issue
from bot.core.plan import Asker, Plan, Rules, Step, plan
from bot.core.post import Thread, post_url
from bot.core.profile import Profile
from bot.errors import BotError
from bot.log import event, redact_url
from bot.service.outcomes import IssueOutcome, Outcome, thread_roots
from bot.service.posting import dry_outcome, known_of, record_issue
from bot.service.worker import Worker
from bot.settings import Settings
from bot.store.api import IssueState, Store, StoredIssue

if TYPE_CHECKING:
    from bot.cards import CardFetcher

logger = logging.getLogger(__name__)

_S = IssueState


def post_one(
    worker: Worker,
    *,
    entry: str | None = None,
    source: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    issue: Issue | None = None,
) -> tuple[Issue, IssueOutcome, list[Thread]]:
    """`post`: the issue with link (or guid) `entry`, else the newest, read from `source`
    (default FEED_URL; or `issue`, read already), posted now by `Worker.post_issue`, the
    decision the poll pass makes too (`force` and `dry_run` are its arguments). Returns the
    issue, the outcome and the composed thread(s). When it is not posted, the outcome's error
    says what the editor can do (a one-off `post` is not retried by itself)."""
    if issue is None:
        issue = read_issue(worker, entry, source)
    event(logger, "post.start", link=issue.link, force=force or None, dry_run=dry_run or None)
    threads = worker.compose(issue)
    by = Asker.FORCE if force else Asker.POST
    if dry_run:  # the plan, asked of what the store and account say
        stored = _stored(worker, issue)
        considered = worker.consider(stored, issue, by=by, threads=threads)
        return issue, dry_outcome(considered.plan, stored, issue), threads
    _ = worker.publisher  # no credentials: ConfigError now, before anything changes
    stored = _record(worker, issue)
    considered = worker.consider(stored, issue, by=by, threads=threads)
    outcome = worker.post_issue(stored, issue, force=force, threads=threads,
                                considered=considered)
    if outcome.outcome is Outcome.BUSY:
        holder = worker.store.issues.get(stored.id).claimed_by or "another worker"
        raise BotError(
            f"{issue.link} is being posted right now by {holder}; try again in a few minutes"
        )
    return issue, _what_now(outcome, issue.link), threads


def read_issue(worker: Worker, entry: str | None, source: str | None = None) -> Issue:
    """The issue with link (or guid) `entry`, else the newest, read from `source` (default
    FEED_URL)."""
    from bot.core.reader import parse_feed, pick_issue

    data, src = worker.read_feed(source)
    return pick_issue(parse_feed(data, worker.profile, source=src).issues, entry, src)


def approve(
    worker: Worker, entry: str, source: str | None = None, *, dry_run: bool = False,
    as_now: bool = False,
) -> tuple[Issue, IssueOutcome, list[Thread]]:
    """`approve`: an issue the review held is posted now, as the editor previewed it — the
    issue as it was when held — and never held again (if Bluesky fails now, the daemon posts it
    later without holding it). When the feed (`source`, default FEED_URL) has changed it since,
    BotError saying so, unless `as_now`: the feed's version is posted. BotError when the issue
    is not held."""
    store = worker.store
    found = store.issues.find_by_link(entry) or store.issues.find(worker.settings.feed_url, entry)
    if found is None:
        raise BotError(f"no issue with link {entry} in the database: nothing to approve")
    if found.state is not _S.HELD:
        raise BotError(
            f"{found.link} is {found.state.value}, not held: nothing to approve "
            "(`post --entry LINK` posts an issue now)"
        )
    issue = read_issue(worker, found.link, source)
    if found.held_hash and issue.content_hash != found.held_hash and not as_now:
        raise BotError(
            f"{found.link} has changed in the feed since it was held: nothing posted; "
            f"`preview --entry {found.link}` shows it as it is now, "
            f"`approve --entry {found.link} --as-now` posts that"
        )
    if dry_run:  # what approving would post, asked of the same plan; nothing written
        return post_one(worker, entry=found.link, dry_run=True, issue=issue)
    _ = worker.publisher  # no credentials: ConfigError now, before anything changes
    store.issues.approve(found.id)
    event(logger, "issue.approved", link=found.link, as_now=as_now or None)
    return post_one(worker, entry=found.link, issue=issue)


def preview_plans(
    settings: Settings,
    store: Store | None,
    profile: Profile,
    composed: Sequence[tuple[Issue, Sequence[Thread]]],
    fetcher: CardFetcher | None = None,
) -> list[Plan]:
    """What `preview` says the bot does with each issue: the plan, asked exactly as a dry
    `poll` asks it (Worker.consider) — of what the store knows (`store` None: no database yet,
    so the feed's first pass) and, with credentials, of what the account has. Writes nothing."""
    from bot.store.api import Store as OwnStore

    own = store is None
    if store is None:
        store = OwnStore("sqlite://", bot=settings.name)
        store.upgrade()
    try:
        with Worker(settings, store, profile=profile, dry_run=True, fetcher=fetcher) as worker:
            known = worker.known()
            plans = []
            for issue, threads in composed:
                stored = known.issues.get(issue.guid) or store.issues.find_by_link(issue.link)
                plans.append(worker.consider(stored, issue, threads=threads, known=known).plan)
            return plans
    finally:
        if own:
            store.close()


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


def _stored(worker: Worker, issue: Issue) -> StoredIssue | None:
    """The issue as stored under FEED_URL (None: not recorded)."""
    url = worker.settings.feed_url
    return worker.store.issues.find(url, issue.guid) or worker.store.issues.find_by_link(issue.link)


def _record(worker: Worker, issue: Issue) -> StoredIssue:
    """The issue as stored under FEED_URL (recorded as seen when new)."""
    found = _stored(worker, issue)
    if found is not None:
        return found
    return record_issue(worker.store, worker.settings.feed_url, issue,
                        now=worker._clock()).issue


def find_issue(
    settings: Settings, store: Store, link: str, source: str | None = None
) -> StoredIssue:
    """The stored issue with this link (or guid); one the store does not know yet is read from
    the feed `source` (the editor's --feed) and recorded as seen. Without `source` nothing is
    fetched: BotError at once, saying how to give the feed. BotError naming the link when the
    feed lacks it too."""
    found = store.issues.find_by_link(link) or store.issues.find(settings.feed_url, link)
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
    issue = store.issues.skip(find_issue(settings, store, link, source).id)
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
    issue = store.issues.retry(found.id)
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
    posts: list[ThreadPost] = []
    if uri is not None:
        try:
            address: PostAddress | None = PostAddress.parse(uri)
        except ValueError:
            address = None
        if address is None or not address.at.is_post:
            raise BotError(
                f"--uri {uri!r} is not a post's at:// URI like "
                f"at://did:plc:…/{POST_COLLECTION}/3l…"
            )
        posts = [ThreadPost(0, address)]
    issue = store.issues.mark_posted_by_hand(find_issue(settings, store, link, source).id, posts)
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
    Each row's `plan` is what the bot does with the issue (bot.core.plan, asked of what the
    store knows; the feed is not read): a queued issue in its bot's grace window (`post_delay`
    minutes, per bot) has its `due` time; one whose bot Bluesky refused says so."""
    from bot.core.profile import load_profile

    rows = []
    now = store.now()
    profile = load_profile()  # not asked: without the feed's content there is no review
    refused = {b.bot: b.auth_error for b in store.leases.heartbeats() if b.auth_error}
    for item in _one_per_issue(store.posts.recent(limit * 2, bots=bots))[:limit]:
        i = item.issue
        roots = thread_roots(i, item.posts)
        rules = Rules(post_delay=(post_delay or {}).get(i.bot, 0.0))
        known = dataclasses.replace(known_of(store, i), posted=tuple(roots))
        p = plan(None, known, profile, now, rules, in_feed=None)
        says = p.describe()
        if p.writes and i.bot in refused:
            says += f" once Bluesky accepts the credentials (refused: {refused[i.bot]})"
        waiting = p.due if p.step is Step.WAIT else None
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
                "due": waiting.isoformat() if waiting else None,
                "plan": says,
                "step": p.step.value,
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
