"""feeds, issues, posts, bsky_session

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("etag", sa.String(length=1024), nullable=True),
        sa.Column("last_modified", sa.String(length=128), nullable=True),
        sa.Column("last_checked_at", UTC, nullable=True),
        sa.Column("last_outcome", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feeds")),
        sa.UniqueConstraint("url", name=op.f("uq_feeds_url")),
    )
    op.create_table(
        "issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(length=1024), nullable=False),
        sa.Column("link", sa.String(length=2048), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published", UTC, nullable=True),
        sa.Column("content_hash", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="seen", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_by", sa.String(length=256), nullable=True),
        sa.Column("claim_expires_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("posted_at", UTC, nullable=True),
        sa.CheckConstraint(
            "state IN ('seen', 'queued', 'posting', 'posted', 'failed', 'skipped')",
            name=op.f("ck_issues_state"),
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_issues_feed_id_feeds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issues")),
        sa.UniqueConstraint("feed_id", "guid", name=op.f("uq_issues_feed_id_guid")),
    )
    op.create_index("ix_issues_link", "issues", ["link"], unique=False)
    op.create_index("ix_issues_state", "issues", ["state"], unique=False)
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("place", sa.Integer(), nullable=False),
        sa.Column("rkey", sa.String(length=512), nullable=False),
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("cid", sa.String(length=256), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["issues.id"], name=op.f("fk_posts_issue_id_issues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint(
            "issue_id", "generation", "place", name=op.f("uq_posts_issue_id_generation_place")
        ),
    )
    op.create_table(
        "bsky_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=256), nullable=False),
        sa.Column("service", sa.String(length=2048), nullable=False),
        sa.Column("session", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bsky_session")),
        sa.UniqueConstraint("handle", "service", name=op.f("uq_bsky_session_handle_service")),
    )


def downgrade() -> None:
    op.drop_table("bsky_session")
    op.drop_table("posts")
    op.drop_index("ix_issues_state", table_name="issues")
    op.drop_index("ix_issues_link", table_name="issues")
    op.drop_table("issues")
    op.drop_table("feeds")
