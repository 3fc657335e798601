"""Outbox pacing: where each reply lands, and the rate buckets every worker shares.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00

- ``outbox.destination``: the conversation a reply goes to, or ``dm:<recipient>`` for a
  private answer (filled here from the stored replies). Replies to one destination are
  sent one at a time, in order; indexed with the channel and status for the claim.
- ``pacing``: one row per rate bucket (a channel's bot, one destination), holding the
  moment the bucket is full again (see junbridge/pacing.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
_BACKFILL = {
    "sqlite": "UPDATE outbox SET destination = CASE "
    "WHEN json_extract(reply, '$.private') AND json_extract(reply, '$.recipient') IS NOT NULL "
    "THEN 'dm:' || json_extract(reply, '$.recipient') "
    "ELSE json_extract(reply, '$.conversation') END",
    "postgresql": "UPDATE outbox SET destination = CASE "
    "WHEN (reply ->> 'private')::boolean AND reply ->> 'recipient' IS NOT NULL "
    "THEN 'dm:' || (reply ->> 'recipient') "
    "ELSE reply ->> 'conversation' END",
}


def upgrade() -> None:
    """Add the destination (filled from each stored reply) and the pacing table."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("destination", sa.String(), nullable=True))
        batch.create_index(
            "ix_outbox_channel_destination_status", ["channel", "destination", "status"]
        )
    op.execute(_BACKFILL[op.get_bind().dialect.name])
    op.create_table(
        "pacing",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("tat", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_pacing"),
    )


def downgrade() -> None:
    """Remove them (the outbox then sends as fast as each platform answers)."""
    op.drop_table("pacing")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_channel_destination_status")
        batch.drop_column("destination")
