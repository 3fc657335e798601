"""How many requests are in each state, kept as they change, for /metrics.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14 10:00:00

- ``figure_states``: per department, privacy and state, how many requests are in it now.
  /metrics counted them with a GROUP BY over every request_figures row at each scrape
  (1.0-1.8 s on SQLite at a million requests); junbridge/store/totals.py moves these rows
  in the transaction that changes a request, as it moves figure_hours.

Filled here from ``request_figures`` in one GROUP BY.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table and count every request's state into it."""
    op.create_table(
        "figure_states",
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("privacy", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("department", "privacy", "state", name="pk_figure_states"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO figure_states (department, privacy, state, n) "
        "SELECT department, privacy, state, COUNT(*) FROM request_figures "
        "GROUP BY department, privacy, state"
    )


def downgrade() -> None:
    """Remove it again (/metrics then counts request_figures at each scrape)."""
    op.drop_table("figure_states")
