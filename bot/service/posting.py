"""Posting one issue, exactly once: `IssuePoster.post_issue` is THE decision, made by the poll
pass for each queued issue and by the editor's `post` (bot.service.worker.Worker is an
IssuePoster). Also recording an issue read from the feed, and what a thread found on Bluesky
means for it: posted whole already (`whole_on_pds`), or its record keys anchored to the first
thread a link scan found (`anchored_keys`)."""

from __future__ import annotations

import abc
import functools
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Any

from bot.bluesky.records import FoundBy, PostedThread
from bot.core.address import ThreadPost
from bot.core.model import Issue
from bot.core.news import as_utc, sane_published
from bot.core.plan import Known, OnAccount, Plan, Step
from bot.core.post import Thread, post_url
from bot.core.rkey import is_tid, keys_from_root, thread_keys
from bot.errors import (
    AuthError,
    PublishError,
    RecordInvalid,
    Stopped,
    StoreConflict,
    ThreadError,
)
from bot.log import event
from bot.notify import Alert, Notifier
from bot.service.outcomes import IssueOutcome, Outcome, post_refs, thread_roots
from bot.settings import Settings
from bot.store.api import IssueState, Store, StoredIssue, StoredPost, Upserted

if TYPE_CHECKING:
    from bot.bluesky.gates import Gates
    from bot.bluesky.publisher import Publisher
    from bot.cards import CardFetcher
    from bot.core.profile import Profile

logger = logging.getLogger(__name__)
_S = IssueState


def record_issue(
    store: Store, feed_url: str, issue: Issue, state: IssueState = IssueState.SEEN,
    *, now: datetime | None = None, reason: str | None = None,
) -> Upserted:
    """Record an issue read from the feed (new: in `state`; known: see Issues.upsert). A
    date outside the sane window (the editor's commands read the feed themselves) is stored as
    the known one, or now (bot.core.news.sane_published)."""
    published, odd = sane_published(issue.published, now=now or datetime.now(UTC))
    if odd:  # rare: the stored date, when there is one, is kept
        known = store.issues.find(feed_url, issue.guid)
        published = known.published if known and known.published else published
    return store.issues.upsert(
        feed_url,
        guid=issue.guid,
        link=issue.link,
        title=issue.title,
        published=published,
        content_hash=issue.content_hash,
        state=state,
        reason=reason,
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


@dataclass(frozen=True)
class Considered:
    """The plan for an issue (bot.core.plan) and what was read to make it: the composed
    threads, and the thread the PDS found (`asked`: the PDS was asked, so `found` — None or a
    thread — is its answer and is not asked again in this pass). `error`: it cannot be
    composed."""

    plan: Plan
    threads: Sequence[Thread] | None = None
    found: PostedThread | None = None
    asked: bool = False
    error: str | None = None
    fresh: bool = False  # first recorded in this pass: it has no post rows


_DRY = {
    Step.POST: Outcome.WOULD_POST,
    Step.ANNOUNCE: Outcome.WOULD_POST,
    Step.COMPLETE: Outcome.WOULD_POST,
    Step.WAIT: Outcome.WAITING,
    Step.HOLD: Outcome.HELD,
    Step.ALREADY_POSTED: Outcome.ALREADY_POSTED,
    Step.GONE: Outcome.GONE,
    Step.IGNORE: Outcome.IGNORED,
}


def dry_outcome(plan: Plan, stored: StoredIssue | None, issue: Issue | None) -> IssueOutcome:
    """What a dry run reports: the plan, as the outcome the real command would have."""
    link = issue.link if issue is not None else stored.link if stored is not None else ""
    title = issue.title if issue is not None else stored.title if stored is not None else ""
    outcome = _DRY[plan.step]
    error = plan.reason if outcome is not Outcome.WOULD_POST else None
    return IssueOutcome(link, title, outcome, plan.posts or 0, plan.where, error=error,
                        due=plan.due, plan=plan.describe())


def known_of(store: Store, stored: StoredIssue | None, *, first_run: bool = False,
             newest_known: datetime | None = None,
             on_account: OnAccount | None = None) -> Known:
    """What the store knows of an issue, as the plan (bot.core.plan) takes it; for an issue
    it has not recorded, whether its feed is new to it (`first_run`) and its newest issue."""
    if stored is None:
        return Known(first_run=first_run, newest_known=newest_known, on_account=on_account)
    roots: tuple[str, ...] = ()
    if stored.state is _S.POSTED:
        roots = tuple(thread_roots(stored, store.posts.of(stored.id)))
    return Known(state=stored.state, first_seen=stored.created_at, approved=stored.approved,
                 left_feed=stored.left_feed, error=stored.error, posted=roots,
                 on_account=on_account)


@functools.cache
def this_machine() -> str:
    """Which kernel and process namespace this process runs in: the boot id and the PID
    namespace, hashed. Containers share a host name and PIDs often (every container's first
    process is PID 1); they never share a PID namespace, so a PID is only looked up where it
    means the same process."""
    parts = []
    for read, path in ((Path.read_text, "/proc/sys/kernel/random/boot_id"),
                       (os.readlink, "/proc/self/ns/pid")):
        try:
            parts.append(str(read(Path(path))))
        except OSError:
            parts.append("?")
    if parts == ["?", "?"]:  # no /proc: nothing to tell another process by
        return "unknown"
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def process_id(pid: int | None = None) -> str:
    """How a claim, lease or daemon row names its holder: host:pid:token:machine. The random
    token tells two holders with the same host and PID apart (a restarted container), the
    machine part says where the PID can be checked (`holder_gone`)."""
    return (f"{socket.gethostname()}:{os.getpid() if pid is None else pid}:"
            f"{secrets.token_hex(3)}:{this_machine()}")


def holder_gone(holder: str | None, me: str) -> bool:
    """Whether `holder` (process_id()) was a process of this host and PID namespace that no
    longer runs, so its claim or lease can be taken at once instead of when it runs out. A
    holder named otherwise (another container with the same host name, an older release) is
    waited for. A pid that was reused only means waiting for the lease; a wrong guess is still
    safe: a thread's record keys are fixed and the PDS refuses a key twice."""
    host, pid, _token, machine = ((holder or "").split(":") + ["", "", "", ""])[:4]
    if (host != socket.gethostname() or machine != this_machine() or machine == "unknown"
            or not pid.isdigit() or holder == me):
        return False
    try:
        os.kill(int(pid), 0)
        return False  # alive (or not ours to signal): it holds the claim
    except ProcessLookupError:
        return True
    except OSError:
        return False


class IssuePoster(abc.ABC):
    """The posting half of bot.service.worker.Worker (see the module docstring)."""

    settings: Settings
    store: Store
    profile: Profile
    worker_id: str
    lease_seconds: float
    notifier: Notifier

    @property
    @abc.abstractmethod
    def publisher(self) -> Publisher:
        """The Worker's Bluesky publisher, signed in on first use."""

    @property
    @abc.abstractmethod
    def fetcher(self) -> CardFetcher:
        """The Worker's card fetcher."""

    # -- posting one issue ----------------------------------------------------------------------

    def compose(self, issue: Issue) -> list[Thread]:
        """The thread(s) for `issue`, with its cards as CARDS says (bot.cards.thread): each
        card's page fetched where it can be, the feed's data where it cannot."""
        from bot.cards import compose_with_cards

        fetcher = self.fetcher if self.settings.cards != "off" else None
        return compose_with_cards(issue, self.profile, fetcher, self.settings.cards)

    def keys_for(
        self, stored: StoredIssue | None, issue: Issue, threads: Sequence[Thread],
        recorded: Sequence[StoredPost] | None = None,
    ) -> list[list[str]]:
        """`keys`, also for an issue the store has not recorded (a dry run): generation 0."""
        if stored is not None:
            return self.keys(stored, threads, recorded)
        # The date it would be recorded with (record_issue): its keys' date.
        published, _ = sane_published(issue.published, now=datetime.now(UTC))
        return [thread_keys(issue.guid, published, len(t), 0, part)
                for part, t in enumerate(threads)]

    def keys(self, stored: StoredIssue, threads: Sequence[Thread],
             recorded: Sequence[StoredPost] | None = None) -> list[list[str]]:
        """Record keys per thread (part = the thread's index); those of a thread with posts on
        record (`recorded`, read from the store when not given) follow from its recorded first
        key (bot.core.rkey.keys_from_root)."""
        posts = self.store.posts.of(stored.id) if recorded is None else recorded
        root = next((p.rkey for p in posts if p.place == 0), None)
        if root is not None and is_tid(root):
            return [keys_from_root(root, len(t), part) for part, t in enumerate(threads)]
        return [
            thread_keys(stored.guid, stored.keyed_at, len(t), stored.generation, part)
            for part, t in enumerate(threads)
        ]

    def post_issue(
        self,
        stored: StoredIssue,
        issue: Issue,
        *,
        force: bool = False,
        threads: Sequence[Thread] | None = None,
        considered: Considered | None = None,
    ) -> IssueOutcome:
        """Post one issue now, exactly once: THE decision, made by the poll pass for each queued
        issue and by the editor's `post` for the issue it names (docs/how-it-works.md, step 4).

        Not posted again when it is on the account already: per the store (posted), or, before
        its first thread is recorded, per the PDS (its root key, or a post linking to it). A
        thread found half-written is completed. An issue the editor names may be in any state:
        seen, skipped and failed ones are queued first. `force`: a new thread (generation + 1,
        new record keys), except that an interrupted post (still posting) is completed.
        `threads`: the issue composed already, if the caller has it; `considered`: the plan the
        caller asked (Worker.consider), whose PDS answer is used instead of asking again. Raises
        AuthError and StoreError; other trouble is the returned outcome."""
        link = issue.link
        ready = self._ready_to_post(stored, issue, force)
        if isinstance(ready, IssueOutcome):
            return ready
        stored = ready
        self._free_dead_claim(stored)
        moved = self.store.issues.claim_posting(stored.id, self.worker_id, self.lease_seconds)
        if moved is None:
            event(logger, "issue.busy", link=link, note="another worker holds its claim")
            return IssueOutcome(link, issue.title, Outcome.BUSY, error="claimed by another worker")
        stored = moved
        try:
            if threads is None:
                try:
                    threads = self.compose(issue)
                except ThreadError as exc:
                    return self._failed(stored, issue, str(exc))
            fresh = considered is not None and considered.fresh
            recorded_posts = [] if fresh else self.store.posts.of(stored.id)
            keys = self.keys(stored, threads, recorded_posts)
            gates, pin = self._thread_settings(stored)
            total = sum(len(t) for t in threads)
            event(
                logger,
                "issue.posting",
                link=link,
                threads=len(threads),
                posts=total,
                generation=stored.generation or None,
            )
            if stored.generation == 0 and not recorded_posts:
                if considered is not None and considered.asked:
                    found = considered.found  # asked once in this pass, not again
                else:
                    found = self.publisher.find_thread(link, keys[0])
                anchored = anchored_keys(found, threads) if found is not None else None
                if anchored is not None:
                    keys = anchored
                elif found is not None and whole_on_pds(found, threads):
                    if pin and found.found_by is FoundBy.ROOT_KEY:
                        # Written before a crash (or a lost database), never pinned: pinned now
                        # (a thread already pinned costs one read, no write).
                        self.publisher.pin_thread(found, link)
                    return self._posted(stored, issue, [found], already=True)
            # The PDS was asked in this pass and has nothing of it: publish need not ask again.
            absent = considered is not None and considered.asked and found is None
            posted: list[PostedThread] = []
            offset = recorded = 0
            for part, thread in enumerate(threads):
                if part and not self.store.issues.claim(stored.id, self.worker_id,
                                                        self.lease_seconds):
                    raise PublishError(f"{link}: lost the claim to another worker")
                thumbs = self._thumbs(thread)
                done = self.publisher.publish(thread, keys[part], thumbs, link=link,
                                              gates=gates, pin=pin and part == 0,
                                              absent=absent and part == 0)
                if part < len(threads) - 1:  # a crash before the next part keeps this one's rows
                    self.store.posts.record(stored.id, post_refs(done, offset))
                    recorded = offset + len(thread)
                offset += len(thread)
                posted.append(done)
            return self._posted(stored, issue, posted, already=sum(p.written for p in posted) == 0,
                                recorded=recorded)
        except RecordInvalid as exc:
            return self._failed(stored, issue, str(exc))
        except AuthError:
            if stored.state is _S.POSTING and not self.store.posts.of(stored.id):
                # Nothing written: queued again, not left looking like an interrupted post.
                self.store.issues.requeue(stored.id, self.worker_id)
            else:
                self.store.issues.release(stored.id, self.worker_id)
            raise
        except Stopped:
            self.store.issues.release(stored.id, self.worker_id)
            event(logger, "issue.left", link=link, note="stopping; the next pass completes it")
            raise
        except PublishError as exc:
            self.store.issues.release(stored.id, self.worker_id)
            event(logger, "issue.deferred", logging.WARNING, link=link, error=str(exc))
            return IssueOutcome(link, issue.title, Outcome.DEFERRED, error=str(exc))

    def _ready_to_post(
        self, stored: StoredIssue, issue: Issue, force: bool
    ) -> StoredIssue | IssueOutcome:
        """The issue queued (or still posting) to be posted now; or, when the store says it is
        posted and `force` is not given, the outcome saying where it is. Only an issue the
        editor names can be in a state other than queued or posting."""
        state = stored.state
        if state is _S.POSTING:
            # An interrupted post is completed, also under --force: a new thread beside one
            # that may be whole would be a second copy.
            return stored
        if force:
            return self.store.issues.repost(stored.id)
        if state is _S.POSTED:
            posts = self.store.posts.of(stored.id)
            roots = tuple(thread_roots(stored, posts))
            return IssueOutcome(issue.link, issue.title, Outcome.ALREADY_POSTED, len(posts), roots)
        if state is _S.FAILED:
            return self.store.issues.retry(stored.id)
        if state is _S.HELD:  # the editor posts it by hand: that is an approval
            return self.store.issues.approve(stored.id)
        if state is _S.SKIPPED:
            stored = self.store.issues.mark_seen(stored.id)
        if stored.state is _S.SEEN:
            return self.store.issues.queue(stored.id)
        return stored

    def _free_dead_claim(self, stored: StoredIssue) -> None:
        """Release a claim whose holder process is gone from this host (killed mid-post), so
        its thread is completed now instead of when its lease runs out (`holder_gone`)."""
        holder = stored.claimed_by
        if (holder and holder_gone(holder, self.worker_id)
                and self.store.issues.release(stored.id, holder)):
            event(logger, "issue.claim_freed", link=stored.link, holder=holder,
                  note="its process is gone")

    def _thread_settings(self, stored: StoredIssue) -> tuple[Gates, bool]:
        """Who may reply and quote (the profile), and whether the root becomes the pinned post:
        with `pin_latest`, unless an issue published later is posted already (an old issue
        posted by hand leaves the newest one pinned)."""
        from bot.bluesky.gates import Gates

        def when(published: datetime | None) -> datetime:
            return as_utc(published) or datetime.min.replace(tzinfo=UTC)

        pin = self.profile.thread.pin_latest and not any(
            when(s.published) > when(stored.published)
            for s in self.store.issues.all((_S.POSTED,), feed_url=stored.feed_url)
            if s.id != stored.id
        )
        return Gates.of(self.profile.thread), pin

    def _thumbs(self, thread: Thread) -> dict[str, Any]:
        """The thread's card pictures, fetched side by side, each address once."""
        return dict(self.fetcher.thumbs(p.card.thumb_url for p in thread if p.card))

    def _posted(
        self, stored: StoredIssue, issue: Issue, threads: Sequence[PostedThread], *, already: bool,
        recorded: int = 0,
    ) -> IssueOutcome:
        """posting → posted under the claim, with the rows of the posts not `recorded` yet
        (each post row is written once)."""
        refs: list[ThreadPost] = []
        for t in threads:
            refs.extend(post_refs(t, len(refs)))
        try:
            self.store.issues.mark_posted(stored.id, refs[recorded:], self.worker_id)
        except StoreConflict:
            if self.store.issues.get(stored.id).state is not _S.POSTED:
                raise  # someone moved it elsewhere meanwhile: say so
        roots = tuple(t.root_uri for t in threads)
        if already:
            event(
                logger,
                "issue.already_posted",
                link=issue.link,
                posts=len(refs),
                root=roots[0],
                by=threads[0].found_by,
            )
        else:
            for part, t in enumerate(threads):
                event(
                    logger,
                    "thread.posted",
                    link=issue.link,
                    posts=len(t.posts),
                    root=t.root_uri,
                    part=part if len(threads) > 1 else None,
                )
        if not already:
            where = " ".join(post_url(r) for r in roots)
            self.notifier.send(Alert.POSTED, f"Posted {issue.title}: {where}", issue.link)
        return IssueOutcome(
            issue.link,
            issue.title,
            Outcome.ALREADY_POSTED if already else Outcome.POSTED,
            len(refs),
            roots,
        )

    def _failed(self, stored: StoredIssue, issue: Issue, error: str) -> IssueOutcome:
        self.store.issues.mark_failed(stored.id, error, worker_id=self.worker_id)
        event(logger, "issue.failed", logging.ERROR, link=issue.link, error=error)
        self.notifier.send(
            Alert.FAILED,
            f"Could not post {issue.title} ({issue.link}): {error}. "
            f"`retry --entry {quote(issue.link)}` queues it again.",
            issue.link,
        )
        return IssueOutcome(issue.link, issue.title, Outcome.FAILED, error=error)
