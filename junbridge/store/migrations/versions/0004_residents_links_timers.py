"""Blocked residents, account-linking codes, and timers for follow-ups and SLA alerts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 19:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add residents.blocked_at/blocked_reason, link_codes and timers."""
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("blocked_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("blocked_reason", sa.String(), nullable=True))
    op.create_table(
        "link_codes",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name="fk_link_codes_resident_id_residents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name="pk_link_codes"),
    )
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_reference", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("done_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
    )
    op.create_index("ix_timers_request_reference", "timers", ["request_reference"])
    op.create_index("ix_timers_done_at_due_at", "timers", ["done_at", "due_at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_timers_done_at_due_at", table_name="timers")
    op.drop_index("ix_timers_request_reference", table_name="timers")
    op.drop_table("timers")
    op.drop_table("link_codes")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("blocked_reason")
        batch.drop_column("blocked_at")
