"""Each request's Open311 status_notes as it was saved, so GET requests reads no history.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-13 10:00:00

- ``request_figures.state_notes``: the request's state in words with the note that put it
  there (``"rejected: no es municipal"``, ``"resolved, closed: bombilla nueva"``), written
  with every save. Requests saved before stay NULL, and Open311 words them from their
  history as before: nothing to fill here, however large the store. In request_figures,
  not requests: a wider requests table turns SQLite's planner (no statistics) away from
  the partial index of open requests.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    with op.batch_alter_table("request_figures") as batch:
        batch.add_column(sa.Column("state_notes", sa.Text(), nullable=True))


def downgrade() -> None:
    """Remove it again."""
    with op.batch_alter_table("request_figures") as batch:
        batch.drop_column("state_notes")
