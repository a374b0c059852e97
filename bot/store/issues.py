"""Issues: what the bot has seen in its feeds, and every move of an issue from state to state.

State changes are single conditional UPDATEs (`… WHERE state IN (allowed)`), so two workers
racing for the same issue cannot both succeed; `claim` is the lease a worker takes before posting.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from bot.core.address import ThreadPost
from bot.errors import StoreConflict, StoreError
from bot.log import event as log_event
from bot.store.database import Database, updated
from bot.store.feeds import feed_row
from bot.store.models import FeedRow, IssueRow, IssueState
from bot.store.posts import write_posts
from bot.store.rows import issue_value, select_issues
from bot.store.types import NewIssue, StoredIssue, Upserted

logger = logging.getLogger(__name__)

_S = IssueState


class Issues:
    """The issues of the database's bot (every bot's, read only, when it has none)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, feed_url: str, *, guid: str, link: str, title: str,
                     published: datetime | None, content_hash: str,
                     state: IssueState = IssueState.SEEN, reason: str | None = None,
                     ) -> Upserted:
        """Record an issue seen in the feed. A new one is stored in `state`; a known one keeps its
        state (an edited issue — same guid, new content hash — is never queued again: the change
        is stored, logged as `issue.edited` and returned). `reason`: why a new issue is not
        posted (kept in `error`, as a hold's reason is)."""
        return self.upsert_many(feed_url, [NewIssue(
            guid=guid, link=link, title=title, published=published, content_hash=content_hash,
            state=state, reason=reason)])[0]

    def upsert_many(self, feed_url: str, issues: Sequence[NewIssue]) -> list[Upserted]:
        """`upsert` for many issues in ONE transaction: a huge feed's first pass costs one
        commit, not one per entry (10,000 entries took 100 s, one fsync each)."""
        for issue in issues:
            if issue.published is not None and issue.published.tzinfo is None:
                raise StoreError(f"issue {issue.link}: its date has no time zone")

        def fn(s: Session) -> list[Upserted]:
            feed = feed_row(self._db, s, feed_url)
            now = self._db.now()
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
                Upserted(issue_value(row, feed_url, feed.bot), created=True) if created else
                Upserted(issue_value(row, feed_url, feed.bot), created=False,
                         edited=previous != row.content_hash,
                         previous_hash=previous if previous != row.content_hash else None)
                for row, created, previous in made
            ]

        results: list[Upserted] = self._db.write("recording an issue", fn)
        for issue, result in zip(issues, results, strict=True):
            if result.edited:
                log_event(logger, "issue.edited", link=issue.link,
                          state=result.issue.state.value,
                          note="content changed after it was first seen; not posted again")
        return results

    def get(self, issue_id: int) -> StoredIssue:
        """The issue with this id; StoreError if there is none."""
        with self._db.tx("reading an issue", read_only=True) as s:
            found = s.execute(select_issues().where(IssueRow.id == issue_id)).first()
            issue = issue_value(*found) if found else None
        if issue is None:
            raise StoreError(f"no issue with id {issue_id} in the store")
        return issue

    def find(self, feed_url: str, guid: str) -> StoredIssue | None:
        """The issue with this guid in this feed, if recorded."""
        with self._db.tx("reading an issue", read_only=True) as s:
            found = s.execute(self._db.scoped(select_issues()).where(
                FeedRow.url == feed_url, IssueRow.guid == guid)).first()
            return issue_value(*found) if found else None

    def find_by_link(self, link: str) -> StoredIssue | None:
        """The issue with this link (the most recently recorded one, if several feeds have it)."""
        with self._db.tx("reading an issue", read_only=True) as s:
            found = s.execute(self._db.scoped(select_issues()).where(IssueRow.link == link)
                              .order_by(IssueRow.id.desc()).limit(1)).first()
            return issue_value(*found) if found else None

    def all(self, states: Iterable[IssueState] | None = None,
               feed_url: str | None = None) -> list[StoredIssue]:
        """Issues (in these states, of this feed), oldest published first: the posting order."""
        q = self._db.scoped(select_issues())
        if states is not None:
            q = q.where(IssueRow.state.in_([IssueState(x).value for x in states]))
        if feed_url is not None:
            q = q.where(FeedRow.url == feed_url)
        q = q.order_by(func.coalesce(IssueRow.published, IssueRow.created_at), IssueRow.id)
        with self._db.tx("listing issues", read_only=True) as s:
            return [issue_value(*found) for found in s.execute(q)]

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
            done = updated(s, q.values(updated_at=self._db.now(), **values)) == 1
            if not done:
                return None
            if posts:
                write_posts(self._db, s, issue_id, posts)
            # The issue as moved, read in the same transaction (not one more).
            found = s.execute(select_issues().where(IssueRow.id == issue_id)
                              .execution_options(populate_existing=True)).one()
            return issue_value(*found)

        moved: StoredIssue | None = self._db.write(what, fn)
        if moved is None:
            current = self.get(issue_id)  # raises if there is no such issue
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
                          state=_S.POSTED.value, error=None, posted_at=self._db.now(),
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
                          state=_S.POSTED.value, error=None, posted_at=self._db.now(),
                          claimed_by=None, claim_expires_at=None)

    # -- claims ---------------------------------------------------------------------------------

    def claim(self, issue_id: int, worker_id: str, lease_seconds: float) -> bool:
        """Take (or renew) the lease to post this queued/posting issue. True for exactly one of
        several workers racing; a lease past its expiry is free for the taking."""
        now = self._db.now()

        def fn(s: Session) -> bool:
            q = update(IssueRow).where(
                IssueRow.id == issue_id,
                IssueRow.state.in_([_S.QUEUED.value, _S.POSTING.value]),
                or_(IssueRow.claimed_by.is_(None), IssueRow.claim_expires_at < now,
                    IssueRow.claimed_by == worker_id),
            ).values(claimed_by=worker_id, claim_expires_at=now + timedelta(seconds=lease_seconds))
            return updated(s, q) == 1

        won: bool = self._db.write("claiming an issue", fn)
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
        now = self._db.now()
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
            return updated(s, q.values(claimed_by=None, claim_expires_at=None)) == 1

        released: bool = self._db.write("releasing a claim", fn)
        return released

