"""The town's figures per department: counts, medians, promises, ratings and the backlog.

Each figure is one GROUP BY over an index of ``request_figures`` (one row per request, see
``measures.py``): ``ix_request_figures_made`` for the requests made since a day,
``ix_request_figures_closed`` for those closed since a day, ``ix_request_figures_open`` for
what is open now. Neither history nor the requests themselves are read. A median is the
middle value of a department's period, read with ORDER BY ... OFFSET (count - 1) / 2: two
values per figure. The results hold a few numbers per department, whatever the size of the
store.

``public_only`` counts public requests alone: private departments (the doctor, the police)
are then not in the results at all, not even as a total.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    case,
    func,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from junbridge.model import Status
from junbridge.store.schema import CLOSED_STATES, FIGURES_CLOSED, FIGURES_OPEN, request_figures

if TYPE_CHECKING:
    from junbridge.store.store import Store

RATINGS = (1, 2, 3, 4, 5)
_PUBLIC = request_figures.c.privacy == "public"


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentFigures:
    """One department's figures: requests made since the period's start, and open now.

    ``received``: requests made in the period; ``closed``: of those, how many are closed;
    ``open_now``: open requests, whenever made. Medians are seconds from the report to the
    first answer of a person of the town hall and to the first ``resolved`` (None: none
    yet). A promise is ``kept`` when the request was resolved by its expected time with no
    breach, ``broken`` when it was not (or is still open past it); the others are pending.
    ``ratings``: how many residents gave 1, 2, 3, 4 and 5.
    """

    department: str
    received: int = 0
    closed: int = 0
    open_now: int = 0
    answer_median: float | None = None
    fix_median: float | None = None
    kept: int = 0
    broken: int = 0
    ratings: tuple[int, ...] = (0, 0, 0, 0, 0)

    @property
    def rated(self) -> int:
        """How many residents rated."""
        return sum(self.ratings)

    @property
    def rating(self) -> float | None:
        """The average rating, 1 to 5 (None: nobody rated)."""
        total = sum(stars * count for stars, count in zip(RATINGS, self.ratings, strict=True))
        return total / self.rated if self.rated else None

    @property
    def kept_share(self) -> float | None:
        """Promises kept of those decided, 0 to 1 (None: none decided yet)."""
        decided = self.kept + self.broken
        return self.kept / decided if decided else None


class utc_hour(FunctionElement[str]):
    """``YYYY-MM-DD HH`` of a UTC datetime column, the same text in SQLite and PostgreSQL."""

    type = String()
    inherit_cache = True


@compiles(utc_hour, "sqlite")
def _utc_hour_sqlite(element: utc_hour, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC datetimes as text (schema.UTCDateTime): the hour is a prefix of it.
    return f"strftime('%Y-%m-%d %H', {compiler.process(element.clauses, **kw)})"


@compiles(utc_hour, "postgresql")
def _utc_hour_postgresql(element: utc_hour, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


def _where(since: datetime | None, public_only: bool) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if since is not None:
        filters.append(request_figures.c.requested_datetime >= since)
    if public_only:
        filters.append(_PUBLIC)
    return filters


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# The columns whose median per department the figures give, by the figure's name.
MEDIANS = {
    "answer_median": request_figures.c.answer_seconds,
    "fix_median": request_figures.c.fix_seconds,
}


def _made(since: datetime | None, public_only: bool) -> Select[Any]:
    """Per department: made in the period, closed, promises kept and broken, ratings."""
    closed = request_figures.c.state.in_(CLOSED_STATES)
    return (
        select(
            request_figures.c.department,
            func.count().label("received"),
            _count(closed).label("closed"),
            _count(request_figures.c.promise_kept.is_(True)).label("kept"),
            _count(request_figures.c.promise_kept.is_(False)).label("broken"),
            *(
                _count(request_figures.c.rating == stars).label(f"rated_{stars}")
                for stars in RATINGS
            ),
            *(func.count(column).label(f"{name}_of") for name, column in MEDIANS.items()),
        )
        .where(*_where(since, public_only))
        .group_by(request_figures.c.department)
    )


def _open_now(since: datetime | None, now: datetime, public_only: bool) -> Select[Any]:
    """Per department: open now (through the index of open requests, said exactly so), and
    those made in the period whose promised time has passed with no breach recorded yet
    (the timer that records it fires on the minute)."""
    overdue = and_(
        request_figures.c.state != Status.RESOLVED.value,
        request_figures.c.promise_kept.is_(None),
        request_figures.c.expected_datetime < now,
        *([request_figures.c.requested_datetime >= since] if since is not None else []),
    )
    return (
        select(
            request_figures.c.department, func.count().label("open"), _count(overdue).label("late")
        )
        .where(FIGURES_OPEN, *([_PUBLIC] if public_only else []))
        .group_by(request_figures.c.department)
    )


def _middle(
    column: Any, department: str, since: datetime | None, public_only: bool, count: int
) -> Select[Any]:
    """The middle one or two of ``count`` values of ``column`` in the department's period:
    a sort that stops past the middle, over a range of ix_request_figures_made."""
    return (
        select(column)
        .where(column.is_not(None), request_figures.c.department == department)
        .where(*_where(since, public_only))
        .order_by(column)
        .offset((count - 1) // 2)
        .limit(2 - count % 2)
    )


def read_figures(
    connection: Connection, *, since: datetime | None, now: datetime, public_only: bool
) -> list[DepartmentFigures]:
    """Every department's figures, by name (blocking; see :func:`figures`)."""
    found: dict[str, dict[str, Any]] = {}
    counted: dict[tuple[str, str], int] = {}
    for row in connection.execute(_made(since, public_only)):
        for name in MEDIANS:
            counted[row.department, name] = int(getattr(row, f"{name}_of"))
        found.setdefault(row.department, {}).update(
            received=int(row.received),
            closed=int(row.closed),
            kept=int(row.kept),
            broken=int(row.broken),
            ratings=tuple(int(getattr(row, f"rated_{stars}")) for stars in RATINGS),
        )
    late: dict[str, int] = {}
    for row in connection.execute(_open_now(since, now, public_only)):
        found.setdefault(row.department, {})["open_now"] = int(row.open)
        late[row.department] = int(row.late)
    # A median is the mean of the middle one or two values: two values read per figure.
    for (department, name), count in counted.items():
        if count:
            middle = _middle(MEDIANS[name], department, since, public_only, count)
            middle_values = connection.execute(middle).scalars().all()
            found[department][name] = sum(middle_values) / len(middle_values)
    out = []
    for department in sorted(found):
        values = found[department]
        values["broken"] = values.get("broken", 0) + late.get(department, 0)
        out.append(DepartmentFigures(department=department, **values))
    return out


async def figures(
    store: Store, *, since: datetime | None, now: datetime, public_only: bool = True
) -> list[DepartmentFigures]:
    """The figures of each department with requests made since ``since`` (None: ever), or
    open now; by department name. Private departments are left out unless
    ``public_only=False``."""
    return await store.read(
        lambda connection: read_figures(connection, since=since, now=now, public_only=public_only)
    )


def read_backlog(
    connection: Connection, *, ends: Sequence[datetime], public_only: bool
) -> dict[str, list[int]]:
    """Per department, how many requests were open at each of ``ends`` (blocking).

    From what is open now, going back: a request made after a moment was not open then, and
    one closed after it was. So only the requests made or closed since the first moment are
    read, an hour at a time (``utc_hour``): exact for towns whose midnight falls on a UTC
    hour. A request reopened after being closed counts as open from its report on.
    """
    if not ends:
        return {}
    start = min(ends)
    now_open: dict[str, int] = {}
    for row in connection.execute(_open_now(None, start, public_only)):
        now_open[row.department] = int(row.open)
    public = [_PUBLIC] if public_only else []
    opened = _per_hour(
        connection,
        request_figures.c.requested_datetime,
        request_figures.c.requested_datetime >= start,
        *public,
    )
    closed = _per_hour(
        connection,
        request_figures.c.closed_at,
        FIGURES_CLOSED,
        request_figures.c.closed_at >= start,
        *public,
    )
    out = {}
    for department in sorted({*now_open, *opened, *closed}):
        made_after = _after(opened.get(department, {}), ends)
        closed_after = _after(closed.get(department, {}), ends)
        out[department] = [
            now_open.get(department, 0) - made + gone
            for made, gone in zip(made_after, closed_after, strict=True)
        ]
    return out


def _after(per_hour: dict[datetime, int], ends: Sequence[datetime]) -> list[int]:
    """For each of ``ends``, how many fell in the hours starting at or after it: exact for
    an end on the hour, and for the present moment (nothing is made after it)."""
    hours = sorted(per_hour)
    # later[i]: how many fell in hours[i:]
    later = [0] * (len(hours) + 1)
    for i in range(len(hours) - 1, -1, -1):
        later[i] = later[i + 1] + per_hour[hours[i]]
    return [later[bisect.bisect_left(hours, end)] for end in ends]


def _per_hour(
    connection: Connection, column: Any, *where: ColumnElement[bool]
) -> dict[str, dict[datetime, int]]:
    """Per department, how many ``column`` values fall in each UTC hour, for rows ``where``."""
    found: dict[str, dict[datetime, int]] = {}
    for row in connection.execute(_per_hour_query(column, *where)):
        at = datetime.strptime(row.hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
        found.setdefault(row.department, {})[at] = int(row.n)
    return found


def _per_hour_query(column: Any, *where: ColumnElement[bool]) -> Select[Any]:
    hour = utc_hour(column)
    return (
        select(request_figures.c.department, hour.label("hour"), func.count().label("n"))
        .where(*where)
        .group_by(request_figures.c.department, hour)
    )


async def backlog(
    store: Store, *, ends: Sequence[datetime], public_only: bool = True
) -> dict[str, list[int]]:
    """Per department, how many requests were open at each of ``ends`` (see
    :func:`read_backlog`)."""
    return await store.read(
        lambda connection: read_backlog(connection, ends=ends, public_only=public_only)
    )
