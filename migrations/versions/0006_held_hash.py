"""The issue as held: issues.held_hash

The content hash of an issue when the review held it, so that `approve` posts what the editor
previewed, or refuses when the feed has changed the issue since (`approve --as-now` takes the
feed's version). Empty for issues never held.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(sa.Column("held_hash", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("held_hash")
