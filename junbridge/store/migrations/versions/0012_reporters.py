"""Nearby reports join one request: who reported it, how many, and where requests are.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00

- ``reporters``: residents who reported an open request again (nearby, in a public
  department) and were added to it instead of opening another, with where each wrote and
  in which language; one row per resident and request.
- ``requests.reporters``: how many residents reported it (1 for every request so far).
- ``ix_requests_department_lat_long``, ``ix_requests_department_address`` and
  ``ix_requests_department_address_id``: partial indexes of the open requests that have
  that place, so that a new report finds an open request near it (a box around its point),
  in its street or at its lamp number without reading the department's other requests.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
# Written out, as in 0006, as schema.py renders them: open requests that have that place.
OPEN = "(state NOT IN ('closed', 'rejected', 'duplicate'))"
PLACES = {
    "ix_requests_department_lat_long": ["department", "lat", "long"],
    "ix_requests_department_address": ["department", "address"],
    "ix_requests_department_address_id": ["department", "address_id"],
}


def upgrade() -> None:
    """Add the reporters table, the count and the indexes of open requests by place."""
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("reporters", sa.Integer(), nullable=False, server_default="1"))
    for name, columns in PLACES.items():
        where = sa.text(f"{OPEN} AND {columns[1]} IS NOT NULL")
        op.create_index(name, "requests", columns, sqlite_where=where, postgresql_where=where)
    op.create_table(
        "reporters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("conversation", sa.String(), nullable=False),
        sa.Column("thread", sa.String(), nullable=True),
        sa.Column("recipient", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("added_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name="fk_reporters_request_id_requests",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name="fk_reporters_resident_id_residents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reporters"),
        sa.UniqueConstraint(
            "request_id", "resident_id", name="uq_reporters_request_id_resident_id"
        ),
    )
    op.create_index("ix_reporters_resident_id", "reporters", ["resident_id"])


def downgrade() -> None:
    """Remove them again (those who joined a request are no longer told of its changes)."""
    op.drop_index("ix_reporters_resident_id", table_name="reporters")
    op.drop_table("reporters")
    for name in PLACES:
        op.drop_index(name, table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("reporters")
