"""One poll pass (`Worker.poll`): fetch the feed → decide what is new → compose → publish →
record, and `Worker.post_issue`, the one exactly-once decision both the pass and the editor's
`post` make. The daemon (bot.service.daemon) and the CLI (bot.cli.service) call `Worker`; neither
has logic of its own. The pass step by step, and why each step is the way it is:
docs/how-it-works.md.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
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
    held_by_flood,
    judge,
    published_key,
    sane_published,
)
from bot.core.post import Thread
from bot.core.review import Action, review
from bot.errors import ConfigError, StoreError
from bot.log import event
from bot.notify import Alert, Notifier
from bot.service.outcomes import (
    Fetched,
    IssueOutcome,
    Outcome,
    PollResult,
)
from bot.service.posting import IssuePoster, Stopped, process_id
from bot.settings import Settings, card_cache_dir
from bot.store.api import IssueState, NewIssue, Store, StoredIssue

if TYPE_CHECKING:
    import httpx

    from bot.bluesky.publisher import Publisher
    from bot.cards import CardFetcher
    from bot.core.profile import Profile
    from bot.feed import FetchResult

logger = logging.getLogger(__name__)

_S = IssueState
_PENDING = (_S.QUEUED, _S.POSTING)
LEASE_SECONDS = 600.0
_LINES_PER_PASS = 20  # new issues logged one line each; a huge first pass logs a summary after
_BATCH = 1000  # issues recorded per transaction
# Only words for the editor: that an issue left the feed is kept in `left_feed`, not in this text.
GONE = (
    "it is no longer in the feed (unpublished?); it is queued again if it comes back; "
    "`post --entry LINK --feed FILE` posts it from a saved copy of the feed"
)


def is_url(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


@dataclass(frozen=True)
class _Known:
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
        feed_transport: httpx.BaseTransport | None = None,
        feed_options: dict[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
        notifier: Notifier | None = None,
        stop_event: threading.Event | None = None,
        feed_fetch: Callable[..., FetchResult] | None = None,
        make_publisher: Callable[[], Publisher] | None = None,
    ) -> None:
        from bot.core.profile import load_profile

        self.settings = settings
        self.store = store
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
        state = self.store.feed(url)
        validators: Validators | None = Validators(state.etag, state.last_modified)
        pending = self.store.issues(_PENDING, feed_url=url)
        if pending:  # their content is needed: a 304 would not carry it
            event(logger, "feed.refetch", url=url, pending=len(pending))
            validators = None
        try:
            fetched = (self._feed_fetch or fetch_feed)(url, validators, **self._feed_kwargs(url))
        except Exception as exc:
            if not self.settings.dry_run and not isinstance(exc, Stopped):
                self.store.record_check(url, f"failed: {exc}")
            raise
        if fetched.not_modified:
            result.fetched = Fetched.NOT_MODIFIED
            if not self.settings.dry_run:
                self.store.record_check(url, "not_modified")
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
        # Imported here, not above: a pass answered 304 never needs the reader (~10 MB of
        # imports a daemon whose feeds have not changed since it started does without).
        from bot.core.reader import parse_feed

        feed = parse_feed(body, self.profile, source=url)
        issues = self._sane_dates(feed.issues)
        result.in_feed = len(issues)
        result.skipped = list(feed.skipped)  # named in the summary; the others go on
        if self.settings.dry_run:
            return self._dry_pass(issues, result)
        self._record(issues, result)
        in_feed = {i.guid: i for i in issues}
        for s in self.store.issues(_PENDING, feed_url=url):  # oldest first
            if stopping():
                result.stopped = True
                break
            issue = in_feed.get(s.guid)
            if issue is None:
                result.outcomes.append(self._gone(s))
                continue
            try:
                outcome = self._post_new(s, issue)
            except Stopped:
                result.stopped = True
                break
            result.outcomes.append(outcome)
            if outcome.outcome is Outcome.DEFERRED:
                break  # the PDS is unwell: the others wait for the next pass too
        if self._validators is not None and not result.stopped:
            v = self._validators
            self.store.save_validators(url, v.etag, v.last_modified)
        if result.fetched is Fetched.FETCHED:
            problems = len(result.problems)
            self.store.record_check(
                url, f"processed, {problems} problems" if problems else "processed"
            )
        return result

    def _sane_dates(self, issues: Sequence[Issue]) -> list[Issue]:
        """The feed's issues with every date outside the sane window (bot.core.news) replaced
        by when the bot first saw the issue; said once, when the issue is new."""
        stored = {s.guid: s for s in self.store.issues(feed_url=self.settings.feed_url)}
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

    def _known(self) -> _Known:
        """The feed's issues in the store now, for deciding what is news in this pass."""
        known = {s.guid: s for s in self.store.issues(feed_url=self.settings.feed_url)}
        return _Known(
            issues=known,
            newest=max((s.published for s in known.values() if s.published), default=None),
            now=self._clock(),
            backfill_hours=self.settings.backfill_hours,
        )

    def _record(self, issues: Sequence[Issue], result: PollResult) -> None:
        """Record the feed's issues, newest first (unchanged known ones are not written). New
        issues past the flood guard's cap are recorded held, with one alert for all of them;
        on a huge first pass only the first few seen ones get a line each, then a summary."""
        url = self.settings.feed_url
        known = self._known()
        first_run = not known.issues
        verdicts = {i.guid: known.judge(i) for i in issues if i.guid not in known.issues}
        flood = self._flood(issues, verdicts, first_run)
        quiet: Counter[str] = Counter()  # new issues recorded without a line of their own
        todo: list[tuple[Issue, Verdict]] = []
        held: list[tuple[StoredIssue, Issue]] = []  # held issues that changed
        for issue in sorted(issues, key=published_key, reverse=True):
            old = known.issues.get(issue.guid)
            if old is not None and _back_in_feed(old):
                self.store.retry(old.id)
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
            verdict = verdicts.get(issue.guid) or known.judge(issue)
            if issue.guid in flood.held:
                verdict = Verdict(_S.HELD, flood.message)
            todo.append((issue, verdict))
        # Many at a time, one transaction each: a huge first pass is a few commits, not one per
        # entry. The dates are sane already (`_sane_dates`).
        for start in range(0, len(todo), _BATCH):
            batch = todo[start:start + _BATCH]
            done = self.store.upsert_issues(url, [
                NewIssue(guid=i.guid, link=i.link, title=i.title, published=as_utc(i.published),
                         content_hash=i.content_hash, state=v.state,
                         reason=v.reason if v.state is _S.HELD else None)
                for i, v in batch
            ])
            for (issue, verdict), up in zip(batch, done, strict=True):
                if not up.created:
                    continue
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

    def _dry_pass(self, issues: Sequence[Issue], result: PollResult) -> PollResult:
        """What a pass would post, without writing anything anywhere."""
        known = self._known()
        verdicts = {i.guid: known.judge(i) for i in issues if i.guid not in known.issues}
        flood = self._flood(issues, verdicts, not known.issues, alert=False)
        for issue in sorted(issues, key=published_key):
            old = known.issues.get(issue.guid)
            if issue.guid in flood.held:
                result.new += 1
                logger.info("dry run: would hold %s for the editor: %s", issue.link,
                            flood.message)
                result.outcomes.append(
                    IssueOutcome(issue.link, issue.title, Outcome.HELD, error=flood.message))
                continue
            if old is None:
                verdict = verdicts[issue.guid]
                result.new += 1
                result.queued += verdict.state is _S.QUEUED
                if verdict.reason:
                    logger.info("dry run: would not post %s: %s", issue.link, verdict.reason)
                state = verdict.state
            else:
                state = _S.QUEUED if _back_in_feed(old) else old.state
            if state not in _PENDING:
                continue
            looks = review(issue, self.profile)
            if looks.action is Action.HOLD and not (old and old.approved):
                logger.info("dry run: would hold %s for the editor: %s", issue.link, looks.reason)
                result.outcomes.append(
                    IssueOutcome(issue.link, issue.title, Outcome.HELD, error=looks.reason)
                )
                continue
            outcome = self.post_issue(old, issue, dry_run=True)
            logger.info("dry run: would post %s (%d posts)", issue.link, outcome.posts)
            result.outcomes.append(outcome)
        return result

    def _gone(self, s: StoredIssue) -> IssueOutcome:
        """A queued issue that left the feed: it cannot be composed any more."""
        if self.store.claim(s.id, self.worker_id, self.lease_seconds):
            self.store.mark_failed(s.id, GONE, left_feed=True)
            event(logger, "issue.gone", logging.WARNING, link=s.link)
            self.notifier.send(Alert.FAILED, f"Not posted: {s.title}: {GONE}", s.link)
            return IssueOutcome(s.link, s.title, Outcome.GONE, error=GONE)
        return IssueOutcome(s.link, s.title, Outcome.BUSY, error="claimed by another worker")

    # -- the editor's controls: the grace window and the review hold ----------------------------

    def due(self, stored: StoredIssue) -> datetime:
        """When a new issue may go out: POST_DELAY minutes after the bot first saw it (not its
        pubDate, which an author may backdate or set ahead)."""
        return stored.created_at + timedelta(minutes=self.settings.post_delay)

    def _post_new(self, stored: StoredIssue, issue: Issue) -> IssueOutcome:
        """The pass's way to post a queued issue: after the grace window, and only as the
        review allows (held for the editor, or announced only). An interrupted post (posting)
        is completed whatever the window or the review say."""
        threads: list[Thread] | None = None
        if stored.state is _S.QUEUED:
            due = self.due(stored)
            if self.settings.post_delay > 0 and self._clock() < due:  # 0: at once, as ever
                event(logger, "issue.waiting", link=issue.link, due=due.isoformat())
                return IssueOutcome(issue.link, issue.title, Outcome.WAITING, due=due)
            verdict = review(issue, self.profile)
            if stored.approved or verdict.action is Action.POST:
                pass
            elif verdict.action is Action.HOLD:
                return self._hold(stored, issue, verdict.reason or "")
            else:  # announce: the root post and its card only
                event(logger, "issue.announce_only", link=issue.link, reason=verdict.reason)
                threads = [self.compose(issue)[0][:1]]
        return self.post_issue(stored, issue, threads=threads)

    def _rejudge(self, held: StoredIssue, issue: Issue) -> None:
        """A held issue that changed is reviewed again: what held it may have been a read of the
        feed that was not whole, or a slip the author has fixed. Queued again when the review
        passes it now (it goes out in this pass); still held, quietly, when not."""
        if held_by_flood(held.error) or review(issue, self.profile).action is Action.HOLD:
            return  # the flood guard's holds are the editor's to release, changed or not
        try:
            self.store.unhold(held.id)
        except StoreError:  # the editor moved it meanwhile: their decision stands
            return
        event(logger, "issue.unheld", link=issue.link, was=held.error)

    def _hold(self, stored: StoredIssue, issue: Issue, reason: str) -> IssueOutcome:
        try:
            self.store.hold(stored.id, reason)
        except StoreError:  # another worker moved it meanwhile: its outcome, not ours
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
