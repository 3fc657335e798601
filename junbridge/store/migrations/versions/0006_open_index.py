"""Open requests indexed apart.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00

- ``ix_requests_department_id``: a partial index of open requests only, so counting each
  assignee's open load (on every new report) and listing a department's open requests
  cost what the open backlog costs, not what every request the department ever had does.
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


def upgrade() -> None:
    """Add the partial index of open requests."""
    op.create_index(
        "ix_requests_department_id",
        "requests",
        ["department", "id"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_index("ix_requests_department_id", table_name="requests")
