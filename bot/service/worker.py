"""One poll pass: the ONE place that orchestrates fetch → decide what is new → compose → publish
→ record. The daemon (bot.service.daemon) and the CLI (bot.cli.service) both call `Worker`; neither
has logic of its own.

A pass, and why each step is the way it is:

1. Feed state from the store. When issues of this feed are still queued or half-posted, the
   feed is fetched unconditionally (a 304 carries no body, and a queued issue needs its content
   to be composed); otherwise a conditional GET with the stored ETag/Last-Modified. A local
   FEED_URL path is simply read.
2. 304: the check is recorded and the pass ends. No Bluesky sign-in, no PDS request: the
   publisher is created lazily, on the first issue to post.
3. The feed is parsed and every issue recorded, NEWEST first (an upsert; unchanged known issues
   are not written at all). A new issue is queued when it was published within the backfill
   window (BACKFILL_HOURS, 48 h); otherwise, on the feed's first pass (no issue of this feed
   in the store: first deployment or a wiped disk) it is only recorded as seen — no flood. Later
   a new issue is queued even when old (a bot that was down for days must not miss issues)
   unless it is older than the newest issue already known, which is history, not news.
   Why newest first, and "newest known": two first passes racing on one empty database then
   agree — the second sees the newest issue recorded and treats older unknown ones as history.
   An edited issue (same guid, new content) keeps its state; the store logs `issue.edited`.
4. Each queued/posting issue present in the feed, oldest first: claim (a lease in the database,
   renewed before each thread) → posting → compose (the issue page's card, fetched and cached
   under data/cache; the feed's data when offline) → record keys (bot.core.rkey.thread_keys; part =
   the thread's index when quick bites go in a thread of their own; places in the store are
   numbered continuously across parts) → when no post is recorded yet and this is the issue's
   first thread (generation 0), `find_thread` asks the PDS (root key, then a scan for the link):
   a lost database never posts twice → `publish` (completes a partial thread itself) → posted.
   RecordInvalid or an issue that cannot be composed: failed, with the message; the pass goes on.
   AuthError: the pass stops with one clear error (issues stay queued). Other publish trouble:
   the claim is released, the issue left for the next pass, and no further issue is tried in
   this pass (the PDS is unwell).
5. Queued issues no longer in the feed cannot be composed: marked failed, saying so; one that
   comes back to the feed (a glitch, or unpublished and published again) is queued again.
6. Validators are saved only after the feed was processed.

`stop()` (or `should_stop`) is checked between issues; a thread being written is finished
first, except while waiting out a backoff, which ends at once (the next pass completes it).

Without credentials (settings.dry_run) a pass composes what it would post, logs
"dry run: would post <link> (N posts)", and changes nothing: no Bluesky, no store writes.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.core.model import Issue
from bot.core.news import as_utc, decide, published_key
from bot.core.post import Thread
from bot.core.rkey import is_tid, keys_from_root, thread_keys
from bot.errors import AuthError, ConfigError, PublishError, RecordInvalid, StoreError, ThreadError
from bot.log import event
from bot.service.outcomes import IssueOutcome, PollResult, post_refs
from bot.service.posting import anchored_keys, record_issue, whole_on_pds
from bot.settings import Settings, card_cache_dir
from bot.store.api import IssueState, PostRef, Store, StoredIssue

if TYPE_CHECKING:
    import httpx

    from bot.bluesky.publisher import Publisher
    from bot.bluesky.records import PostedThread
    from bot.cards import CardFetcher
    from bot.core.profile import Profile

logger = logging.getLogger(__name__)

_S = IssueState
_PENDING = (_S.QUEUED, _S.POSTING)
LEASE_SECONDS = 600.0
GONE = (
    "it is no longer in the feed (unpublished?); it is queued again if it comes back; "
    "`post --entry LINK --feed FILE` posts it from a saved copy of the feed"
)


class Stopped(Exception):
    """A stop was requested while waiting (a backoff); the pass ends, the next one resumes."""


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


class Worker:
    """Polls one feed and posts its new issues (see the module docstring).

    One Worker may serve many passes (the daemon keeps one: its Bluesky session and HTTP
    clients are reused). `publisher`/`fetcher` may be given (tests); otherwise they are made
    from the settings when first needed. Call `close()` at the end."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        profile: Profile | None = None,
        publisher: Publisher | None = None,
        fetcher: CardFetcher | None = None,
        cache_dir: Path | None = None,
        worker_id: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        feed_transport: httpx.BaseTransport | None = None,
        feed_options: dict[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from bot.core.profile import load_profile

        self.settings = settings
        self.store = store
        self.profile = profile or load_profile(settings.bot_config)
        self.worker_id = worker_id or (
            f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        )
        self.lease_seconds = lease_seconds
        self._publisher = publisher
        self._own_publisher = publisher is None
        self._fetcher = fetcher
        self._own_fetcher = fetcher is None
        self._cache_dir = cache_dir
        self._feed_transport = feed_transport
        self._feed_options = dict(feed_options or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._validators: Any = None  # of the 200 being processed; saved at the end of a pass

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the running pass to stop after the thread it is writing (and end any backoff)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        if self._publisher is not None and self._own_publisher:
            self._publisher.close()
            self._publisher = None
        if self._fetcher is not None and self._own_fetcher:
            self._fetcher.close()
            self._fetcher = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sleep(self, seconds: float) -> None:
        """Backoff waits that end at once when a stop is asked."""
        if self._stop.wait(seconds):
            raise Stopped()

    @property
    def publisher(self) -> Publisher:
        """The Bluesky publisher, signed in on first use (never for a 304 pass)."""
        if self._publisher is None:
            if self.settings.dry_run:
                raise ConfigError(
                    "BSKY_HANDLE and BSKY_APP_PASSWORD are needed to post (or use a dry run)"
                )
            from bot.bluesky.connection import Connection
            from bot.bluesky.publisher import Publisher

            sessions = self.store.session_keeper(
                self.settings.bsky_handle or "", self.settings.bsky_service
            )
            self._publisher = Publisher(
                Connection.from_settings(self.settings, sessions, sleep=self._sleep)
            )
        return self._publisher

    @property
    def fetcher(self) -> CardFetcher:
        if self._fetcher is None:
            from bot.cards import CardFetcher

            # A dry run writes nothing, not even the card cache.
            cache = None if self.settings.dry_run else card_cache_dir(self.settings)
            self._fetcher = CardFetcher(self._cache_dir or cache,
                                        allow_private=self.settings.cards_allow_private)
        return self._fetcher

    # -- the feed -------------------------------------------------------------------------------

    def read_feed(self, source: str | None = None) -> tuple[bytes, str]:
        """The feed's bytes, unconditionally, from `source` (default FEED_URL): (bytes, source)."""
        from bot.feed import read_source

        source = source or self.settings.feed_url
        kwargs: dict[str, Any] = dict(self._feed_options)
        if is_url(source):
            kwargs.setdefault("sleep", self._sleep)
            if self._feed_transport is not None:
                kwargs["transport"] = self._feed_transport
        return read_source(source, **kwargs), source

    def _fetch(self, result: PollResult) -> bytes | None:
        """The feed body, or None on 304. Validators are returned to be saved later."""
        from bot.feed import Validators, fetch_feed

        url = self.settings.feed_url
        if not is_url(url):
            result.fetched = "read"
            return self.read_feed(url)[0]
        state = self.store.feed(url)
        validators: Validators | None = Validators(state.etag, state.last_modified)
        pending = self.store.issues(_PENDING, feed_url=url)
        if pending:  # their content is needed: a 304 would not carry it
            event(logger, "feed.refetch", url=url, pending=len(pending))
            validators = None
        kwargs: dict[str, Any] = {"sleep": self._sleep, **self._feed_options}
        if self._feed_transport is not None:
            kwargs["transport"] = self._feed_transport
        try:
            fetched = fetch_feed(url, validators, **kwargs)
        except Exception as exc:
            if not self.settings.dry_run and not isinstance(exc, Stopped):
                self.store.record_check(url, f"failed: {exc}")
            raise
        if fetched.not_modified:
            result.fetched = "not_modified"
            if not self.settings.dry_run:
                self.store.record_check(url, "not_modified")
            return None
        result.fetched = "fetched"
        self._validators = fetched.validators
        return fetched.body or b""

    # -- one pass -------------------------------------------------------------------------------

    def poll(self, should_stop: Callable[[], bool] | None = None) -> PollResult:
        """One pass (see the module docstring). Raises FeedError, AuthError or StoreError (one
        line each); problems with single issues are in the result instead."""
        from bot.core.reader import parse_feed

        def stopping() -> bool:
            return self._stop.is_set() or bool(should_stop and should_stop())

        url = self.settings.feed_url
        result = PollResult(feed_url=url, dry_run=self.settings.dry_run)
        self._validators = None
        self.store.reopen_if_lost()  # a database deleted since the last pass: a fresh start
        try:
            body = self._fetch(result)
        except Stopped:
            result.stopped = True
            return result
        if body is None:
            return result
        feed = parse_feed(body, self.profile, source=url)
        result.in_feed = len(feed.issues)
        if self.settings.dry_run:
            return self._dry_pass(feed.issues, result)
        self._record(feed.issues, result)
        in_feed = {i.guid: i for i in feed.issues}
        for s in self.store.issues(_PENDING, feed_url=url):  # oldest first
            if stopping():
                result.stopped = True
                break
            issue = in_feed.get(s.guid)
            if issue is None:
                result.outcomes.append(self._gone(s))
                continue
            try:
                outcome = self.post_issue(s, issue)
            except Stopped:
                result.stopped = True
                break
            result.outcomes.append(outcome)
            if outcome.outcome == "deferred":
                break  # the PDS is unwell: the others wait for the next pass too
        if self._validators is not None and not result.stopped:
            v = self._validators
            self.store.save_validators(url, v.etag, v.last_modified)
        if result.fetched == "fetched":
            problems = len(result.problems)
            self.store.record_check(
                url, f"processed, {problems} problems" if problems else "processed"
            )
        return result

    def _record(self, issues: Sequence[Issue], result: PollResult) -> None:
        """Record the feed's issues, newest first (unchanged known ones are not written)."""
        url = self.settings.feed_url
        known = {s.guid: s for s in self.store.issues(feed_url=url)}
        first_run = not known
        newest = max((s.published for s in known.values() if s.published), default=None)
        now = self._clock()
        for issue in sorted(issues, key=published_key, reverse=True):
            old = known.get(issue.guid)
            if old is not None and old.state is _S.FAILED and old.error == GONE:
                # It had left the feed (a glitch, or unpublished and published again): it was
                # never posted, so it is news again.
                self.store.retry(old.id)
                event(logger, "issue.back", link=issue.link, note="in the feed again; queued")
            if old is not None and (old.content_hash, old.link, old.title, old.published) == (
                issue.content_hash,
                issue.link,
                issue.title,
                as_utc(issue.published),
            ):
                continue
            state = decide(
                issue,
                first_run=first_run,
                newest_known=newest,
                now=now,
                backfill_hours=self.settings.backfill_hours,
            )
            up = record_issue(self.store, url, issue, state)
            if up.created:
                result.new += 1
                result.queued += up.issue.state is _S.QUEUED
                event(
                    logger,
                    "issue.recorded",
                    link=issue.link,
                    state=up.issue.state.value,
                    first_run=first_run or None,
                )

    def _dry_pass(self, issues: Sequence[Issue], result: PollResult) -> PollResult:
        """What a pass would post, without writing anything anywhere."""
        url = self.settings.feed_url
        known = {s.guid: s for s in self.store.issues(feed_url=url)}
        newest = max((s.published for s in known.values() if s.published), default=None)
        now = self._clock()
        for issue in sorted(issues, key=published_key):
            old = known.get(issue.guid)
            if old is None:
                state = decide(
                    issue,
                    first_run=not known,
                    newest_known=newest,
                    now=now,
                    backfill_hours=self.settings.backfill_hours,
                )
                result.new += 1
                result.queued += state is _S.QUEUED
            else:
                state = _S.QUEUED if (old.state, old.error) == (_S.FAILED, GONE) else old.state
            if state not in _PENDING:
                continue
            threads = self.compose(issue)
            n = sum(len(t) for t in threads)
            logger.info("dry run: would post %s (%d posts)", issue.link, n)
            result.outcomes.append(IssueOutcome(issue.link, issue.title, "would_post", n))
        return result

    def _gone(self, s: StoredIssue) -> IssueOutcome:
        """A queued issue that left the feed: it cannot be composed any more."""
        error = GONE
        if self.store.claim(s.id, self.worker_id, self.lease_seconds):
            self.store.mark_failed(s.id, error)
            event(logger, "issue.gone", logging.WARNING, link=s.link)
            return IssueOutcome(s.link, s.title, "gone", error=error)
        return IssueOutcome(s.link, s.title, "busy", error="claimed by another worker")

    # -- posting one issue ----------------------------------------------------------------------

    def compose(self, issue: Issue) -> list[Thread]:
        """The thread(s) for `issue`, with its cards as CARDS says (bot.cards.thread): each
        card's page fetched where it can be, the feed's data where it cannot."""
        from bot.cards import compose_with_cards

        fetcher = self.fetcher if self.settings.cards != "off" else None
        return compose_with_cards(issue, self.profile, fetcher, self.settings.cards)

    def keys(self, stored: StoredIssue, threads: Sequence[Thread]) -> list[list[str]]:
        """Record keys per thread (part = the thread's index); those of a thread with posts on
        record follow from its recorded first key (bot.core.rkey.keys_from_root)."""
        root = next((p.rkey for p in self.store.posts(stored.id) if p.place == 0), None)
        if root is not None and is_tid(root):
            return [keys_from_root(root, len(t), part) for part, t in enumerate(threads)]
        return [
            thread_keys(stored.guid, stored.published, len(t), stored.generation, part)
            for part, t in enumerate(threads)
        ]

    def post_issue(
        self, stored: StoredIssue, issue: Issue, *, check_pds: bool = True
    ) -> IssueOutcome:
        """Post one queued/posting issue now, exactly once (see the module docstring, step 4).
        Raises AuthError and StoreError; other trouble is the returned outcome. `check_pds`:
        False when the caller has just asked the PDS itself."""
        link = issue.link
        self._free_dead_claim(stored)
        if not self.store.claim(stored.id, self.worker_id, self.lease_seconds):
            event(logger, "issue.busy", link=link, note="another worker holds its claim")
            return IssueOutcome(link, issue.title, "busy", error="claimed by another worker")
        try:
            stored = self.store.mark_posting(stored.id, self.worker_id)
            try:
                threads = self.compose(issue)
            except ThreadError as exc:
                return self._failed(stored, issue, str(exc))
            keys = self.keys(stored, threads)
            total = sum(len(t) for t in threads)
            event(
                logger,
                "issue.posting",
                link=link,
                threads=len(threads),
                posts=total,
                generation=stored.generation or None,
            )
            if check_pds and stored.generation == 0 and not self.store.posts(stored.id):
                found = self.publisher.find_thread(link, keys[0])
                anchored = anchored_keys(found, threads) if found is not None else None
                if anchored is not None:
                    keys = anchored
                elif found is not None and whole_on_pds(found, threads):
                    return self._posted(stored, issue, [found], already=True)
            posted: list[PostedThread] = []
            offset = 0
            for part, thread in enumerate(threads):
                if not self.store.claim(stored.id, self.worker_id, self.lease_seconds):
                    raise PublishError(f"{link}: lost the claim to another worker")
                thumbs = self._thumbs(thread)
                done = self.publisher.publish(thread, keys[part], thumbs, link=link)
                self.store.record_posts(stored.id, post_refs(done, offset))
                offset += len(thread)
                posted.append(done)
            return self._posted(stored, issue, posted, already=sum(p.written for p in posted) == 0)
        except RecordInvalid as exc:
            return self._failed(stored, issue, str(exc))
        except AuthError:
            self.store.release(stored.id, self.worker_id)
            raise
        except Stopped:
            self.store.release(stored.id, self.worker_id)
            event(logger, "issue.left", link=link, note="stopping; the next pass completes it")
            raise
        except PublishError as exc:
            self.store.release(stored.id, self.worker_id)
            event(logger, "issue.deferred", logging.WARNING, link=link, error=str(exc))
            return IssueOutcome(link, issue.title, "deferred", error=str(exc))

    def _free_dead_claim(self, stored: StoredIssue) -> None:
        """Release a claim whose holder was a process on this host that no longer runs (killed
        mid-post), so its thread is completed now instead of when its lease runs out. A pid that
        was reused only means waiting for the lease; a wrong guess is still safe, because a
        thread's record keys are fixed and the PDS refuses a key twice."""
        holder = stored.claimed_by or ""
        host, _, rest = holder.partition(":")
        pid = rest.partition(":")[0]
        if host != socket.gethostname() or not pid.isdigit() or holder == self.worker_id:
            return
        try:
            os.kill(int(pid), 0)
            return  # alive (or not ours to signal): it holds the claim
        except ProcessLookupError:
            pass
        except OSError:
            return
        if self.store.release(stored.id, holder):
            event(logger, "issue.claim_freed", link=stored.link, holder=holder,
                  note="its process is gone")

    def _thumbs(self, thread: Thread) -> dict[str, Any]:
        """The thread's card pictures, fetched side by side, each address once."""
        return dict(self.fetcher.thumbs(p.card.thumb_url for p in thread if p.card))

    def _posted(
        self, stored: StoredIssue, issue: Issue, threads: Sequence[PostedThread], *, already: bool
    ) -> IssueOutcome:
        refs: list[PostRef] = []
        for t in threads:
            refs.extend(post_refs(t, len(refs)))
        try:
            self.store.mark_posted(stored.id, refs)
        except StoreError:
            if self.store.issue(stored.id).state is not _S.POSTED:
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
        return IssueOutcome(
            issue.link, issue.title, "already_posted" if already else "posted", len(refs), roots
        )

    def _failed(self, stored: StoredIssue, issue: Issue, error: str) -> IssueOutcome:
        self.store.mark_failed(stored.id, error)
        event(logger, "issue.failed", logging.ERROR, link=issue.link, error=error)
        return IssueOutcome(issue.link, issue.title, "failed", error=error)
