"""The staff console's sign-in: one-time links, sessions and passwords.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14 10:00:00

- ``staff_sign_ins``: a one-time sign-in link sent to a staff place, by the SHA-256 of its
  token, with whom it signs in, until when, and when it was used (once).
- ``staff_sessions``: a signed-in browser, by the SHA-256 of its cookie, with its CSRF token
  and expiry.
- ``staff_passwords``: a staff member's console password (scrypt), set by an admin.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "staff_sign_ins",
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("staff", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_staff_sign_ins"),
    )
    op.create_index("ix_staff_sign_ins_staff_created_at", "staff_sign_ins", ["staff", "created_at"])
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(), nullable=False),
        sa.Column("staff", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("csrf", sa.String(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_staff_sessions"),
    )
    op.create_index("ix_staff_sessions_expires_at", "staff_sessions", ["expires_at"])
    op.create_table(
        "staff_passwords",
        sa.Column("staff", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("set_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("staff", name="pk_staff_passwords"),
    )


def downgrade() -> None:
    """Drop them again: every session ends, every password is forgotten."""
    op.drop_table("staff_passwords")
    op.drop_table("staff_sessions")
    op.drop_table("staff_sign_ins")
