"""Requests as Open311 clients ask for them: public ones only, by date and service, a page
at a time.

``GET requests`` reads a range of ``requested_datetime``, of some services or of all, through
the indexes ``ix_requests_service_code_requested_datetime`` and
``ix_requests_requested_datetime`` (migration 0009): the last 90 days of a town's reports,
never the whole table. Private requests never leave the store here.

An answer holds up to 1000 requests, so each is read as Open311 shows it and no more: the
columns of its fields, its ``status_notes`` as saved (``request_figures.state_notes``,
since 0014) and, only for a request saved before that or anonymized since, the changes of state
of its history to word them from. Those copies are for the Open311 projection alone
(``junbridge.requests.lifecycle.open311``), never to be saved.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, Connection, Select, literal_column, select, type_coerce
from sqlalchemy.types import NullType

from junbridge.model import HistoryEntry, Privacy, Status
from junbridge.store import records
from junbridge.store.schema import (
    REQUEST_IS_OPEN,
    UTCDateTime,
    history,
    request_figures,
    requests,
)

if TYPE_CHECKING:
    from junbridge.store.store import Store

# A column read as the driver gives it, without the column type's processing.
_AS_GIVEN = NullType()
# Constants in the SQL, as REQUEST_IS_OPEN says them: neither the privacy nor the states vary.
_PUBLIC = requests.c.privacy == literal_column("'public'")
# Closed, said as "not open": SQLite (no statistics) would otherwise read every closed
# request ever through ix_requests_state instead of the range of dates asked for.
_CLOSED = requests.c.state.not_in([literal_column(f"'{s.value}'") for s in Status if s.is_open])


@dataclass(frozen=True, slots=True, kw_only=True)
class Search:
    """What ``GET requests`` asks for: some references, or a range of dates and services."""

    references: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime
    end: datetime
    #: "open", "closed", or both when empty.
    status: frozenset[str] = frozenset()
    limit: int = 1000
    offset: int = 0


def _where(search: Search, hidden: Collection[str]) -> list[ColumnElement[bool]]:
    where = [_PUBLIC]
    if hidden:
        # A department made private after some of its requests were filed keeps them hidden.
        where.append(requests.c.department.not_in(sorted(hidden)))
    if search.references:
        # The spec: service_request_id overrides every other filter.
        return [*where, requests.c.reference.in_(search.references)]
    where += [
        requests.c.requested_datetime >= search.start,
        requests.c.requested_datetime <= search.end,
    ]
    if search.service_codes:
        where.append(requests.c.service_code.in_(search.service_codes))
    if search.status == {"open"}:
        where.append(REQUEST_IS_OPEN)
    elif search.status == {"closed"}:
        where.append(_CLOSED)
    return where


async def public_requests(
    store: Store, search: Search, *, hidden: Collection[str] = ()
) -> list[Shown]:
    """The public requests ``search`` selects, newest first, each with its history.

    ``hidden`` names departments whose requests are never shown (the private ones).
    """
    query = (
        select(*_SHOWN)
        .select_from(requests.outerjoin(request_figures))
        .where(*_where(search, hidden))
        .order_by(requests.c.requested_datetime.desc(), requests.c.id.desc())
        .limit(search.limit)
        .offset(search.offset)
    )
    return await store.read(lambda connection: _as_shown(connection, query))


class Shown(NamedTuple):
    """A request as Open311 shows it (``model.Public``): built a thousand at a time, a
    tuple costs an eighth of a ServiceRequest."""

    service_request_id: str
    service_code: str
    service_name: str
    description: str
    status_notes: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    lat: float | None
    long: float | None
    media_url: str | None
    reference: str
    department: str
    privacy: Privacy
    language: str | None
    state: Status
    history: tuple[HistoryEntry, ...]

    @property
    def status(self) -> Literal["open", "closed"]:
        """Open311 ``status``, as ``ServiceRequest.status`` says it."""
        return "open" if self.state.is_open else "closed"


# What the Open311 projection reads of a request, in Shown's order (then state, history).
_FIELDS = Shown._fields[:-2]
_NOTES = _FIELDS.index("status_notes")
# Its datetimes are read as the driver gives them and made UTC-aware here (_utc): a
# thousand rows' worth of UTCDateTime's processing was a fifth of the answer's time.
_MOMENTS = tuple(
    n for n, name in enumerate(_FIELDS) if isinstance(requests.c[name].type, UTCDateTime)
)
_SHOWN = (
    requests.c.id,
    requests.c.state,
    request_figures.c.state_notes,
    *(
        type_coerce(requests.c[name], _AS_GIVEN) if n in _MOMENTS else requests.c[name]
        for n, name in enumerate(_FIELDS)
    ),
)
_STATES = {state.value: state for state in Status}


def _utc(value: datetime | str | None) -> datetime | None:
    """A stored moment as UTCDateTime reads it: SQLite's text (naive UTC), or the
    PostgreSQL driver's aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _as_shown(connection: Connection, query: Select[Any]) -> list[Shown]:
    rows = connection.execute(query).all()
    if not rows:
        return []
    changes: dict[int, list[HistoryEntry]] = {}
    unworded = [row[0] for row in rows if row[2] is None]
    if unworded:
        for line in connection.execute(
            select(history)
            .where(history.c.request_id.in_(unworded), history.c.state.is_not(None))
            .order_by(history.c.request_id, history.c.position)
        ):
            changes.setdefault(line.request_id, []).append(records.history_entry(line))
    shown = []
    for request_id, state, notes, *values in rows:
        if values[_NOTES] is None:  # none of its own: the ones saved
            values[_NOTES] = notes
        for n in _MOMENTS:
            values[n] = _utc(values[n])
        shown.append(Shown._make((*values, _STATES[state], tuple(changes.get(request_id, ())))))
    return shown
