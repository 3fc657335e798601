"""Requests indexed by when they were made, alone and by service, for Open311.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 10:00:00

``GET /open311/v2/requests`` reads the last 90 days of reports (or a range a client asks
for), of one service or of all, newest first. Without these it reads every request ever
made; with them, what the range holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two indexes."""
    op.create_index("ix_requests_requested_datetime", "requests", ["requested_datetime"])
    op.create_index(
        "ix_requests_service_code_requested_datetime",
        "requests",
        ["service_code", "requested_datetime"],
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_requests_service_code_requested_datetime", table_name="requests")
    op.drop_index("ix_requests_requested_datetime", table_name="requests")
