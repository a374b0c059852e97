"""Record keys fixed when an issue is first seen: `issues.key_time` keeps the date its thread's
record keys are made from, set once and never changed by an edit of the feed's date

Before, keys came from `published`, which an edit updates: a crash, an edited date and a retry
could address a second thread. An existing issue's keys were made from its `published`, so that
is its key time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("key_time", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE issues SET key_time = published")


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("key_time")
