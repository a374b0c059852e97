"""Review hold and health: the `held` state, issues.approved, and the heartbeats table

An issue that is not what the newsletter profile expects is held for the editor (state `held`,
the reason in `error`); one the editor approved is not held again (`approved`). Each bot's passes
leave a heartbeat that `status --check` reads.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES_0002 = ("seen", "queued", "posting", "posted", "failed", "skipped")
STATES_0003 = (*STATES_0002, "held")


def _states(states: Sequence[str]) -> str:
    return "state IN ('" + "', '".join(states) + "')"


def upgrade() -> None:
    with op.batch_alter_table("issues") as batch:
        batch.drop_constraint(op.f("ck_issues_state"), type_="check")
        batch.create_check_constraint(op.f("ck_issues_state"), _states(STATES_0003))
        batch.add_column(
            sa.Column("approved", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "heartbeats",
        sa.Column("bot", sa.String(length=64), nullable=False),
        sa.Column("last_pass_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("auth_error", sa.Text(), nullable=True),
        sa.Column("feed_failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feed_alerted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("bot", name=op.f("pk_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
    # The previous release knows no `held`: a held issue goes back to the queue it came from.
    op.execute("UPDATE issues SET state = 'queued' WHERE state = 'held'")
    with op.batch_alter_table("issues") as batch:
        batch.drop_column("approved")
        batch.drop_constraint(op.f("ck_issues_state"), type_="check")
        batch.create_check_constraint(op.f("ck_issues_state"), _states(STATES_0002))
