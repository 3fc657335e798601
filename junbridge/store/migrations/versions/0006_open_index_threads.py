"""Open requests indexed apart, and the thread each delivered message started.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00

- ``ix_requests_department_id``: a partial index of open requests only, so counting each
  assignee's open load (on every new report) and listing a department's open requests
  cost what the open backlog costs, not what every request the department ever had does.
- ``threads``: (channel, conversation, platform message id) -> request, one row per id a
  delivered reply was given, so a staff command in a card's thread is one indexed lookup.
  Filled here from the replies already delivered; the newest reply holding an id wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: this migration must build the same index whatever the model says
# later. Constants, not parameters, so queries that say the same can use the index; in
# brackets as schema.py renders it, so SQLite stores the very same CREATE INDEX.
OPEN = sa.text("(state NOT IN ('closed', 'rejected', 'duplicate'))")

# One row per (outbox row, id it was delivered as), the newest row for each key kept: what
# reference_for_thread used to find by reading the sent outbox rows newest first. Only string
# conversations and ids, as the old ``thread in platform_ids`` comparison of strings matched.
_BACKFILL = """
INSERT INTO threads (channel, conversation, thread, request_reference, outbox_id)
SELECT channel, conversation, thread, request_reference, id FROM (
    SELECT o.id, o.channel, o.request_reference,
           {conversation} AS conversation, {thread} AS thread,
           row_number() OVER (
               PARTITION BY o.channel, {conversation}, {thread} ORDER BY o.id DESC
           ) AS newest
    FROM outbox AS o {each}
    WHERE o.status = 'sent' AND o.request_reference IS NOT NULL AND {strings}
) AS posted
WHERE newest = 1
"""
_SQLITE = {
    "conversation": "json_extract(o.reply, '$.conversation')",
    "thread": "t.value",
    "each": ", json_each(o.platform_ids) AS t",
    "strings": "json_type(o.reply, '$.conversation') = 'text' AND t.type = 'text'",
}
_POSTGRESQL = {
    "conversation": "(o.reply ->> 'conversation')",
    "thread": "(t.value #>> '{}')",
    "each": "CROSS JOIN LATERAL json_array_elements(o.platform_ids) AS t(value)",
    "strings": (
        "json_typeof(o.reply -> 'conversation') = 'string' AND json_typeof(t.value) = 'string'"
    ),
}


def upgrade() -> None:
    """Add the partial index and the threads table, filled from delivered replies."""
    op.create_index(
        "ix_requests_department_id",
        "requests",
        ["department", "id"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "threads",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("conversation", sa.String(), nullable=False),
        sa.Column("thread", sa.String(), nullable=False),
        sa.Column("request_reference", sa.String(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name="fk_threads_outbox_id_outbox",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel", "conversation", "thread", name="pk_threads"),
    )
    op.create_index("ix_threads_outbox_id", "threads", ["outbox_id"])
    parts = _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL
    op.execute(_BACKFILL.format(**parts))


def downgrade() -> None:
    """Drop them again (reference_for_thread of 0005 reads the outbox itself)."""
    op.drop_index("ix_threads_outbox_id", table_name="threads")
    op.drop_table("threads")
    op.drop_index("ix_requests_department_id", table_name="requests")
