"""One poll pass (`Worker.poll`): fetch the feed → record what is new → ask the plan
(bot.core.plan, through `Worker.consider`: the one decision of what happens to an issue) → do
it: wait, hold, or post exactly once (`Worker.post_issue`, also the editor's `post`). The daemon
(bot.service.daemon) and the CLI (bot.cli.service) call `Worker`; neither has logic of its own.
The pass step by step, and why each step is the way it is: docs/how-it-works.md.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.core.model import Issue
from bot.core.news import (
    Flood,
    Verdict,
    as_utc,
    flood_guard,
    judge,
    published_key,
    sane_published,
)
from bot.core.plan import GONE, Asker, Known, OnAccount, Rules, Step, plan
from bot.core.post import Thread
from bot.errors import (
    AuthError,
    ConfigError,
    PublishError,
    Stopped,
    StoreConflict,
    ThreadError,
)
from bot.log import event
from bot.notify import Alert, Notifier
from bot.service.outcomes import (
    Fetched,
    IssueOutcome,
    Outcome,
    PollResult,
)
from bot.service.posting import (
    Considered,
    IssuePoster,
    anchored_keys,
    dry_outcome,
    known_of,
    process_id,
    whole_on_pds,
)
from bot.settings import Settings, card_cache_dir
from bot.store.api import IssueState, NewIssue, Store, StoredIssue

if TYPE_CHECKING:
    from bot.bluesky.publisher import Publisher
    from bot.bluesky.records import PostedThread
    from bot.cards import CardFetcher
    from bot.core.profile import Profile
    from bot.feed import FeedTransport, FetchResult

logger = logging.getLogger(__name__)

_S = IssueState
_PENDING = (_S.QUEUED, _S.POSTING)
LEASE_SECONDS = 600.0
_LINES_PER_PASS = 20  # new issues logged one line each; a huge first pass logs a summary after
_BATCH = 1000  # issues recorded per transaction
# Only words for the editor: that an issue left the feed is kept in `left_feed`, not in this text.
_EPOCH = datetime.min.replace(tzinfo=UTC)


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


@dataclass(frozen=True)
class FeedKnown:
    """The feed's issues in the store at the start of a pass (by guid), and what is news beside
    them."""

    issues: dict[str, StoredIssue]
    newest: datetime | None
    now: datetime
    backfill_hours: float

    def judge(self, issue: Issue) -> Verdict:
        """What becomes of `issue` if it is new (bot.core.news)."""
        return judge(
            issue,
            first_run=not self.issues,
            newest_known=self.newest,
            now=self.now,
            backfill_hours=self.backfill_hours,
        )


class ReadOnlySessions:
    """A dry run's session keeper: the saved session is used, a new one is not saved."""

    def __init__(self, keeper: Any) -> None:
        self._keeper = keeper

    def load(self) -> str | None:
        loaded: str | None = self._keeper.load()
        return loaded

    def save(self, session_string: str) -> None:
        pass


def _back_in_feed(stored: StoredIssue) -> bool:
    """Failed because it had left the feed: it was never posted, so it is news again."""
    return stored.state is _S.FAILED and stored.left_feed


class Worker(IssuePoster):
    """Polls one feed and posts its new issues (docs/how-it-works.md).

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
        feed_transport: FeedTransport | None = None,
        feed_options: dict[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
        notifier: Notifier | None = None,
        stop_event: threading.Event | None = None,
        feed_fetch: Callable[..., FetchResult] | None = None,
        make_publisher: Callable[[], Publisher] | None = None,
        dry_run: bool = False,
    ) -> None:
        from bot.core.profile import load_profile

        self.settings = settings
        self.store = store
        # A dry run reads (the store, and the account when there are credentials), writes nothing.
        self.dry_run = dry_run or settings.dry_run
        self.profile = profile or load_profile(settings.bot_config)
        self.worker_id = worker_id or process_id()
        self.lease_seconds = lease_seconds
        self._publisher = publisher
        # A daemon's bots of one account share a publisher, made when the first of them posts:
        # the Bluesky SDK (tens of MB) is not even imported while every feed answers 304.
        self._make_publisher = make_publisher
        self._own_publisher = publisher is None and make_publisher is None
        self._fetcher = fetcher
        self._own_fetcher = fetcher is None
        self._cache_dir = cache_dir
        self._feed_transport = feed_transport
        self._feed_options = dict(feed_options or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = stop_event or threading.Event()  # a daemon's bots share one
        self._feed_fetch = feed_fetch  # bot.feed.fetch_feed, or a daemon's shared fetches
        self._validators: Any = None  # of the 200 being processed; saved at the end of a pass
        # Issues first recorded in this pass: nothing of them is recorded yet (no post rows).
        self._fresh: set[int] = set()
        self.notifier = notifier or Notifier.from_settings(settings)

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the running pass to stop after the thread it is writing (and end any backoff)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        self.notifier.close()
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
            if self._make_publisher is not None:
                self._publisher = self._make_publisher()
                return self._publisher
            from bot.bluesky.connection import Connection
            from bot.bluesky.publisher import Publisher

            sessions: Any = self.store.sessions.keeper(
                self.settings.bsky_handle or "", self.settings.bsky_service
            )
            if self.dry_run:  # it reads the account, and writes nothing: not even the session
                sessions = ReadOnlySessions(sessions)
            self._publisher = Publisher(
                Connection.from_settings(self.settings, sessions, sleep=self._sleep)
            )
        return self._publisher

    @property
    def fetcher(self) -> CardFetcher:
        if self._fetcher is None:
            from bot.cards import CardFetcher

            # A dry run writes nothing, not even the card cache.
            cache = None if self.dry_run else card_cache_dir(self.settings)
            self._fetcher = CardFetcher(self._cache_dir or cache,
                                        allow_private=self.settings.cards_allow_private)
        return self._fetcher

    # -- the feed -------------------------------------------------------------------------------

    def _feed_kwargs(self, source: str) -> dict[str, Any]:
        """The feed reader's options: backoff waits that end on stop, and the test transport."""
        kwargs: dict[str, Any] = dict(self._feed_options)
        if is_url(source):
            kwargs.setdefault("sleep", self._sleep)
            if self._feed_transport is not None:
                kwargs["transport"] = self._feed_transport
        return kwargs

    def read_feed(self, source: str | None = None) -> tuple[bytes, str]:
        """The feed's bytes, unconditionally, from `source` (default FEED_URL): (bytes, source)."""
        from bot.feed import read_source

        source = source or self.settings.feed_url
        return read_source(source, **self._feed_kwargs(source)), source

    def _fetch(self, result: PollResult) -> bytes | None:
        """The feed body, or None on 304. Validators are returned to be saved later."""
        from bot.feed import Validators, fetch_feed

        url = self.settings.feed_url
        if not is_url(url):
            result.fetched = Fetched.READ
            return self.read_feed(url)[0]
        state = self.store.feeds.get(url)
        validators: Validators | None = Validators(state.etag, state.last_modified)
        if state.pending:  # their content is needed: a 304 would not carry it
            event(logger, "feed.refetch", url=url, pending=state.pending)
            validators = None
        try:
            fetched = (self._feed_fetch or fetch_feed)(url, validators, **self._feed_kwargs(url))
        except Exception as exc:
            if not self.dry_run and not isinstance(exc, Stopped):
                self.store.feeds.record_check(url, f"failed: {exc}")
            raise
        if fetched.not_modified:
            result.fetched = Fetched.NOT_MODIFIED
            if not self.dry_run:
                self.store.feeds.record_check(url, "not_modified")
            return None
        result.fetched = Fetched.FETCHED
        self._validators = fetched.validators
        return fetched.body or b""

    # -- one pass -------------------------------------------------------------------------------

    def poll(self, should_stop: Callable[[], bool] | None = None) -> PollResult:
        """One pass (docs/how-it-works.md). Raises FeedError, AuthError or StoreError (one
        line each); problems with single issues are in the result instead."""

        def stopping() -> bool:
            return self._stop.is_set() or bool(should_stop and should_stop())

        url = self.settings.feed_url
        result = PollResult(feed_url=url, dry_run=self.dry_run)
        self._validators = None
        self._fresh = set()
        self.store.reopen_if_lost()  # a database deleted since the last pass: a fresh start
        try:
            body = self._fetch(result)
        except Stopped:
            result.stopped = True
            return result
        if body is None:
            return result
        # Imported here, not above: a pass answered 304 never needs the reader (~10 MB of
        # imports a daemon whose feeds have not changed since it started does without).
        from bot.core.reader import parse_feed

        feed = parse_feed(body, self.profile, source=url)
        known = self.known()  # one read of the feed's issues for the dates and what is news
        issues = self._sane_dates(feed.issues, known)
        result.in_feed = len(issues)
        result.skipped = list(feed.skipped)  # named in the summary; the others go on
        if self.dry_run:
            return self._dry_pass(issues, result, known)
        self._record(issues, result, known)
        in_feed = {i.guid: i for i in issues}
        for s in self.store.issues.all(_PENDING, feed_url=url):  # oldest first
            if stopping():
                result.stopped = True
                break
            try:
                outcome = self._act(s, in_feed.get(s.guid))
            except Stopped:
                result.stopped = True
                break
            result.outcomes.append(outcome)
            if outcome.outcome is Outcome.DEFERRED:
                break  # the PDS is unwell: the others wait for the next pass too
        checked = None
        if result.fetched is Fetched.FETCHED:
            problems = len(result.problems)
            checked = f"processed, {problems} problems" if problems else "processed"
        if self._validators is not None and not result.stopped:
            v = self._validators  # and the check, in the same transaction
            self.store.feeds.save_validators(url, v.etag, v.last_modified, checked)
        elif checked is not None:
            self.store.feeds.record_check(url, checked)
        return result

    def _sane_dates(self, issues: Sequence[Issue], known: FeedKnown) -> list[Issue]:
        """The feed's issues with every date outside the sane window (bot.core.news) replaced
        by when the bot first saw the issue; said once, when the issue is new."""
        stored = known.issues
        now = self._clock()
        out = []
        for issue in issues:
            old = stored.get(issue.guid)
            when, odd = sane_published(
                issue.published, now=now,
                first_seen=(old.published or old.created_at) if old else None,
            )
            if odd:
                if old is None:
                    event(logger, "issue.date_refused", logging.WARNING, link=issue.link,
                          date=as_utc(issue.published).isoformat(),  # type: ignore[union-attr]
                          note="outside 1990 .. now + 1 day: taken as published now")
                issue = replace(issue, published=when)
            out.append(issue)
        return out

    def known(self) -> FeedKnown:
        """The feed's issues in the store now, for deciding what is news in this pass."""
        known = {s.guid: s for s in self.store.issues.all(feed_url=self.settings.feed_url)}
        return FeedKnown(
            issues=known,
            newest=max((s.published for s in known.values() if s.published), default=None),
            now=self._clock(),
            backfill_hours=self.settings.backfill_hours,
        )

    def _record(self, issues: Sequence[Issue], result: PollResult, known: FeedKnown) -> None:
        """Record the feed's issues, newest first (unchanged known ones are not written). New
        issues past the flood guard's cap are recorded held, with one alert for all of them;
        on a huge first pass only the first few seen ones get a line each, then a summary."""
        url = self.settings.feed_url
        first_run = not known.issues
        verdicts = {i.guid: known.judge(i) for i in issues if i.guid not in known.issues}
        flood = self._flood(issues, verdicts, first_run)
        quiet: Counter[str] = Counter()  # new issues recorded without a line of their own
        todo: list[tuple[Issue, Verdict]] = []
        held: list[tuple[StoredIssue, Issue]] = []  # held issues that changed
        for issue in sorted(issues, key=published_key, reverse=True):
            old = known.issues.get(issue.guid)
            if old is not None and _back_in_feed(old):
                self.store.issues.retry(old.id)
                event(logger, "issue.back", link=issue.link, note="in the feed again; queued")
            if old is not None and (old.content_hash, old.link, old.title, old.published) == (
                issue.content_hash,
                issue.link,
                issue.title,
                as_utc(issue.published),
            ):
                continue
            if old is not None and old.state is _S.HELD:
                held.append((old, issue))  # judged again once its change is recorded
            verdict = self._news(issue, known, flood) if old is None else known.judge(issue)
            todo.append((issue, verdict))
        # Many at a time, one transaction each: a huge first pass is a few commits, not one per
        # entry. The dates are sane already (`_sane_dates`).
        for start in range(0, len(todo), _BATCH):
            batch = todo[start:start + _BATCH]
            done = self.store.issues.upsert_many(url, [
                NewIssue(guid=i.guid, link=i.link, title=i.title, published=as_utc(i.published),
                         content_hash=i.content_hash, state=v.state,
                         reason=v.reason if v.state is _S.HELD else None)
                for i, v in batch
            ])
            for (issue, verdict), up in zip(batch, done, strict=True):
                if not up.created:
                    continue
                self._fresh.add(up.issue.id)
                result.new += 1
                result.queued += up.issue.state is _S.QUEUED
                if up.issue.state is _S.HELD:
                    result.outcomes.append(IssueOutcome(issue.link, issue.title, Outcome.HELD,
                                                        error=verdict.reason))
                if result.new > _LINES_PER_PASS:
                    quiet[up.issue.state.value] += 1
                    continue
                event(
                    logger,
                    "issue.recorded",
                    link=issue.link,
                    state=up.issue.state.value,
                    first_run=first_run or None,
                    reason=verdict.reason,
                )
        for state, count in sorted(quiet.items()):
            event(logger, "issue.recorded_many", state=state, count=count,
                  first_run=first_run or None, note="one line each for the first "
                  f"{_LINES_PER_PASS}; `status --limit N` lists them")
        for stored, issue in held:
            self._rejudge(stored, issue)

    def _flood(self, issues: Sequence[Issue], verdicts: dict[str, Verdict],
               first_run: bool, *, alert: bool = True) -> Flood:
        """The flood guard (bot.core.news.flood_guard) for this pass's new issues, its one
        warning and its one alert."""
        queued = [i for i in issues if (v := verdicts.get(i.guid)) and v.state is _S.QUEUED]
        flood = flood_guard(queued, cap=self.settings.max_new_per_pass, first_run=first_run)
        if flood.held and alert:
            event(logger, "feed.flood", logging.WARNING, new=len(queued), held=len(flood.held),
                  cap=self.settings.max_new_per_pass, first_run=first_run or None)
            self.notifier.send(Alert.HELD, f"{flood.message} (`status` lists them).",
                               self.settings.feed_url)
        return flood

    def _news(self, issue: Issue, known: FeedKnown, flood: Flood) -> Verdict:
        """What a NEW issue is recorded as, as the plan says it: history (seen, with the
        reason), held by the flood guard (its message), or queued — the window and the review
        are asked of the plan again when the pass comes to post it."""
        said = plan(issue, Known(first_run=not known.issues, newest_known=known.newest,
                                 flooded=flood.message if issue.guid in flood.held else None),
                    self.profile, known.now, self.rules)
        if said.step is Step.IGNORE:
            return Verdict(_S.SEEN, said.reason)
        if said.step is Step.HOLD and issue.guid in flood.held:
            return Verdict(_S.HELD, said.reason)
        return Verdict(_S.QUEUED)

    def _dry_pass(self, issues: Sequence[Issue], result: PollResult,
                  known: FeedKnown) -> PollResult:
        """What a pass would do, asked of the same plan, without writing anything anywhere: the
        issues the real pass would act on (queued or posting once the feed is recorded, held by
        the flood guard, and queued ones gone from the feed), each with the plan's answer."""
        verdicts = {i.guid: known.judge(i) for i in issues if i.guid not in known.issues}
        flood = self._flood(issues, verdicts, not known.issues, alert=False)
        in_feed = {i.guid for i in issues}
        chosen: list[tuple[StoredIssue | None, Issue | None]] = []
        for issue in issues:
            old = known.issues.get(issue.guid)
            if old is None:
                verdict = self._news(issue, known, flood)
                result.new += 1
                result.queued += verdict.state is _S.QUEUED
                if verdict.state is _S.SEEN:
                    logger.info("dry run: would not post %s: %s", issue.link, verdict.reason)
                    continue
            elif old.state not in _PENDING and not _back_in_feed(old):
                continue
            chosen.append((old, issue))
        chosen += [(s, None) for s in known.issues.values()
                   if s.state is _S.QUEUED and s.guid not in in_feed]
        chosen.sort(key=lambda pair: published_key(pair[1]) if pair[1] is not None
                    else as_utc(pair[0].published if pair[0] else None) or _EPOCH)
        for old, maybe in chosen:
            flooded = maybe is not None and old is None and maybe.guid in flood.held
            considered = self.consider(old, maybe, known=known,
                                       flooded=flood.message if flooded else None)
            outcome = dry_outcome(considered.plan, old, maybe)
            if outcome.outcome is Outcome.WOULD_POST:
                link = outcome.link
                logger.info("dry run: would post %s (%d posts)", link, outcome.posts)
            else:
                logger.info("dry run: %s %s", outcome.link, considered.plan.describe())
            result.outcomes.append(outcome)
        return result

    # -- the plan: what happens to an issue now (bot.core.plan) ---------------------------------

    @property
    def rules(self) -> Rules:
        return Rules(self.settings.backfill_hours, self.settings.post_delay)

    def known_of(self, stored: StoredIssue | None, known: FeedKnown | None = None) -> Known:
        """What the store knows of an issue, as the plan takes it (`known`: the feed's issues
        in the store, for deciding whether a new issue is news)."""
        if stored is None:
            known = known or self.known()
            return known_of(self.store, None, first_run=not known.issues,
                            newest_known=known.newest)
        return known_of(self.store, stored)

    def can_read_account(self) -> bool:
        """Whether this worker may ask the PDS (it has credentials; a dry run may, too)."""
        return (not self.settings.dry_run or self._publisher is not None
                or self._make_publisher is not None)

    def consider(
        self,
        stored: StoredIssue | None,
        issue: Issue | None,
        *,
        by: Asker = Asker.PASS,
        threads: Sequence[Thread] | None = None,
        known: FeedKnown | None = None,
        flooded: str | None = None,
    ) -> Considered:
        """The plan for an issue, asked with what the store says; and, when the plan would
        write to Bluesky or hold a new issue, composed and asked again with what the account
        says (one PDS read: the thread found here is the one `post_issue` uses)."""
        kn = dataclasses.replace(self.known_of(stored, known), flooded=flooded)
        now = self._clock()
        in_feed = issue is not None  # the pass and the editor read the feed: not in it is gone
        first = plan(issue, kn, self.profile, now, self.rules, by=by, in_feed=in_feed)
        checks = first.writes or (first.step is Step.HOLD and kn.state is not _S.HELD)
        if issue is None or not checks:
            return Considered(first)
        if threads is None:
            try:
                threads = self.compose(issue)
            except ThreadError as exc:
                if first.writes:
                    return Considered(first, error=str(exc))
                threads = None
        found: PostedThread | None = None
        asked = False
        generation = stored.generation if stored is not None else 0
        fresh = stored is None or stored.id in self._fresh
        recorded = [] if fresh or stored is None else self.store.posts.of(stored.id)
        if (by is not Asker.FORCE and generation == 0 and not recorded
                and self.can_read_account()):
            wanted = threads if first.step is not Step.ANNOUNCE or not threads else [threads[0][:1]]
            keys = self.keys_for(stored, issue, wanted, recorded)[0] if wanted else []
            try:
                if first.writes:
                    found = self.publisher.find_thread(issue.link, keys)
                else:  # only to hold it or not: one try, the editor's approve asks again
                    with self.publisher.connection.one_try():
                        found = self.publisher.find_thread(issue.link, keys)
            except PublishError as exc:
                if first.writes or isinstance(exc, AuthError):
                    raise
                # Bluesky cannot be asked now: the issue is held all the same (the editor's
                # approve asks the account again before it writes anything).
                event(logger, "issue.account_unchecked", logging.WARNING, link=issue.link,
                      error=str(exc))
                return Considered(first, threads=threads)
            asked = True
            if found is not None:
                anchored = anchored_keys(found, wanted or [])
                whole = anchored is None and whole_on_pds(found, wanted or [])
                roots = (found.root_uri,)
                kn = dataclasses.replace(kn, on_account=OnAccount(roots, whole))
        final = plan(issue, kn, self.profile, now, self.rules, by=by, threads=threads,
                     in_feed=in_feed)
        return Considered(final, threads=threads, found=found, asked=asked,
                          fresh=stored is not None and fresh)

    def _act(self, stored: StoredIssue, issue: Issue | None) -> IssueOutcome:
        """The pass does what the plan says with a queued or posting issue."""
        try:
            considered = self.consider(stored, issue)
        except AuthError:
            raise
        except PublishError as exc:  # the account could not be read: next pass
            event(logger, "issue.deferred", logging.WARNING, link=stored.link, error=str(exc))
            return IssueOutcome(stored.link, stored.title, Outcome.DEFERRED, error=str(exc))
        p = considered.plan
        if p.step is Step.GONE or issue is None:
            return self._gone(stored)
        if p.step is Step.WAIT:
            due = p.due.isoformat() if p.due else None
            event(logger, "issue.waiting", link=issue.link, due=due)
            return IssueOutcome(issue.link, issue.title, Outcome.WAITING, due=p.due)
        if considered.error is not None:
            return self._failed_unclaimed(stored, issue, considered.error)
        if p.step is Step.HOLD:
            return self._hold(stored, issue, p.reason or "")
        if p.step is Step.ANNOUNCE:
            event(logger, "issue.announce_only", link=issue.link, reason=p.reason)
        return self.post_issue(stored, issue, threads=p.threads, considered=considered)

    def _gone(self, s: StoredIssue) -> IssueOutcome:
        """A queued issue that left the feed: it cannot be composed any more."""
        if self.store.issues.claim(s.id, self.worker_id, self.lease_seconds):
            self.store.issues.mark_failed(s.id, GONE, left_feed=True, worker_id=self.worker_id)
            event(logger, "issue.gone", logging.WARNING, link=s.link)
            self.notifier.send(Alert.FAILED, f"Not posted: {s.title}: {GONE}", s.link)
            return IssueOutcome(s.link, s.title, Outcome.GONE, error=GONE)
        return IssueOutcome(s.link, s.title, Outcome.BUSY, error="claimed by another worker")

    def _failed_unclaimed(self, stored: StoredIssue, issue: Issue, error: str) -> IssueOutcome:
        """An issue that cannot be composed: failed, under its claim."""
        if not self.store.issues.claim(stored.id, self.worker_id, self.lease_seconds):
            return IssueOutcome(issue.link, issue.title, Outcome.BUSY,
                                error="claimed by another worker")
        return self._failed(stored, issue, error)

    def _rejudge(self, held: StoredIssue, issue: Issue) -> None:
        """A held issue that changed is asked of the plan again (its review, once more): what
        held it may have been a read of the feed that was not whole, or a slip the author has
        fixed. Queued again when the plan no longer holds it (it goes out in this pass); still
        held, quietly, when it does — and always when the flood guard held it."""
        known = dataclasses.replace(known_of(self.store, held), changed=True)
        if plan(issue, known, self.profile, self._clock(), self.rules).step is Step.HOLD:
            return
        try:
            self.store.issues.unhold(held.id)
        except StoreConflict:  # the editor moved it meanwhile: their decision stands
            return
        event(logger, "issue.unheld", link=issue.link, was=held.error)

    def _hold(self, stored: StoredIssue, issue: Issue, reason: str) -> IssueOutcome:
        try:
            self.store.issues.hold(stored.id, reason)
        except StoreConflict:  # another worker moved it meanwhile: its outcome, not ours
            return IssueOutcome(issue.link, issue.title, Outcome.BUSY, error="moved meanwhile")
        event(logger, "issue.held", logging.WARNING, link=issue.link, reason=reason)
        self.notifier.send(
            Alert.HELD,
            f"Held for review: {issue.title} ({issue.link}): {reason}. "
            f"`approve --entry {quote(issue.link)}` posts it, "
            f"`skip --entry {quote(issue.link)}` drops it.",
            issue.link,
        )
        return IssueOutcome(issue.link, issue.title, Outcome.HELD, error=reason)
