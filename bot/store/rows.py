"""Rows to the plain values the store hands out (bot.store.types), shared by its repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.core.address import PostAddress
from bot.store.models import FeedRow, IssueRow, IssueState, PostRow
from bot.store.types import StoredIssue, StoredPost


def issue_value(row: IssueRow, feed_url: str, bot: str) -> StoredIssue:
    return StoredIssue(
        id=row.id, bot=bot, feed_url=feed_url, guid=row.guid, link=row.link, title=row.title,
        published=row.published, content_hash=row.content_hash, state=IssueState(row.state),
        error=row.error, left_feed=row.left_feed, approved=row.approved, generation=row.generation,
        claimed_by=row.claimed_by, claim_expires_at=row.claim_expires_at, created_at=row.created_at,
        updated_at=row.updated_at, posted_at=row.posted_at, key_time=row.key_time,
        held_hash=row.held_hash,
    )


def select_issues() -> Any:
    """Issues with their feed's URL and bot (what issue_value needs)."""
    return select(IssueRow, FeedRow.url, FeedRow.bot).join(FeedRow, IssueRow.feed_id == FeedRow.id)


def post_value(row: PostRow) -> StoredPost:
    # The row keeps uri and rkey as columns (queries and old rows); the value parses the URI once.
    return StoredPost(generation=row.generation, place=row.place,
                      address=PostAddress.parse(row.uri, row.cid), created_at=row.created_at)
