"""Running totals of the town's figures, per hour and per day, kept as requests change.

``request_figures`` holds one row per request (``measures.py``); the public page counts the
requests of the last 90 days, a quarter of a million rows in a city's store of a million.
So each change to a ``request_figures`` row also moves three small tables, in the same
transaction (``Transaction.finish``):

- ``figure_hours``: per UTC hour of the report, department and privacy, how many requests
  were made, of those how many are closed, promises kept and broken, ratings 1 to 5; and
  how many requests were closed in that hour (the backlog chart goes back from them).
- ``figure_spans``: per UTC day of the report, department, privacy and measure (``answer``,
  ``fix``), how many requests took a number of seconds within each *span*, and those
  seconds in all. A span is exact below a minute and then about 3% wide (``span_of``):
  a median read from them is the mean of the span it falls in, within that span of the
  exact one, and exact when the values there are equal.
- ``figure_states``: per department, privacy and state, how many requests are in it now
  (``/metrics``).

A transaction adds what its rows count now and takes away what they counted before, summed
per total row and written in one ``INSERT … ON CONFLICT DO UPDATE`` per table, sorted by
key, as the transaction's last statements: two workers committing at once each lock the
rows they move in the same order, and hold them only until their commit.

``rebuild`` makes the three tables again from ``request_figures`` in SQL (the migration that
added them, and a store filled by other means).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from junbridge.store.many import execute_many
from junbridge.store.schema import (
    CLOSED_STATES,
    TOTALS,
    figure_hours,
    figure_spans,
    figure_states,
    request_figures,
)

MEASURES = {"answer": "answer_seconds", "fix": "fix_seconds"}
# Below this many seconds each value is its own span; above, spans are 1/EXACT of a
# doubling wide: 2 s from 64 s, 4 s from 128 s, an hour from 64 hours on.
EXACT = 64
# Where in a row of TOTALS the requests closed in that hour are counted.
_CLOSED = TOTALS.index("closed")
HourKey = tuple[str, str, str]
SpanKey = tuple[str, str, str, str, int]
StateKey = tuple[str, str, str]


def span_of(seconds: int) -> int:
    """The first second of the span ``seconds`` falls in (at most ~3% below it)."""
    if seconds < EXACT:
        return seconds
    shift = seconds.bit_length() - EXACT.bit_length() + 1
    return (seconds >> shift) << shift


def hour_of(at: datetime) -> str:
    """``YYYY-MM-DD HH`` of ``at`` in UTC: the key of its ``figure_hours`` rows."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H")


def day_of(at: datetime) -> str:
    """``YYYY-MM-DD`` of ``at`` in UTC: the key of its ``figure_spans`` rows."""
    return at.astimezone(UTC).strftime("%Y-%m-%d")


class Moved:
    """Totals moved by some figures rows: added with ``add``, taken away with ``sign=-1``."""

    def __init__(self) -> None:
        self.hours: dict[HourKey, list[int]] = {}
        self.spans: dict[SpanKey, list[int]] = {}
        self.states: dict[StateKey, int] = {}

    def add(self, row: Mapping[Any, Any], sign: int = 1) -> None:
        """Count one ``request_figures`` row (its columns by name)."""
        department, privacy = row["department"], row["privacy"]
        state = (department, privacy, row["state"])
        self.states[state] = self.states.get(state, 0) + sign
        made = self.hours.setdefault(
            (hour_of(row["requested_datetime"]), department, privacy), [0] * len(TOTALS)
        )
        made[0] += sign
        if row["state"] in CLOSED_STATES:
            made[1] += sign
        kept = row["promise_kept"]
        if kept is not None:
            made[2 if kept else 3] += sign
        rating = row["rating"]
        if rating is not None and 1 <= rating <= 5:
            made[3 + rating] += sign
        closed_at = row["closed_at"]
        if closed_at is not None:
            hour = (hour_of(closed_at), department, privacy)
            self.hours.setdefault(hour, [0] * len(TOTALS))[_CLOSED] += sign
        day = day_of(row["requested_datetime"])
        for measure, column in MEASURES.items():
            seconds = row[column]
            if seconds is not None:
                key = (day, department, privacy, measure, span_of(seconds))
                span = self.spans.setdefault(key, [0, 0])
                span[0] += sign
                span[1] += sign * seconds

    def write(self, connection: Connection) -> None:
        """Add what was counted to the stored totals: one statement per table, sorted."""
        hours = [
            dict(zip(("hour", "department", "privacy", *TOTALS), (*key, *v), strict=True))
            for key, v in sorted(self.hours.items())
            if any(v)
        ]
        spans = [
            {
                "day": key[0],
                "department": key[1],
                "privacy": key[2],
                "measure": key[3],
                "span": key[4],
                "n": v[0],
                "seconds": v[1],
            }
            for key, v in sorted(self.spans.items())
            if any(v)
        ]
        states = [
            {"department": key[0], "privacy": key[1], "state": key[2], "n": n}
            for key, n in sorted(self.states.items())
            if n
        ]
        dialect = connection.dialect.name
        if hours:
            execute_many(connection, _ADD_HOURS[dialect], hours)
        if spans:
            execute_many(connection, _ADD_SPANS[dialect], spans)
        if states:
            execute_many(connection, _ADD_STATES[dialect], states)


def moved(before: Iterable[Mapping[Any, Any]], after: Iterable[Mapping[Any, Any]]) -> Moved:
    """What changing the figures rows ``before`` into ``after`` does to the totals."""
    counted = Moved()
    for row in before:
        counted.add(row, -1)
    for row in after:
        counted.add(row)
    return counted


def forget(connection: Connection, request_ids: Sequence[int]) -> None:
    """Take the figures of requests about to be deleted out of the totals."""
    rows = connection.execute(
        select(request_figures).where(request_figures.c.request_id.in_(request_ids))
    ).mappings()
    moved(rows, ()).write(connection)


def _adding(table: Any, keys: Sequence[str], summed: Sequence[str]) -> dict[str, Any]:
    statements: dict[str, Any] = {}
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite)):
        statement = dialect.insert(table)
        statements[name] = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: table.c[c] + statement.excluded[c] for c in summed},
        )
    return statements


_ADD_HOURS = _adding(figure_hours, ("hour", "department", "privacy"), TOTALS)
_ADD_SPANS = _adding(
    figure_spans, ("day", "department", "privacy", "measure", "span"), ("n", "seconds")
)
_ADD_STATES = _adding(figure_states, ("department", "privacy", "state"), ("n",))


# -- the same in SQL, for a whole store ------------------------------------------------


class utc_hour(FunctionElement[str]):
    """``YYYY-MM-DD HH`` of a UTC datetime column, the same text in SQLite and PostgreSQL."""

    type = String()
    inherit_cache = True


class utc_day(FunctionElement[str]):
    """``YYYY-MM-DD`` of a UTC datetime column, the same text in SQLite and PostgreSQL."""

    type = String()
    inherit_cache = True


# SQLite keeps UTC datetimes as text (schema.UTCDateTime): the hour and the day are a prefix.
@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element: utc_hour, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 13)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_hour, "postgresql")
def _utc_hour_postgresql(element: utc_hour, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def span_sql(column: Any) -> ColumnElement[int]:
    """``span_of(column)`` in SQL (integer division, in SQLite and PostgreSQL alike), for
    the seconds a 32-bit INTEGER column holds."""
    whens = []
    low = EXACT
    while low < 2**31:
        width: ColumnElement[int] = literal_column(str(low // (EXACT // 2)))
        whens.append((column < literal_column(str(low * 2)), (column // width) * width))
        low *= 2
    return case((column < literal_column(str(EXACT)), column), *whens, else_=column)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


# What each figures row adds to its hour's totals besides ``made`` (1) and ``closed``, in SQL.
COUNTED = {
    "made_closed": _flag(request_figures.c.state.in_(CLOSED_STATES)),
    "kept": _flag(request_figures.c.promise_kept.is_(True)),
    "broken": _flag(request_figures.c.promise_kept.is_(False)),
    **{f"rated_{n}": _flag(request_figures.c.rating == n) for n in range(1, 6)},
}


def spans_sql(*where: ColumnElement[bool]) -> Select[Any]:
    """Per department, measure and span: how many rows ``where``, and their seconds."""
    rf = request_figures
    each = union_all(
        *(
            select(
                rf.c.department,
                literal(measure, String).label("measure"),
                span_sql(rf.c[column]).label("span"),
                rf.c[column].label("value"),
            ).where(rf.c[column].is_not(None), *where)
            for measure, column in MEASURES.items()
        )
    ).subquery()
    return select(
        each.c.department, each.c.measure, each.c.span, func.count(), func.sum(each.c.value)
    ).group_by(each.c.department, each.c.measure, each.c.span)


def rebuild(connection: Connection) -> None:
    """Make the three tables again from every ``request_figures`` row.

    On PostgreSQL they are locked against other writers first: a worker changing a request
    meanwhile moves the totals after this commits, by what its own rows changed, which
    this did not count (they were not committed when it read them).
    """
    rf = request_figures
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("LOCK TABLE figure_hours, figure_spans, figure_states IN EXCLUSIVE MODE")
        )
    connection.execute(delete(figure_hours))
    connection.execute(delete(figure_spans))
    connection.execute(delete(figure_states))
    connection.execute(
        insert(figure_states).from_select(
            ["department", "privacy", "state", "n"],
            select(rf.c.department, rf.c.privacy, rf.c.state, func.count()).group_by(
                rf.c.department, rf.c.privacy, rf.c.state
            ),
        )
    )
    zero = cast(literal(0), Integer)
    made = select(
        utc_hour(rf.c.requested_datetime).label("hour"),
        rf.c.department,
        rf.c.privacy,
        cast(literal(1), Integer).label("made"),
        *(value.label(name) for name, value in COUNTED.items()),
        zero.label("closed"),
    )
    closed = select(
        utc_hour(rf.c.closed_at).label("hour"),
        rf.c.department,
        rf.c.privacy,
        *(zero.label(name) for name in TOTALS[:-1]),
        cast(literal(1), Integer).label("closed"),
    ).where(rf.c.closed_at.is_not(None))
    both = union_all(made, closed).subquery()
    connection.execute(
        insert(figure_hours).from_select(
            ["hour", "department", "privacy", *TOTALS],
            select(
                both.c.hour,
                both.c.department,
                both.c.privacy,
                *(func.sum(both.c[name]) for name in TOTALS),
            ).group_by(both.c.hour, both.c.department, both.c.privacy),
        )
    )
    for measure, name in MEASURES.items():
        column = rf.c[name]
        spans = select(
            utc_day(rf.c.requested_datetime).label("day"),
            rf.c.department,
            rf.c.privacy,
            span_sql(column).label("span"),
            column.label("value"),
        ).where(column.is_not(None))
        inner = spans.subquery()
        connection.execute(
            insert(figure_spans).from_select(
                ["day", "department", "privacy", "measure", "span", "n", "seconds"],
                select(
                    inner.c.day,
                    inner.c.department,
                    inner.c.privacy,
                    literal(measure, String),
                    inner.c.span,
                    func.count(),
                    func.sum(inner.c.value),
                ).group_by(inner.c.day, inner.c.department, inner.c.privacy, inner.c.span),
            )
        )
