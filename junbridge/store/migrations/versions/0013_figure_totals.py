"""Running totals of the town's figures per hour and per day, for pages over long periods.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 10:00:00

- ``figure_hours``: per UTC hour of the report ('YYYY-MM-DD HH'), department and privacy:
  requests made, of those closed, promises kept and broken, ratings 1 to 5; and requests
  closed in that hour.
- ``figure_spans``: per UTC day of the report, department, privacy and measure (``answer``,
  ``fix``): how many took a number of seconds in each span (exact below 64 s, then 1/32 of
  a doubling wide), and those seconds in all.

Both are filled here from ``request_figures``, in SQL, with the rules as they stand at this
revision (junbridge/store/totals.py keeps them from now on).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOTALS = ("made", "made_closed", "kept", "broken", *(f"rated_{n}" for n in range(1, 6)), "closed")
CLOSED = "('closed', 'rejected', 'duplicate')"
EXACT = 64


def _text(column: str, length: int) -> str:
    if op.get_bind().dialect.name == "sqlite":
        return f"substr({column}, 1, {length})"
    shape = "YYYY-MM-DD HH24" if length == 13 else "YYYY-MM-DD"
    return f"to_char({column} AT TIME ZONE 'UTC', '{shape}')"


def _span(column: str) -> str:
    whens = [f"WHEN {column} < {EXACT} THEN {column}"]
    low, step = EXACT, 1
    while low < 2**31:
        whens.append(f"WHEN {column} < {low * 2} THEN ({column} / {step * 2}) * {step * 2}")
        low, step = low * 2, step * 2
    return f"CASE {' '.join(whens)} ELSE {column} END"


def upgrade() -> None:
    """Create both tables and fill them from every request's figures."""
    op.create_table(
        "figure_hours",
        sa.Column("hour", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("privacy", sa.String(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in TOTALS),
        sa.PrimaryKeyConstraint("hour", "department", "privacy", name="pk_figure_hours"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "figure_spans",
        sa.Column("day", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("privacy", sa.String(), nullable=False),
        sa.Column("measure", sa.String(), nullable=False),
        sa.Column("span", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "department", "privacy", "measure", "span", name="pk_figure_spans"
        ),
        sqlite_with_rowid=False,
    )
    flag = "CASE WHEN {} THEN 1 ELSE 0 END".format
    made = [
        "1",
        flag(f"state IN {CLOSED}"),
        flag("promise_kept IS TRUE"),
        flag("promise_kept IS FALSE"),
        *(flag(f"rating = {n}") for n in range(1, 6)),
        "0",
    ]
    nothing = ", ".join(["0"] * (len(TOTALS) - 1))
    summed = ", ".join(f"SUM({name})" for name in TOTALS)
    listed = ", ".join(TOTALS)
    op.execute(
        f"INSERT INTO figure_hours (hour, department, privacy, {listed}) "
        f"SELECT hour, department, privacy, {summed} FROM ("
        f"SELECT {_text('requested_datetime', 13)} AS hour, department, privacy, "
        + ", ".join(f"{value} AS {name}" for value, name in zip(made, TOTALS, strict=True))
        + " FROM request_figures UNION ALL "
        f"SELECT {_text('closed_at', 13)}, department, privacy, {nothing}, 1 "
        "FROM request_figures WHERE closed_at IS NOT NULL"
        ") AS made GROUP BY hour, department, privacy"
    )
    for measure, column in (("answer", "answer_seconds"), ("fix", "fix_seconds")):
        op.execute(
            "INSERT INTO figure_spans (day, department, privacy, measure, span, n, seconds) "
            f"SELECT day, department, privacy, '{measure}', span, COUNT(*), SUM(value) FROM ("
            f"SELECT {_text('requested_datetime', 10)} AS day, department, privacy, "
            f"{_span(column)} AS span, {column} AS value FROM request_figures "
            f"WHERE {column} IS NOT NULL) AS spans GROUP BY day, department, privacy, span"
        )


def downgrade() -> None:
    """Remove them again (the figures are then counted from request_figures alone)."""
    op.drop_table("figure_spans")
    op.drop_table("figure_hours")
