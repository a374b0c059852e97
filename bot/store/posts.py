"""Posts: the rows of each issue's thread on Bluesky (one per place, per generation)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.core.address import ThreadPost
from bot.errors import StoreError
from bot.store.database import Database, updated
from bot.store.models import FeedRow, IssueRow, PostRow
from bot.store.rows import issue_value, post_value, select_issues
from bot.store.types import IssueWithPosts, StoredPost


def write_posts(db: Database, s: Session, issue_id: int, posts: Sequence[ThreadPost]) -> None:
    """Record (or correct) posts of the issue's current thread, by place, in session `s` (also
    the issues' moves to posted: the same transaction)."""
    generation = s.scalar(select(IssueRow.generation).where(IssueRow.id == issue_id))
    if generation is None:
        raise StoreError(f"no issue with id {issue_id} in the store")
    for p in posts:
        done = updated(s, update(PostRow).where(
            PostRow.issue_id == issue_id, PostRow.generation == generation,
            PostRow.place == p.place,
        ).values(rkey=p.rkey, uri=p.uri, cid=p.cid))
        if not done:
            s.add(PostRow(issue_id=issue_id, generation=generation, place=p.place, rkey=p.rkey,
                          uri=p.uri, cid=p.cid, created_at=db.now()))
    s.flush()


class Posts:
    """The posts of the database's bot's issues."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def of(self, issue_id: int, generation: int | None = None) -> list[StoredPost]:
        """The posts of an issue's thread (its current generation by default), root first."""
        with self._db.tx("reading posts", read_only=True) as s:
            if generation is None:
                generation = s.scalar(select(IssueRow.generation).where(IssueRow.id == issue_id))
            rows = s.scalars(select(PostRow).where(
                PostRow.issue_id == issue_id, PostRow.generation == generation
            ).order_by(PostRow.place))
            return [post_value(r) for r in rows]

    def record(self, issue_id: int, posts: Sequence[ThreadPost]) -> None:
        """Record (or correct) posts of the issue's current thread, by place."""
        self._db.write("recording posts", lambda s: write_posts(self._db, s, issue_id, posts))

    def recent(self, limit: int = 20, bots: Sequence[str] | None = None) -> list[IssueWithPosts]:
        """The newest issues with the posts of their current thread: what `status` shows (of
        this store's bot, or of `bots` when it reads every bot's)."""
        q = self._db.scoped(select_issues())
        if bots is not None:
            q = q.where(FeedRow.bot.in_(list(bots)))
        q = q.order_by(
            func.coalesce(IssueRow.published, IssueRow.created_at).desc(), IssueRow.id.desc()
        ).limit(limit)
        with self._db.tx("listing recent issues", read_only=True) as s:
            issues = [issue_value(*found) for found in s.execute(q)]
            by_id: dict[int, list[StoredPost]] = {i.id: [] for i in issues}
            gen = {i.id: i.generation for i in issues}
            if by_id:
                for row in s.scalars(select(PostRow).where(PostRow.issue_id.in_(list(by_id)))
                                     .order_by(PostRow.issue_id, PostRow.place)):
                    if row.generation == gen[row.issue_id]:
                        by_id[row.issue_id].append(post_value(row))
        return [IssueWithPosts(i, tuple(by_id[i.id])) for i in issues]
