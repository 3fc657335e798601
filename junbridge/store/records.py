"""The store's own values and the mapping between model objects and table rows."""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, bindparam, select

from junbridge.model import (
    Attachment,
    HistoryEntry,
    Message,
    Privacy,
    Reply,
    Reporter,
    Resident,
    ServiceRequest,
    Status,
)
from junbridge.store.schema import history, reporters


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """The inbound row for a message: new, or the one stored when the platform sent it before."""

    inbound_id: int
    is_new: bool
    status: str
    request_reference: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationState:
    """Which department owns a resident's open exchange in one conversation, until when."""

    resident_id: int
    channel: str
    conversation: str
    department: str
    awaiting: str | None = None
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    request_reference: str | None = None
    first_message: Message | None = None
    expires_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """What a resident's rate limits count: the times their handled messages were written
    (the last day's), and until when they were already told they are over a limit."""

    counted: tuple[datetime, ...] = ()
    notice_until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    """One queued reply and how its delivery is going."""

    id: int
    created_at: datetime
    request_reference: str | None
    reply: Reply
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    platform_ids: tuple[str, ...]
    error: str | None
    # For a claimed row: the moment (real time) its channel's pace lets it go.
    send_at: datetime | None = None


# ServiceRequest fields stored as columns of the same name.
_REQUEST_COLUMNS = tuple(
    f.name
    for f in dataclasses.fields(ServiceRequest)
    if f.name not in ("state", "details", "history", "attachments", "joined", "stored_lines")
)


def request_values(request: ServiceRequest) -> dict[str, Any]:
    """The ``requests`` row for ``request`` (history is stored apart)."""
    values = {name: getattr(request, name) for name in _REQUEST_COLUMNS}
    values["state"] = request.state.value
    values["details"] = dict(request.details)
    values["attachments"] = [dataclasses.asdict(a) for a in request.attachments]
    # Indexed apart: the question the resident has yet to answer ("fixed", "rating").
    awaiting = request.details.get("awaiting")
    values["awaiting"] = awaiting if isinstance(awaiting, str) else None
    return values


def history_values(request_id: int, position: int, entry: HistoryEntry) -> dict[str, Any]:
    """The ``history`` row for one entry."""
    return {
        "request_id": request_id,
        "position": position,
        "at": entry.at,
        "by": entry.by,
        "action": entry.action,
        "state": entry.state.value if entry.state is not None else None,
        "note": entry.note,
        "channel": entry.channel,
    }


_HISTORY_COLUMNS = ("at", "by", "action", "state", "note", "channel")
_REQUEST_ROW = (*_REQUEST_COLUMNS, "state", "details", "attachments")
Picker = Callable[[Any], tuple[Any, ...]]


@functools.cache
def _positions(fields: tuple[str, ...], wanted: tuple[str, ...]) -> Picker:
    # One getter per shape of row: reading a column by name costs a lookup per value.
    return operator.itemgetter(*(fields.index(name) for name in wanted))


def history_entry(row: Row[Any], pick: Picker | None = None) -> HistoryEntry:
    """A history row back as a HistoryEntry (``pick``: its columns' getter, for many rows
    of one result)."""
    at, by, action, state, note, channel = (pick or _positions(row._fields, _HISTORY_COLUMNS))(row)
    return HistoryEntry(
        at=at,
        by=by,
        action=action,
        state=Status(state) if state is not None else None,
        note=note,
        channel=channel,
    )


def service_request(
    row: Row[Any],
    history: Iterable[HistoryEntry],
    joined: Iterable[Reporter] = (),
    pick: Picker | None = None,
) -> ServiceRequest:
    """A requests row, its history and who joined it back as a ServiceRequest (``pick``: its
    columns' getter, for many rows of one result)."""
    *values, state, details, attachments = (pick or _positions(row._fields, _REQUEST_ROW))(row)
    fields = dict(zip(_REQUEST_COLUMNS, values, strict=True))
    fields["privacy"] = cast(Privacy, fields["privacy"])
    return ServiceRequest(
        **fields,
        state=Status(state),
        details=details,
        history=(lines := tuple(history)),
        attachments=tuple(Attachment(**a) for a in attachments),
        joined=tuple(joined),
        stored_lines=len(lines),
    )


# Built once: building a statement and its cache key costs more than running it on SQLite.
_HISTORY_OF = (
    select(history)
    .where(history.c.request_id.in_(bindparam("ids", expanding=True)))
    .order_by(history.c.request_id, history.c.position)
)
_REPORTERS_OF = (
    select(reporters)
    .where(reporters.c.request_id.in_(bindparam("ids", expanding=True)))
    .order_by(reporters.c.id)
)


def load_requests(
    connection: Connection, query: Select[Any], parameters: Mapping[str, Any] | None = None
) -> list[ServiceRequest]:
    """The requests ``query`` selects (with ``parameters``, for a statement built once),
    each with its history and those who joined it."""
    result = connection.execute(query, parameters)
    pick = _positions(tuple(result.keys()), _REQUEST_ROW)
    rows = result.all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    entries = connection.execute(_HISTORY_OF, {"ids": ids})
    pick_line = _positions(tuple(entries.keys()), _HISTORY_COLUMNS)
    lines: defaultdict[int, list[HistoryEntry]] = defaultdict(list)
    for entry in entries:
        lines[entry.request_id].append(history_entry(entry, pick_line))
    joined: defaultdict[int, list[Reporter]] = defaultdict(list)
    # Only requests reported more than once have rows there: most reads never ask.
    shared = [row.id for row in rows if row.reporters > 1]
    if shared:
        for found in connection.execute(_REPORTERS_OF, {"ids": shared}):
            joined[found.request_id].append(reporter(found))
    return [service_request(row, lines[row.id], joined[row.id], pick) for row in rows]


def reporter(row: Row[Any]) -> Reporter:
    """A reporters row back as a Reporter."""
    return Reporter(
        resident_id=row.resident_id,
        channel=row.channel,
        conversation=row.conversation,
        thread=row.thread,
        recipient=row.recipient,
        language=row.language,
        public=bool(row.public),
        added_at=row.added_at,
    )


def reporter_values(request_id: int, reporter: Reporter) -> dict[str, Any]:
    """The ``reporters`` row for a resident who joined request ``request_id``."""
    return {
        "request_id": request_id,
        "resident_id": reporter.resident_id,
        "channel": reporter.channel,
        "conversation": reporter.conversation,
        "thread": reporter.thread,
        "recipient": reporter.recipient,
        "language": reporter.language,
        "public": reporter.public,
        "added_at": reporter.added_at,
    }


def resident(row: Row[Any], identities: Iterable[str]) -> Resident:
    """A residents row and its ``channel:id`` identities back as a Resident."""
    return Resident(
        id=row.id,
        identities=tuple(identities),
        name=row.name,
        language=row.language,
        verified_at=row.verified_at,
        verified_by=row.verified_by,
        preferred_channel=row.preferred_channel,
        blocked_at=row.blocked_at,
        blocked_reason=row.blocked_reason,
    )


def conversation_values(state: ConversationState) -> dict[str, Any]:
    """The ``conversations`` row for ``state``."""
    values = {f.name: getattr(state, f.name) for f in dataclasses.fields(ConversationState)}
    values["data"] = dict(state.data)
    first = state.first_message
    values["first_message"] = first.to_json() if first is not None else None
    return values


def conversation_state(row: Row[Any]) -> ConversationState:
    """A conversations row back as a ConversationState."""
    first = row.first_message
    return ConversationState(
        resident_id=row.resident_id,
        channel=row.channel,
        conversation=row.conversation,
        department=row.department,
        awaiting=row.awaiting,
        data=row.data,
        request_reference=row.request_reference,
        first_message=Message.from_json(first) if first is not None else None,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
    )


def outbox_row(row: Row[Any]) -> OutboxRow:
    """An outbox row back as an OutboxRow."""
    return OutboxRow(
        id=row.id,
        created_at=row.created_at,
        request_reference=row.request_reference,
        reply=Reply.from_json(row.reply),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        platform_ids=tuple(row.platform_ids),
        error=row.error,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Timer:
    """Something due for a request at a moment: a follow-up question, an SLA alert."""

    id: int
    request_reference: str
    kind: str
    due_at: datetime
