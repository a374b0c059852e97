"""Several bots in one database: feeds (and so their issues and posts) belong to a bot; leases
and daemons let several daemons divide the bots

A database made by an earlier release holds one bot's rows: they belong to `default`, the bot the
environment describes when no BOTS_FILE is given, so an existing deployment goes on unchanged.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(
            sa.Column("bot", sa.String(length=64), server_default="default", nullable=False)
        )
        batch.drop_constraint(op.f("uq_feeds_url"), type_="unique")
        batch.create_unique_constraint(op.f("uq_feeds_bot_url"), ["bot", "url"])
    op.create_table(
        "bot_leases",
        sa.Column("bot", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot", name=op.f("pk_bot_leases")),
    )
    op.create_table(
        "daemons",
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daemons")),
    )


def downgrade() -> None:
    op.drop_table("daemons")
    op.drop_table("bot_leases")
    # The previous release knows one bot: only the default bot's feeds can go back.
    op.execute("DELETE FROM feeds WHERE bot <> 'default'")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_constraint(op.f("uq_feeds_bot_url"), type_="unique")
        batch.create_unique_constraint(op.f("uq_feeds_url"), ["url"])
        batch.drop_column("bot")
