"""The town's figures of each request, in a table of their own, indexed for the public page.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 10:00:00

- ``request_figures``: one row per request with what the transparency page, ``/metrics``
  and ``junbridge requests stats`` count of it (``answer_seconds``, ``fix_seconds``,
  ``closed_at``, ``promise_kept``, ``rating``: see ``junbridge/store/measures.py``) beside
  when it was made and promised, its department, privacy and state. Written whenever the
  request is saved; filled here from the history of every stored request.
- ``ix_request_figures_made``: the figures of a period are a range of one index;
  ``ix_request_figures_open``: what is open now; ``ix_request_figures_closed``: requests
  closed since a day (the backlog chart).

The filling repeats measures.py's rules as they stand at this revision, so that a later
change of those rules cannot change what this migration does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
IS_CLOSED = sa.text("closed_at IS NOT NULL")
CHUNK = 2_000

ANSWERS = frozenset(
    {"acknowledged", "in_progress", "resolved", "rejected", "duplicate", "reply", "referred"}
)
CLOSED = frozenset({"closed", "rejected", "duplicate"})
RESIDENT_LABEL = re.compile(r"^[a-z_]+:\S+$")

_requests = sa.table(
    "requests",
    sa.column("id", sa.Integer()),
    sa.column("state", sa.String()),
    sa.column("department", sa.String()),
    sa.column("privacy", sa.String()),
    sa.column("requested_datetime", UTC_DATETIME),
    sa.column("expected_datetime", UTC_DATETIME),
    sa.column("details", sa.JSON()),
)
_history = sa.table(
    "history",
    sa.column("request_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("at", UTC_DATETIME),
    sa.column("by", sa.String()),
    sa.column("action", sa.String()),
    sa.column("state", sa.String()),
)
OPEN = sa.text("(state NOT IN ('closed', 'rejected', 'duplicate'))")


def upgrade() -> None:
    """Create the table and its indexes, and fill it from each request's history."""
    figures = op.create_table(
        "request_figures",
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("requested_datetime", UTC_DATETIME, nullable=False),
        sa.Column("expected_datetime", UTC_DATETIME, nullable=True),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("privacy", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("answer_seconds", sa.Integer(), nullable=True),
        sa.Column("fix_seconds", sa.Integer(), nullable=True),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("promise_kept", sa.Boolean(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name="fk_request_figures_request_id_requests",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name="pk_request_figures"),
    )
    assert figures is not None
    _fill(op.get_bind(), figures)
    op.create_index(
        "ix_request_figures_made",
        "request_figures",
        [
            "requested_datetime",
            "department",
            "privacy",
            "state",
            "answer_seconds",
            "fix_seconds",
            "promise_kept",
            "rating",
        ],
    )
    op.create_index(
        "ix_request_figures_open",
        "request_figures",
        [
            "department",
            "privacy",
            "state",
            "expected_datetime",
            "promise_kept",
            "requested_datetime",
        ],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index(
        "ix_request_figures_closed",
        "request_figures",
        ["closed_at", "department", "privacy"],
        sqlite_where=IS_CLOSED,
        postgresql_where=IS_CLOSED,
    )


def downgrade() -> None:
    """Remove it again."""
    op.drop_table("request_figures")


def _fill(connection: sa.Connection, figures: sa.Table) -> None:
    last = 0
    while True:
        rows = connection.execute(
            sa.select(_requests).where(_requests.c.id > last).order_by(_requests.c.id).limit(CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        lines: dict[int, list[Any]] = {row.id: [] for row in rows}
        for line in connection.execute(
            sa.select(_history)
            .where(_history.c.request_id.in_(list(lines)))
            .order_by(_history.c.request_id, _history.c.position)
        ):
            lines[line.request_id].append(line)
        connection.execute(sa.insert(figures), [_figures(row, lines[row.id]) for row in rows])


def _figures(row: Any, lines: list[Any]) -> dict[str, Any]:
    answered = resolved = closed = None
    breached = False
    for line in lines:
        at = _utc(line.at)
        staff = line.by not in ("junbridge", "resident") and not RESIDENT_LABEL.match(line.by)
        if answered is None and line.action in ANSWERS and staff:
            answered = at
        if resolved is None and line.action == "resolved":
            resolved = at
        breached = breached or line.action == "sla_breach"
        if line.state in CLOSED:
            closed = at
    requested, expected = _utc(row.requested_datetime), _utc(row.expected_datetime)
    kept = None
    if expected is not None:
        if breached or (resolved is not None and resolved > expected):
            kept = False
        elif resolved is not None:
            kept = True
    rating = (row.details or {}).get("rating")
    return {
        "request_id": row.id,
        "requested_datetime": requested,
        "expected_datetime": expected,
        "department": row.department,
        "privacy": row.privacy,
        "state": row.state,
        "answer_seconds": _seconds(requested, answered),
        "fix_seconds": _seconds(requested, resolved),
        "closed_at": closed if row.state in CLOSED else None,
        "promise_kept": kept,
        "rating": int(str(rating)) if str(rating).isdigit() else None,
    }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))
