"""Rate limits kept in the store, and the question a resident has to answer, indexed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00

- ``inbound.resident_id`` and ``inbound.counted_at``: a message that passed the limits
  counts toward its resident's per-minute and per-day limits from ``counted_at`` (when the
  resident wrote it). Indexed together: one read per batch of messages.
- ``residents.limit_notice_until``: a resident over a limit was told so; no second notice
  before then.
- ``requests.awaiting``: "fixed" or "rating" while the resident has a question to answer
  (``details["awaiting"]``, filled from it here), in a partial index by resident.

Messages handled before this migration are not counted: limits start afresh, as they did
at every restart when they lived in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
AWAITING = sa.text("awaiting IS NOT NULL")
_BACKFILL = {
    "sqlite": "UPDATE requests SET awaiting = json_extract(details, '$.awaiting') "
    "WHERE json_type(details, '$.awaiting') = 'text'",
    "postgresql": "UPDATE requests SET awaiting = details ->> 'awaiting' "
    "WHERE json_typeof(details -> 'awaiting') = 'string'",
}


def upgrade() -> None:
    """Add the counting columns and their index, and the notice column."""
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("resident_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("counted_at", UTC_DATETIME, nullable=True))
        batch.create_index("ix_inbound_resident_id_counted_at", ["resident_id", "counted_at"])
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("limit_notice_until", UTC_DATETIME, nullable=True))
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("awaiting", sa.String(), nullable=True))
    op.create_index(
        "ix_requests_awaiting",
        "requests",
        ["resident_id"],
        sqlite_where=AWAITING,
        postgresql_where=AWAITING,
    )
    op.execute(_BACKFILL[op.get_bind().dialect.name])


def downgrade() -> None:
    """Remove them again (limits are then counted in memory, per process)."""
    op.drop_index("ix_requests_awaiting", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("awaiting")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("limit_notice_until")
    with op.batch_alter_table("inbound") as batch:
        batch.drop_index("ix_inbound_resident_id_counted_at")
        batch.drop_column("counted_at")
        batch.drop_column("resident_id")
