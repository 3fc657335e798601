"""Requests remember the thread the resident wrote in and their id there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add requests.thread and requests.recipient."""
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("thread", sa.String(), nullable=True))
        batch.add_column(sa.Column("recipient", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("recipient")
        batch.drop_column("thread")
