"""Pages of requests for the town hall's table: newest first, a screenful at a time.

``junbridge requests list`` reads one page, not the store: only the rows shown, only the
columns the table shows (the description cut to its summary), whether each request's
history holds an SLA warning or breach (EXISTS, never the history itself), and one COUNT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Label, exists, func, select

from junbridge.model import Status
from junbridge.store.schema import REQUEST_IS_OPEN, history, requests

if TYPE_CHECKING:
    from junbridge.store.store import Store

# Characters of the description a page carries: what the table has room for.
SUMMARY_LENGTH = 80


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """One request as the table shows it: no history, the description cut short."""

    reference: str
    department: str
    state: Status
    privacy: str
    assignee: str | None
    summary: str
    requested_datetime: datetime
    expected_datetime: datetime | None
    sla_warned: bool
    sla_breached: bool
    # How many residents reported it (more than one: reported again nearby and joined).
    reporters: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """Requests newest first, older than ``before`` if given; and how many match in all."""

    summaries: tuple[Summary, ...]
    total: int
    # Whether older requests follow the last one shown.
    more: bool


def _history_has(action: str) -> Label[bool]:
    """Whether the request's history has an ``action`` line, looked up in the index."""
    return (
        exists()
        .where(history.c.request_id == requests.c.id, history.c.action == action)
        .label(action)
    )


async def page(
    store: Store,
    *,
    limit: int,
    before: str | None = None,
    department: str | None = None,
    open_only: bool = False,
    state: Status | None = None,
) -> Page:
    """Up to ``limit`` requests matching the filters, newest first; LookupError if
    ``before`` names no request."""
    filters: list[ColumnElement[bool]] = []
    if department is not None:
        filters.append(requests.c.department == department)
    if open_only:
        filters.append(REQUEST_IS_OPEN)
    if state is not None:
        filters.append(requests.c.state == state.value)
    query = (
        select(
            requests.c.reference,
            requests.c.department,
            requests.c.state,
            requests.c.privacy,
            requests.c.assignee,
            # One character more than kept: whether the description went on.
            func.substr(requests.c.description, 1, SUMMARY_LENGTH + 1).label("summary"),
            requests.c.requested_datetime,
            requests.c.expected_datetime,
            _history_has("sla_warning"),
            _history_has("sla_breach"),
            requests.c.reporters,
        )
        .where(*filters)
        .order_by(requests.c.id.desc())
        # One more than shown: whether there is a next page, without counting past it.
        .limit(limit + 1)
    )
    async with store._read() as connection:
        if before is not None:
            last = await connection.scalar(
                select(requests.c.id).where(requests.c.reference == before)
            )
            if last is None:
                raise LookupError(f"no request {before}")
            query = query.where(requests.c.id < last)
        rows = (await connection.execute(query)).all()
        total = await connection.scalar(select(func.count()).select_from(requests).where(*filters))
    return Page(
        summaries=tuple(
            Summary(
                reference=row.reference,
                department=row.department,
                state=Status(row.state),
                privacy=row.privacy,
                assignee=row.assignee,
                summary=_cut(row.summary),
                requested_datetime=row.requested_datetime,
                expected_datetime=row.expected_datetime,
                sla_warned=bool(row.sla_warning),
                sla_breached=bool(row.sla_breach),
                reporters=row.reporters,
            )
            for row in rows[:limit]
        ),
        total=int(total or 0),
        more=len(rows) > limit,
    )


def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"
