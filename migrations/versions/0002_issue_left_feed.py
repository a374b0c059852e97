"""issues.left_feed: an issue failed because it left the feed, kept apart from its error text

Until now that fact was the error message itself (the worker compared `error` with its text), so
rewording the message would have changed what the bot does with rows already stored. The upgrade
sets the flag on exactly the rows the previous release wrote with that text; the downgrade puts
the text back on flagged rows, so the previous release still reads them as before.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The error the 0001 release stored on a queued issue that left the feed, word for word. Frozen
# here on purpose: it is what rows written by that release hold, whatever the bot says today.
GONE_0001 = (
    "it is no longer in the feed (unpublished?); it is queued again if it comes back; "
    "`post --entry LINK --feed FILE` posts it from a saved copy of the feed"
)

issues = sa.table(
    "issues",
    sa.column("state", sa.String),
    sa.column("error", sa.Text),
    sa.column("left_feed", sa.Boolean),
)


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.add_column(
            sa.Column("left_feed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        issues.update()
        .where(issues.c.state == "failed", issues.c.error == GONE_0001)
        .values(left_feed=sa.true())
    )


def downgrade() -> None:
    op.execute(
        issues.update()
        .where(issues.c.state == "failed", issues.c.left_feed == sa.true())
        .values(error=GONE_0001)
    )
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("left_feed")
