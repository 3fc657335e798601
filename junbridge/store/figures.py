"""The town's figures per department: counts, medians, promises, ratings and the backlog.

The running totals of ``totals.py`` hold, per hour (or day) of the report, what the
requests made then count; the figures of a period add up the totals of its whole UTC days
and count the rows of ``request_figures`` made before the first of them (at most a day:
one range of ``ix_request_figures_made``). What is open now is one GROUP BY over
``ix_request_figures_open``. Neither history nor the requests themselves are read, and
the rows read grow with the length of the period, not with the store.

A median is read from the spans of ``figure_spans``: the mean of the seconds in the span
where the middle value falls (of the two middle spans, for an even count), within ~3% of
the exact median and exact when that span holds equal values.

``public_only`` counts public requests alone: private departments (the doctor, the police)
are then not in the results at all, not even as a total.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, case, func, select

from junbridge.model import Status
from junbridge.store import totals
from junbridge.store.schema import (
    FIGURES_OPEN,
    TOTALS,
    figure_hours,
    figure_spans,
    request_figures,
)

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


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


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


def _next_midnight(at: datetime) -> datetime:
    """``at`` if it is a UTC midnight, else the UTC midnight after it."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day if day == at else day + timedelta(days=1)


@functools.cache
def _statements(bounded: bool, public_only: bool) -> tuple[Select[Any], ...]:
    """The figures' statements, built once (a span's CASE is long to build and to hash):
    whole days' hours and spans from ``:hour`` and ``:day`` when ``bounded``; the counts
    and spans of ``:since`` up to ``:whole_days`` (the part of a day before them)."""
    fh, fs, rf = figure_hours, figure_spans, request_figures
    hours = select(fh.c.department, *(func.sum(fh.c[name]) for name in TOTALS)).group_by(
        fh.c.department
    )
    spanned = select(
        fs.c.department, fs.c.measure, fs.c.span, func.sum(fs.c.n), func.sum(fs.c.seconds)
    ).group_by(fs.c.department, fs.c.measure, fs.c.span)
    part = [
        rf.c.requested_datetime >= bindparam("since"),
        rf.c.requested_datetime < bindparam("whole_days"),
    ]
    if bounded:
        hours = hours.where(fh.c.hour >= bindparam("hour"))
        spanned = spanned.where(fs.c.day >= bindparam("day"))
    if public_only:
        hours = hours.where(fh.c.privacy == "public")
        spanned = spanned.where(fs.c.privacy == "public")
        part.append(_PUBLIC)
    # A range of ix_request_figures_made: the rows themselves are not read.
    first = (
        select(rf.c.department, func.count(), *(func.sum(v) for v in totals.COUNTED.values()))
        .where(*part)
        .group_by(rf.c.department)
    )
    return hours, spanned, first, totals.spans_sql(*part)


def _counted(
    connection: Connection, since: datetime | None, public_only: bool
) -> tuple[dict[str, list[int]], dict[tuple[str, str], dict[int, list[int]]]]:
    """Per department, the totals (schema.TOTALS) of the requests made since ``since``; per
    department and measure, their spans (first second: [count, seconds])."""
    made: dict[str, list[int]] = {}
    spans: dict[tuple[str, str], dict[int, list[int]]] = {}
    hours, spanned, first, first_spans = _statements(since is not None, public_only)
    whole_days = None if since is None else _next_midnight(since)
    bounds: dict[str, Any] = {}
    if whole_days is not None:
        bounds = {"hour": totals.hour_of(whole_days), "day": totals.day_of(whole_days)}
    for department, *values in connection.execute(hours, bounds):
        made[department] = [int(v) for v in values]
    for department, measure, span, n, seconds in connection.execute(spanned, bounds):
        spans.setdefault((department, measure), {})[int(span)] = [int(n), int(seconds)]
    if since is not None and whole_days is not None and since < whole_days:
        # The part of a day before the first whole one: its rows, counted the same way.
        part = {"since": since, "whole_days": whole_days}
        for department, *values in connection.execute(first, part):
            summed = made.setdefault(department, [0] * len(TOTALS))
            # made, then the COUNTED columns, in TOTALS' order; "closed" is not asked.
            for position, value in enumerate(values):
                summed[position] += int(value)
        for department, measure, span, n, seconds in connection.execute(first_spans, part):
            counted = spans.setdefault((department, measure), {}).setdefault(int(span), [0, 0])
            counted[0] += int(n)
            counted[1] += int(seconds)
    return made, spans


def median(spans: dict[int, list[int]]) -> float | None:
    """The median of the values counted in ``spans`` (first second: [count, seconds]): the
    mean of the span holding the middle value, or of the two holding the middle two."""
    count = sum(n for n, _ in spans.values())
    if not count:
        return None
    wanted = sorted({(count - 1) // 2, count // 2})
    found = []
    seen = 0
    for span in sorted(spans):
        n, seconds = spans[span]
        while wanted and wanted[0] < seen + n:
            wanted.pop(0)
            found.append(seconds / n)
        seen += n
    return sum(found) / len(found)


def read_figures(
    connection: Connection, *, since: datetime | None, now: datetime, public_only: bool
) -> list[DepartmentFigures]:
    """Every department's figures, by name (blocking; see :func:`figures`)."""
    made, spans = _counted(connection, since, public_only)
    found: dict[str, dict[str, Any]] = {}
    for department, values in made.items():
        by_name = dict(zip(TOTALS, values, strict=True))
        if not by_name["made"]:
            continue  # totals that came and went (a request referred elsewhere, or deleted)
        found[department] = {
            "received": by_name["made"],
            "closed": by_name["made_closed"],
            "kept": by_name["kept"],
            "broken": by_name["broken"],
            "ratings": tuple(by_name[f"rated_{stars}"] for stars in RATINGS),
        }
    for (department, measure), counted in spans.items():
        if department in found:
            found[department][f"{measure}_median"] = median(counted)
    late: dict[str, int] = {}
    for row in connection.execute(_open_now(since, now, public_only)):
        found.setdefault(row.department, {})["open_now"] = int(row.open)
        late[row.department] = int(row.late)
    out = []
    for department in sorted(found):
        figures_of = found[department]
        figures_of["broken"] = figures_of.get("broken", 0) + late.get(department, 0)
        out.append(DepartmentFigures(department=department, **figures_of))
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
    one closed after it was. So the hours since the first moment are read from
    ``figure_hours`` (made, closed in that hour): exact for towns whose midnight falls on a
    UTC hour. A request reopened after being closed counts as open from its report on.
    """
    if not ends:
        return {}
    start = min(ends)
    now_open: dict[str, int] = {}
    for row in connection.execute(_open_now(None, start, public_only)):
        now_open[row.department] = int(row.open)
    fh = figure_hours
    query = (
        select(fh.c.department, fh.c.hour, func.sum(fh.c.made), func.sum(fh.c.closed))
        .where(fh.c.hour >= totals.hour_of(start))
        .group_by(fh.c.department, fh.c.hour)
    )
    if public_only:
        query = query.where(fh.c.privacy == "public")
    opened: dict[str, dict[datetime, int]] = {}
    closed: dict[str, dict[datetime, int]] = {}
    for department, hour, made, gone in connection.execute(query):
        at = datetime.fromisoformat(f"{hour}:00+00:00")
        opened.setdefault(department, {})[at] = int(made)
        closed.setdefault(department, {})[at] = int(gone)
    out = {}
    for department in sorted({*now_open, *opened}):
        made_after = _after(opened.get(department, {}), ends)
        closed_after = _after(closed.get(department, {}), ends)
        counts = [
            now_open.get(department, 0) - made + gone
            for made, gone in zip(made_after, closed_after, strict=True)
        ]
        # Hours whose counts came and went (a request referred away) leave a department
        # with nothing open then or now: not listed, as before the totals.
        if department in now_open or any(counts):
            out[department] = counts
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


async def backlog(
    store: Store, *, ends: Sequence[datetime], public_only: bool = True
) -> dict[str, list[int]]:
    """Per department, how many requests were open at each of ``ends`` (see
    :func:`read_backlog`)."""
    return await store.read(
        lambda connection: read_backlog(connection, ends=ends, public_only=public_only)
    )
