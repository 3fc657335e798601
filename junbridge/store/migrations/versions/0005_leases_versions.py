"""Inbound leases and parking, request versions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 18:00:00

- ``inbound``: ``attempts``, ``lease_until`` and ``worker`` make a claim a lease (a worker
  that dies loses its messages to a live one when the lease runs out); ``conversation``
  keeps one conversation's messages in order across workers; ``parked`` is the status of a
  message whose handling failed too often, kept with its error until an admin retries it.
- ``requests.version``: every change checks and bumps it, so a stale copy never overwrites
  a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the lease, attempt and version columns and the parked status."""
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_until", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("worker", sa.String(), nullable=True))
        batch.add_column(sa.Column("conversation", sa.String(), nullable=True))
        batch.drop_constraint("ck_inbound_status", type_="check")
        batch.create_check_constraint("status", "status IN ('pending', 'done', 'failed', 'parked')")
        batch.create_index("ix_inbound_channel_conversation", ["channel", "conversation"])
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Remove them again (parked messages go back to pending)."""
    op.execute("UPDATE inbound SET status = 'pending' WHERE status = 'parked'")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("inbound") as batch:
        batch.drop_index("ix_inbound_channel_conversation")
        batch.drop_constraint("ck_inbound_status", type_="check")
        batch.create_check_constraint("status", "status IN ('pending', 'done', 'failed')")
        batch.drop_column("conversation")
        batch.drop_column("worker")
        batch.drop_column("lease_until")
        batch.drop_column("attempts")
