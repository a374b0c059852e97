"""The store: what the bot has seen and posted, in SQLite (default) or Postgres (DATABASE_URL).

The only module that talks SQL. Every method is one short transaction and returns plain values
(bot.store.types); SQLAlchemy errors become StoreError here. Nothing slow (network) ever runs
inside a transaction, so the daemon and the CLI can share a SQLite file.

State changes are single conditional UPDATEs (`… WHERE state IN (allowed)`), so two workers
racing for the same issue cannot both succeed; `claim` is the lease a worker takes before posting.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.core.address import PostAddress, ThreadPost
from bot.errors import StoreConflict, StoreError, StoreOutage, one_line
from bot.log import event as log_event
from bot.settings import DEFAULT_BOT
from bot.store.engine import (
    head_revision,
    make_engine,
    normalize_url,
    revision,
    upgrade,
)
from bot.store.heartbeat import HeartbeatRecords
from bot.store.leases import BotLeases
from bot.store.models import BskySessionRow, FeedRow, IssueRow, IssueState, PostRow, utcnow
from bot.store.session import DatabaseSessionKeeper
from bot.store.types import (
    FeedState,
    Heartbeat,
    IssueWithPosts,
    NewIssue,
    StoredIssue,
    StoredPost,
    Upserted,
)

logger = logging.getLogger(__name__)

_S = IssueState

__all__ = [
    "DatabaseSessionKeeper", "FeedState", "Heartbeat", "IssueState", "IssueWithPosts", "NewIssue",
    "Store", "StoredIssue", "StoredPost", "Upserted", "normalize_url",
]


def _issue(row: IssueRow, feed_url: str, bot: str) -> StoredIssue:
    return StoredIssue(
        id=row.id, bot=bot, feed_url=feed_url, guid=row.guid, link=row.link, title=row.title,
        published=row.published, content_hash=row.content_hash, state=IssueState(row.state),
        error=row.error, left_feed=row.left_feed, approved=row.approved, generation=row.generation,
        claimed_by=row.claimed_by, claim_expires_at=row.claim_expires_at, created_at=row.created_at,
        updated_at=row.updated_at, posted_at=row.posted_at, key_time=row.key_time,
        held_hash=row.held_hash,
    )


def _sqlite_file(engine: Any) -> Path | None:
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser()


def _file_id(path: Path | None) -> tuple[int, int] | None:
    """The identity (device, inode) of the file at `path`; (0, 0) when there is none."""
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_dev, st.st_ino)


def _updated(s: Session, stmt: Any) -> int:
    """Run an UPDATE and return how many rows it changed (the atomic test of a transition)."""
    result = s.execute(stmt.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


def _post(row: PostRow) -> StoredPost:
    # The row keeps uri and rkey as columns (queries and old rows); the value parses the URI once.
    return StoredPost(generation=row.generation, place=row.place,
                      address=PostAddress.parse(row.uri, row.cid), created_at=row.created_at)


@dataclass
class _FileWatch:
    """The SQLite file upgrade() left (its identity), watched for deletion under the daemon."""

    file_id: tuple[int, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Store(HeartbeatRecords, BotLeases):
    """The bot's memory. `Store(url)` connects lazily; call `upgrade()` once at start."""

    def __init__(
        self,
        url: str | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        bot: str | None = DEFAULT_BOT,
    ) -> None:
        self._url = normalize_url(url)
        self._engine = make_engine(self._url)
        self._read_engine = self._engine.execution_options(bot_read_only=True)
        self._clock = clock
        self._file = _sqlite_file(self._engine)
        self._watch = _FileWatch()  # shared by every bot's view of this store
        # The bot whose feeds and issues this store reads and writes; None: every bot's (read
        # only: `status` across bots). `for_bot` gives another bot's view on the same database.
        self.bot = bot
        self._owner = True

    def for_bot(self, bot: str) -> Store:
        """This store as bot `bot` sees it: same database and connections, its rows only."""
        view = copy.copy(self)
        view.bot, view._owner = bot, False
        return view

    def __repr__(self) -> str:
        return f"Store({self.url!r}, bot={self.bot!r})"

    @property
    def _bot(self) -> str:
        if self.bot is None:
            raise StoreError("this store reads every bot's issues; writing needs one bot")
        return self.bot

    def _scoped(self, q: Any) -> Any:
        return q if self.bot is None else q.where(FeedRow.bot == self.bot)

    @property
    def url(self) -> str:
        """The database URL with any password masked (safe to log)."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self._engine.dialect.name

    def now(self) -> datetime:
        return self._clock()

    def close(self) -> None:
        if self._owner:  # a bot's view shares the engine of the store it came from
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _tx(self, action: str, read_only: bool = False) -> Iterator[Session]:
        """One transaction; any database error becomes a StoreError naming `action`."""
        try:
            with Session(self._read_engine if read_only else self._engine) as session:
                with session.begin():
                    yield session
        except IntegrityError:
            raise  # callers that expect races retry on it; _write turns it into StoreError
        except (OperationalError, InterfaceError) as exc:  # down, refused, locked: an outage
            msg = (f"database ({self.dialect}) unreachable: {action} failed: {one_line(exc)}; "
                   "nothing was changed, the next pass tries again")
            raise StoreOutage(msg) from exc
        except SQLAlchemyError as exc:
            msg = f"database ({self.dialect}): {action} failed: {one_line(exc)}"
            raise StoreError(msg) from exc

    def _write(self, action: str, fn: Callable[[Session], Any]) -> Any:
        """Run `fn` in a write transaction, once more if a concurrent insert won a unique race."""
        for attempt in (1, 2):
            try:
                with self._tx(action) as session:
                    return fn(session)
            except IntegrityError as exc:
                if attempt == 2:
                    raise StoreError(f"database: {action} failed: {one_line(exc)}") from exc
        raise AssertionError("unreachable")

    # -- migrations -----------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Apply every pending migration (`alembic upgrade head`); safe from any cwd, and when
        several processes start at once. Logs `db.upgraded` when it changed something."""
        before, after = upgrade(self._engine)
        # A store in memory (a dry run's) is made afresh every time: nothing was upgraded.
        if after != before and self._engine.url.database not in (None, "", ":memory:"):
            log_event(logger, "db.upgraded", db=self.url, revision=after, previous=before or "none")
        self._watch.file_id = _file_id(self._file)

    def reopen_if_lost(self) -> bool:
        """After upgrade(): when the SQLite file was deleted (or replaced) since, start on the
        file now at that path, migrated; True if so. Open connections would otherwise go on
        writing to the deleted file, unseen by any other process and lost at the next start."""
        with self._watch.lock:
            if self._watch.file_id is None or _file_id(self._file) == self._watch.file_id:
                return False
            self._reopen()
            return True

    def _reopen(self) -> None:
        log_event(logger, "db.lost", logging.WARNING, db=self.url,
                  note="the database file was deleted; starting a new one")
        self._engine.dispose()
        assert self._file is not None
        self._file.parent.mkdir(parents=True, exist_ok=True)  # data/ may have gone with it
        self.upgrade()

    def revision(self) -> str | None:
        """The database's current migration revision (None before the first upgrade)."""
        return revision(self._read_engine)

    def head_revision(self) -> str:
        """The newest migration this code knows."""
        return head_revision()

    # -- feeds ----------------------------------------------------------------------------------

    def _feed_row(self, session: Session, url: str) -> FeedRow:
        bot = self._bot
        row = session.scalar(select(FeedRow).where(FeedRow.bot == bot, FeedRow.url == url))
        if row is None:
            row = FeedRow(bot=bot, url=url, created_at=self.now())
            session.add(row)
            session.flush()
        return row

    def feed(self, url: str) -> FeedState:
        """The feed's validators, last check and how many of its issues are queued or posting
        (empty for a feed never seen)."""
        with self._tx("reading the feed", read_only=True) as s:
            row = s.scalar(select(FeedRow).where(FeedRow.bot == self._bot, FeedRow.url == url))
            if row is None:
                return FeedState(url=url)
            pending = s.scalar(select(func.count()).select_from(IssueRow).where(
                IssueRow.feed_id == row.id,
                IssueRow.state.in_([_S.QUEUED.value, _S.POSTING.value])))
            return FeedState(url=url, etag=row.etag, last_modified=row.last_modified,
                             last_checked_at=row.last_checked_at, last_outcome=row.last_outcome,
                             pending=int(pending or 0))

    def save_validators(self, url: str, etag: str | None, last_modified: str | None,
                        outcome: str | None = None) -> None:
        """Remember the feed's ETag and Last-Modified, for the next conditional GET (and, given
        `outcome`, the check as record_check does: one transaction for both)."""

        def fn(s: Session) -> None:
            row = self._feed_row(s, url)
            row.etag, row.last_modified = etag, last_modified
            if outcome is not None:
                row.last_checked_at, row.last_outcome = self.now(), outcome

        self._write("saving the feed's validators", fn)

    def record_check(self, url: str, outcome: str) -> None:
        """Remember when the feed was last checked and how it went (e.g. 'not-modified')."""

        def fn(s: Session) -> None:
            row = self._feed_row(s, url)
            row.last_checked_at, row.last_outcome = self.now(), outcome

        self._write("recording the feed check", fn)

    # -- issues ---------------------------------------------------------------------------------

    def upsert_issue(self, feed_url: str, *, guid: str, link: str, title: str,
                     published: datetime | None, content_hash: str,
                     state: IssueState = IssueState.SEEN, reason: str | None = None,
                     ) -> Upserted:
        """Record an issue seen in the feed. A new one is stored in `state`; a known one keeps its
        state (an edited issue — same guid, new content hash — is never queued again: the change
        is stored, logged as `issue.edited` and returned). `reason`: why a new issue is not
        posted (kept in `error`, as a hold's reason is)."""
        return self.upsert_issues(feed_url, [NewIssue(
            guid=guid, link=link, title=title, published=published, content_hash=content_hash,
            state=state, reason=reason)])[0]

    def upsert_issues(self, feed_url: str, issues: Sequence[NewIssue]) -> list[Upserted]:
        """`upsert_issue` for many issues in ONE transaction: a huge feed's first pass costs one
        commit, not one per entry (10,000 entries took 100 s, one fsync each)."""
        for issue in issues:
            if issue.published is not None and issue.published.tzinfo is None:
                raise StoreError(f"issue {issue.link}: its date has no time zone")

        def fn(s: Session) -> list[Upserted]:
            feed = self._feed_row(s, feed_url)
            now = self.now()
            rows: dict[str, IssueRow] = {}
            guids = list({i.guid for i in issues})
            for at in range(0, len(guids), 500):  # within every database's parameter limit
                rows.update((r.guid, r) for r in s.scalars(select(IssueRow).where(
                    IssueRow.feed_id == feed.id, IssueRow.guid.in_(guids[at:at + 500]))))
            made: list[tuple[IssueRow, bool, str | None]] = []
            for issue in issues:
                published = (issue.published.astimezone(UTC)
                             if issue.published is not None else None)
                row = rows.get(issue.guid)
                if row is None:
                    row = IssueRow(feed_id=feed.id, guid=issue.guid, link=issue.link,
                                   title=issue.title, published=published, key_time=published,
                                   content_hash=issue.content_hash, state=issue.state.value,
                                   error=issue.reason, generation=0, created_at=now,
                                   updated_at=now)
                    s.add(row)
                    rows[issue.guid] = row
                    made.append((row, True, None))
                    continue
                previous = row.content_hash
                if (row.link, row.title, row.published, row.content_hash) != (
                        issue.link, issue.title, published, issue.content_hash):
                    row.link, row.title, row.published = issue.link, issue.title, published
                    row.content_hash = issue.content_hash
                    row.updated_at = now
                made.append((row, False, previous))
            s.flush()  # one round of INSERTs for every new row
            return [
                Upserted(_issue(row, feed_url, feed.bot), created=True) if created else
                Upserted(_issue(row, feed_url, feed.bot), created=False,
                         edited=previous != row.content_hash,
                         previous_hash=previous if previous != row.content_hash else None)
                for row, created, previous in made
            ]

        results: list[Upserted] = self._write("recording an issue", fn)
        for issue, result in zip(issues, results, strict=True):
            if result.edited:
                log_event(logger, "issue.edited", link=issue.link,
                          state=result.issue.state.value,
                          note="content changed after it was first seen; not posted again")
        return results

    def _select_issues(self) -> Any:
        return select(IssueRow, FeedRow.url, FeedRow.bot).join(
            FeedRow, IssueRow.feed_id == FeedRow.id
        )

    def issue(self, issue_id: int) -> StoredIssue:
        """The issue with this id; StoreError if there is none."""
        with self._tx("reading an issue", read_only=True) as s:
            found = s.execute(self._select_issues().where(IssueRow.id == issue_id)).first()
            issue = _issue(*found) if found else None
        if issue is None:
            raise StoreError(f"no issue with id {issue_id} in the store")
        return issue

    def find_issue(self, feed_url: str, guid: str) -> StoredIssue | None:
        """The issue with this guid in this feed, if recorded."""
        with self._tx("reading an issue", read_only=True) as s:
            found = s.execute(self._scoped(self._select_issues()).where(
                FeedRow.url == feed_url, IssueRow.guid == guid)).first()
            return _issue(*found) if found else None

    def find_by_link(self, link: str) -> StoredIssue | None:
        """The issue with this link (the most recently recorded one, if several feeds have it)."""
        with self._tx("reading an issue", read_only=True) as s:
            found = s.execute(self._scoped(self._select_issues()).where(IssueRow.link == link)
                              .order_by(IssueRow.id.desc()).limit(1)).first()
            return _issue(*found) if found else None

    def issues(self, states: Iterable[IssueState] | None = None,
               feed_url: str | None = None) -> list[StoredIssue]:
        """Issues (in these states, of this feed), oldest published first: the posting order."""
        q = self._scoped(self._select_issues())
        if states is not None:
            q = q.where(IssueRow.state.in_([IssueState(x).value for x in states]))
        if feed_url is not None:
            q = q.where(FeedRow.url == feed_url)
        q = q.order_by(func.coalesce(IssueRow.published, IssueRow.created_at), IssueRow.id)
        with self._tx("listing issues", read_only=True) as s:
            return [_issue(*found) for found in s.execute(q)]

    def posts(self, issue_id: int, generation: int | None = None) -> list[StoredPost]:
        """The posts of an issue's thread (its current generation by default), root first."""
        with self._tx("reading posts", read_only=True) as s:
            if generation is None:
                generation = s.scalar(select(IssueRow.generation).where(IssueRow.id == issue_id))
            rows = s.scalars(select(PostRow).where(
                PostRow.issue_id == issue_id, PostRow.generation == generation
            ).order_by(PostRow.place))
            return [_post(r) for r in rows]

    def recent(self, limit: int = 20, bots: Sequence[str] | None = None) -> list[IssueWithPosts]:
        """The newest issues with the posts of their current thread: what `status` shows (of
        this store's bot, or of `bots` when it reads every bot's)."""
        q = self._scoped(self._select_issues())
        if bots is not None:
            q = q.where(FeedRow.bot.in_(list(bots)))
        q = q.order_by(
            func.coalesce(IssueRow.published, IssueRow.created_at).desc(), IssueRow.id.desc()
        ).limit(limit)
        with self._tx("listing recent issues", read_only=True) as s:
            issues = [_issue(*found) for found in s.execute(q)]
            by_id: dict[int, list[StoredPost]] = {i.id: [] for i in issues}
            gen = {i.id: i.generation for i in issues}
            if by_id:
                for row in s.scalars(select(PostRow).where(PostRow.issue_id.in_(list(by_id)))
                                     .order_by(PostRow.issue_id, PostRow.place)):
                    if row.generation == gen[row.issue_id]:
                        by_id[row.issue_id].append(_post(row))
        return [IssueWithPosts(i, tuple(by_id[i.id])) for i in issues]

    # -- state changes --------------------------------------------------------------------------

    def _move(self, issue_id: int, allowed: Iterable[IssueState], what: str,
              extra: Any = None, posts: Sequence[ThreadPost] = (), **values: Any) -> StoredIssue:
        """One conditional UPDATE: succeeds only from an allowed state (and `extra` condition).
        `left_feed` is cleared unless given: it belongs to the failed state it came with."""
        allowed_values = [x.value for x in allowed]
        values.setdefault("left_feed", False)

        def fn(s: Session) -> StoredIssue | None:
            q = update(IssueRow).where(IssueRow.id == issue_id, IssueRow.state.in_(allowed_values))
            if extra is not None:
                q = q.where(extra)
            done = _updated(s, q.values(updated_at=self.now(), **values)) == 1
            if not done:
                return None
            if posts:
                self._record_posts(s, issue_id, posts)
            # The issue as moved, read in the same transaction (not one more).
            found = s.execute(self._select_issues().where(IssueRow.id == issue_id)
                              .execution_options(populate_existing=True)).one()
            return _issue(*found)

        moved: StoredIssue | None = self._write(what, fn)
        if moved is None:
            current = self.issue(issue_id)  # raises if there is no such issue
            held = f" (claimed by {current.claimed_by})" if current.claimed_by else ""
            state = current.state.value
            raise StoreConflict(f"cannot {what} issue {current.link}: it is {state}{held}")
        return moved

    def queue(self, issue_id: int) -> StoredIssue:
        """seen → queued: to be posted by the next worker that claims it."""
        return self._move(issue_id, [_S.SEEN, _S.QUEUED], "queue", state=_S.QUEUED.value)

    def mark_seen(self, issue_id: int) -> StoredIssue:
        """queued/failed/skipped/held → seen: known, not to be posted (e.g. older than the
        backfill)."""
        return self._move(issue_id, [_S.SEEN, _S.QUEUED, _S.FAILED, _S.SKIPPED, _S.HELD],
                          "mark as seen", state=_S.SEEN.value, error=None, claimed_by=None,
                          claim_expires_at=None)

    def skip(self, issue_id: int) -> StoredIssue:
        """seen/queued/failed/held → skipped: the editor chose not to post it."""
        return self._move(issue_id, [_S.SEEN, _S.QUEUED, _S.FAILED, _S.SKIPPED, _S.HELD], "skip",
                          state=_S.SKIPPED.value, claimed_by=None, claim_expires_at=None)

    def hold(self, issue_id: int, reason: str) -> StoredIssue:
        """queued → held for the editor's review, with the reason (in `error`) and the content
        hash it is held with (`held_hash`: what the editor previews and approves)."""
        return self._move(issue_id, [_S.QUEUED], "hold", state=_S.HELD.value, error=reason,
                          held_hash=IssueRow.content_hash, claimed_by=None,
                          claim_expires_at=None)

    def approve(self, issue_id: int) -> StoredIssue:
        """held → queued, approved: the editor read it, and it is posted without another hold."""
        return self._move(issue_id, [_S.HELD], "approve", state=_S.QUEUED.value, error=None,
                          approved=True)

    def unhold(self, issue_id: int) -> StoredIssue:
        """held → queued, not approved: the issue changed and the review no longer holds it (a
        hold made on a read of the feed that has since been corrected)."""
        return self._move(issue_id, [_S.HELD], "queue again", state=_S.QUEUED.value, error=None)

    def retry(self, issue_id: int) -> StoredIssue:
        """failed → queued, forgetting the error."""
        return self._move(issue_id, [_S.FAILED], "retry", state=_S.QUEUED.value, error=None)

    def repost(self, issue_id: int) -> StoredIssue:
        """Any state but posting → queued as a new thread (generation + 1): `post --force`."""
        return self._move(issue_id, [s for s in _S if s is not _S.POSTING], "repost",
                          state=_S.QUEUED.value, error=None, posted_at=None,
                          generation=IssueRow.generation + 1)

    def mark_posting(self, issue_id: int, worker_id: str) -> StoredIssue:
        """queued/posting → posting, only for the worker holding the claim: its thread is being
        written (a crash leaves it posting; the next claimant completes it)."""
        return self._move(issue_id, [_S.QUEUED, _S.POSTING], "start posting",
                          extra=IssueRow.claimed_by == worker_id, state=_S.POSTING.value)

    @staticmethod
    def _holder(worker_id: str | None) -> Any:
        """The condition of a move out of `posting`: the worker holds the claim (None: a move
        that needs no claim — queued, or the editor's)."""
        if worker_id is None:
            return None
        return or_(IssueRow.state != _S.POSTING.value, IssueRow.claimed_by == worker_id)

    def mark_posted(self, issue_id: int, posts: Sequence[ThreadPost] = (),
                    worker_id: str | None = None) -> StoredIssue:
        """queued/posting → posted, recording its thread's posts and releasing the claim; out of
        `posting` only for `worker_id`, the claim's holder (StoreConflict otherwise)."""
        return self._move(issue_id, [_S.QUEUED, _S.POSTING], "mark as posted", posts=posts,
                          extra=self._holder(worker_id),
                          state=_S.POSTED.value, error=None, posted_at=self.now(),
                          claimed_by=None, claim_expires_at=None)

    def mark_failed(self, issue_id: int, error: str, *, left_feed: bool = False,
                    worker_id: str | None = None) -> StoredIssue:
        """queued/posting → failed with `error` (one line for the editor), releasing the claim;
        out of `posting` only for `worker_id`, the claim's holder (StoreConflict otherwise).
        `left_feed`: it failed because it is no longer in the feed (it is news again if it comes
        back); kept apart from `error`, whose wording may change between releases."""
        return self._move(issue_id, [_S.QUEUED, _S.POSTING], "mark as failed",
                          extra=self._holder(worker_id),
                          state=_S.FAILED.value, error=error, left_feed=left_feed,
                          claimed_by=None, claim_expires_at=None)

    def mark_posted_by_hand(self, issue_id: int, posts: Sequence[ThreadPost] = ()) -> StoredIssue:
        """Any state → posted: the editor says it is on Bluesky (optionally with its posts)."""
        return self._move(issue_id, list(_S), "mark as posted", posts=posts,
                          state=_S.POSTED.value, error=None, posted_at=self.now(),
                          claimed_by=None, claim_expires_at=None)

    def _record_posts(self, s: Session, issue_id: int, posts: Sequence[ThreadPost]) -> None:
        generation = s.scalar(select(IssueRow.generation).where(IssueRow.id == issue_id))
        if generation is None:
            raise StoreError(f"no issue with id {issue_id} in the store")
        for p in posts:
            done = _updated(s, update(PostRow).where(
                PostRow.issue_id == issue_id, PostRow.generation == generation,
                PostRow.place == p.place,
            ).values(rkey=p.rkey, uri=p.uri, cid=p.cid))
            if not done:
                s.add(PostRow(issue_id=issue_id, generation=generation, place=p.place, rkey=p.rkey,
                              uri=p.uri, cid=p.cid, created_at=self.now()))
        s.flush()

    def record_posts(self, issue_id: int, posts: Sequence[ThreadPost]) -> None:
        """Record (or correct) posts of the issue's current thread, by place."""
        self._write("recording posts", lambda s: self._record_posts(s, issue_id, posts))

    # -- claims ---------------------------------------------------------------------------------

    def claim(self, issue_id: int, worker_id: str, lease_seconds: float) -> bool:
        """Take (or renew) the lease to post this queued/posting issue. True for exactly one of
        several workers racing; a lease past its expiry is free for the taking."""
        now = self.now()

        def fn(s: Session) -> bool:
            q = update(IssueRow).where(
                IssueRow.id == issue_id,
                IssueRow.state.in_([_S.QUEUED.value, _S.POSTING.value]),
                or_(IssueRow.claimed_by.is_(None), IssueRow.claim_expires_at < now,
                    IssueRow.claimed_by == worker_id),
            ).values(claimed_by=worker_id, claim_expires_at=now + timedelta(seconds=lease_seconds))
            return _updated(s, q) == 1

        won: bool = self._write("claiming an issue", fn)
        return won

    def requeue(self, issue_id: int, worker_id: str) -> StoredIssue:
        """posting → queued, releasing the claim `worker_id` holds: nothing of its thread was
        written (e.g. Bluesky refused the sign-in), so it is not an interrupted post."""
        return self._move(issue_id, [_S.POSTING], "queue again",
                          extra=IssueRow.claimed_by == worker_id, state=_S.QUEUED.value,
                          claimed_by=None, claim_expires_at=None)

    def claim_posting(self, issue_id: int, worker_id: str,
                      lease_seconds: float) -> StoredIssue | None:
        """claim + mark_posting in one transaction: take the lease of this queued/posting issue
        (as `claim`) and move it to posting; the issue as moved, or None when another worker
        holds the claim (or it is no longer queued or posting)."""
        now = self.now()
        free = or_(IssueRow.claimed_by.is_(None), IssueRow.claim_expires_at < now,
                   IssueRow.claimed_by == worker_id)
        try:
            return self._move(issue_id, [_S.QUEUED, _S.POSTING], "claim for posting",
                              extra=free, claimed_by=worker_id,
                              claim_expires_at=now + timedelta(seconds=lease_seconds),
                              state=_S.POSTING.value)
        except StoreConflict:
            return None

    def release(self, issue_id: int, worker_id: str) -> bool:
        """Give the lease back (True if this worker held it)."""

        def fn(s: Session) -> bool:
            q = update(IssueRow).where(IssueRow.id == issue_id, IssueRow.claimed_by == worker_id)
            return _updated(s, q.values(claimed_by=None, claim_expires_at=None)) == 1

        released: bool = self._write("releasing a claim", fn)
        return released

    # -- the Bluesky session --------------------------------------------------------------------

    def session_keeper(self, handle: str, service: str) -> DatabaseSessionKeeper:
        """Where the SDK's session for this account on this PDS is kept."""
        return DatabaseSessionKeeper(self, handle, service)

    def load_session(self, handle: str, service: str) -> str | None:
        """The saved session string of this account on this PDS, or None."""
        with self._tx("reading the saved session", read_only=True) as s:
            return s.scalar(select(BskySessionRow.session).where(
                BskySessionRow.handle == handle, BskySessionRow.service == service))

    def save_session(self, handle: str, service: str, session: str) -> None:
        """Save (replace) the session string of this account on this PDS."""
        def fn(s: Session) -> None:
            row = s.scalar(select(BskySessionRow).where(
                BskySessionRow.handle == handle, BskySessionRow.service == service))
            if row is None:
                s.add(BskySessionRow(handle=handle, service=service, session=session,
                                     updated_at=self.now()))
            else:
                row.session, row.updated_at = session, self.now()
            s.flush()

        self._write("saving the session", fn)
