"""The values junbridge passes around: messages, residents, service requests, replies.

All are frozen, slotted, keyword-only dataclasses. Datetimes are UTC-aware; platform ids are
``str`` on every platform. Pydantic lives only at the edges (YAML, HTTP bodies).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from junbridge.text import storable

Privacy = Literal["public", "private"]


def plain(value: Any) -> Any:
    """A dataclass as dicts and lists, like ``dataclasses.asdict`` but without copying what
    is already plain: strings, numbers and JSON payloads (a message's ``raw``) are shared.
    ``asdict`` deep-copies each of them, which made it the costliest step of storing a
    message."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            if isinstance(value, (tuple, list)):
                return [plain(item) for item in value]
            return value
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    data = {}
    for name in names:
        item = getattr(value, name)
        data[name] = item if type(item) in _AS_IS else plain(item)
    return data


# Values ``plain`` returns as they are, without asking what they are (most fields).
_AS_IS = frozenset({str, int, float, bool, type(None), dict})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


class JunbridgeError(Exception):
    """Base class of the errors junbridge raises on purpose."""


class MessageKind(StrEnum):
    """What an inbound message is, beyond its text."""

    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    EDIT = "edit"
    LOCATION = "location"
    PHOTO = "photo"
    # What the desk cannot read: it says what it can take, and keeps files on an open request.
    VOICE = "voice"
    VIDEO = "video"
    STICKER = "sticker"
    FILE = "file"

    @property
    def unreadable(self) -> bool:
        """Whether this kind carries nothing a department can read (voice, video, sticker,
        document) once the message has no text."""
        return self in _UNREADABLE

    @classmethod
    def of_file(cls, mime_type: str | None) -> MessageKind:
        """The kind of a message carrying a file: VOICE for audio, VIDEO for video, else FILE."""
        major = (mime_type or "").partition("/")[0]
        return {"audio": cls.VOICE, "video": cls.VIDEO, "image": cls.PHOTO}.get(major, cls.FILE)


_UNREADABLE = frozenset(
    {MessageKind.VOICE, MessageKind.VIDEO, MessageKind.STICKER, MessageKind.FILE}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    """A point on the map, as the resident's messenger sent it."""

    lat: float
    long: float
    address: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A photo or file: the platform's own reference and, once fetched, where it is kept."""

    kind: Literal["photo", "file"] = "photo"
    platform_ref: str
    url: str | None = None
    name: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    """Who wrote a message, as the platform knows them."""

    id: str
    handle: str | None = None
    name: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One inbound message, normalized from any platform.

    ``platform_id`` is the platform's own id for the event (update id, event id, tweet id) and
    is the dedupe key together with ``channel``. ``conversation`` is where replies go.
    """

    channel: str
    platform_id: str
    conversation: str
    sender: Sender
    sent_at: datetime
    text: str = ""
    kind: MessageKind = MessageKind.TEXT
    is_private: bool = False
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    choice: str | None = None
    thread: str | None = None
    edit_of: str | None = None
    raw: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sent_at.tzinfo is None:
            raise ValueError("Message.sent_at must be timezone-aware (UTC)")

    @property
    def resident_key(self) -> str:
        """The identity of the sender on this channel, e.g. ``telegram:123``."""
        return f"{self.channel}:{self.sender.id}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_json` turns back into an equal Message."""
        data: dict[str, Any] = plain(self)
        data["sent_at"] = self.sent_at.isoformat()
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """Rebuild a Message stored with :meth:`to_json`, its text made storable."""
        location = data.get("location")
        # A message a channel stored before it repaired platform text could hold a NUL or
        # half an emoji; unrepaired, it would fail again at every start.
        message = cls(
            channel=data["channel"],
            platform_id=data["platform_id"],
            conversation=data["conversation"],
            sender=Sender(**data["sender"]),
            sent_at=datetime.fromisoformat(data["sent_at"]),
            text=data.get("text", ""),
            kind=MessageKind(data.get("kind", "text")),
            is_private=bool(data.get("is_private", False)),
            attachments=tuple(Attachment(**a) for a in data.get("attachments", ())),
            location=Location(**location) if location else None,
            choice=data.get("choice"),
            thread=data.get("thread"),
            edit_of=data.get("edit_of"),
            raw=data.get("raw"),
        )
        return storable(message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resident:
    """A person across channels: linked identities such as ``telegram:123`` and ``twitter:456``."""

    id: int
    identities: tuple[str, ...]
    name: str | None = None
    language: str | None = None
    verified_at: datetime | None = None
    verified_by: str | None = None
    preferred_channel: str | None = None
    blocked_at: datetime | None = None
    blocked_reason: str | None = None

    @property
    def verified(self) -> bool:
        """True once town hall staff have checked this person's identity."""
        return self.verified_at is not None

    @property
    def blocked(self) -> bool:
        """True while the town hall blocks this person's messages (abuse)."""
        return self.blocked_at is not None


class Status(StrEnum):
    """The internal state of a service request. Open311 sees only ``open`` or ``closed``."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    REFERRED = "referred"

    @property
    def is_open(self) -> bool:
        """Whether Open311 reports this state as ``open``."""
        return self not in _CLOSED_STATES


_CLOSED_STATES = frozenset({Status.CLOSED, Status.REJECTED, Status.DUPLICATE})
_WORKING = frozenset({Status.REJECTED, Status.DUPLICATE, Status.REFERRED})

TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset(
        {Status.ACKNOWLEDGED, Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}
    )
    | _WORKING,
    Status.ACKNOWLEDGED: frozenset(
        {Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}
    )
    | _WORKING,
    Status.ASSIGNED: frozenset(
        {Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}
    )
    | _WORKING,
    Status.IN_PROGRESS: frozenset({Status.ASSIGNED, Status.RESOLVED, Status.CLOSED}) | _WORKING,
    Status.RESOLVED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.REOPENED: frozenset(
        {Status.ACKNOWLEDGED, Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}
    )
    | _WORKING,
    Status.REJECTED: frozenset({Status.REOPENED}),
    Status.DUPLICATE: frozenset({Status.REOPENED}),
    Status.REFERRED: frozenset(
        {Status.RECEIVED, Status.ACKNOWLEDGED, Status.ASSIGNED, Status.IN_PROGRESS, Status.CLOSED}
    ),
}


class IllegalTransition(JunbridgeError):
    """A request was asked to move to a state its current state does not lead to."""

    def __init__(self, reference: str, current: Status, target: Status) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
        super().__init__(
            f"{reference} is {current}; it cannot become {target} (from {current}: {allowed})"
        )
        self.current = current
        self.target = target


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryEntry:
    """One line of a request's history: who did what, when, from where."""

    at: datetime
    by: str
    action: str
    state: Status | None = None
    note: str | None = None
    channel: str | None = None


class VersionConflict(JunbridgeError):
    """A request was saved from a copy older than the stored one: load it again and redo."""

    def __init__(self, reference: str, version: int) -> None:
        super().__init__(f"{reference} changed since version {version} was read")
        self.reference = reference
        self.version = version


@dataclass(frozen=True, slots=True, kw_only=True)
class Reporter:
    """A resident who reported a request: where they wrote and in which language, so that
    each hears its changes in their own thread."""

    resident_id: int | None
    channel: str
    conversation: str
    thread: str | None = None
    recipient: str | None = None
    language: str | None = None
    #: They wrote where anyone reads (a mention on X): what they are told there is redacted.
    public: bool = False
    added_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceRequest:
    """The case: Open311 GeoReport v2 fields by their exact names, plus junbridge's own."""

    # Open311 GeoReport v2
    service_request_id: str
    service_code: str
    service_name: str
    description: str
    status_notes: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None = None
    address: str | None = None
    address_id: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None
    # junbridge
    reference: str
    department: str
    state: Status = Status.RECEIVED
    privacy: Privacy = "public"
    assignee: str | None = None
    resident_id: int | None = None
    channel: str | None = None
    conversation: str | None = None
    thread: str | None = None
    recipient: str | None = None
    language: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[HistoryEntry, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    # 0 until stored; every save checks it against the stored row and bumps it.
    version: int = 0
    # How many residents reported it: the first (``resident_id``, ``channel``, ...) and those
    # who reported it again nearby and were added to it (``joined``). Public: a count only.
    reporters: int = 1
    joined: tuple[Reporter, ...] = ()
    # How many of ``history``'s lines are stored, as this copy was read or saved (None: not
    # known). A save appends the lines past them; the version check makes sure nobody
    # added any meanwhile. Kept by copies (dataclasses.replace), not compared, not shown.
    stored_lines: int | None = field(default=None, compare=False, repr=False)

    def replaced(self, **changes: Any) -> ServiceRequest:
        """This request with ``changes`` to its fields: ``dataclasses.replace``, at half the
        cost. Deciding a message copies its request five or six times (each state change,
        each history line), and the generated ``__init__`` of 34 fields was the largest
        single share of the decide step; the fields are copied as they are, as it would."""
        if unknown := changes.keys() - _REQUEST_FIELDS:
            raise TypeError(f"ServiceRequest has no field {', '.join(sorted(unknown))}")
        copy = _new(ServiceRequest)
        for name in _REQUEST_FIELDS:
            _set(copy, name, changes[name] if name in changes else getattr(self, name))
        return copy

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: every field, datetimes in ISO 8601, the Open311 ``status``."""
        data = dataclasses.asdict(self)
        del data["stored_lines"]
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        data["history"] = [{**h, "at": h["at"].isoformat()} for h in data["history"]]
        data["joined"] = [
            {**r, "added_at": r["added_at"].isoformat() if r["added_at"] else None}
            for r in data["joined"]
        ]
        data["status"] = self.status
        return data

    @property
    def reported_by(self) -> tuple[Reporter, ...]:
        """Everyone told of its changes: the resident who reported it first, then those who
        reported it again. Those are told only while the request is public."""
        first: tuple[Reporter, ...] = ()
        if self.channel is not None and self.conversation is not None:
            first = (
                Reporter(
                    resident_id=self.resident_id,
                    channel=self.channel,
                    conversation=self.conversation,
                    thread=self.thread,
                    recipient=self.recipient,
                    language=self.language,
                    public=bool(self.details.get("public")),
                    added_at=self.requested_datetime,
                ),
            )
        return (*first, *self.joined) if self.privacy == "public" else first

    @property
    def status(self) -> Literal["open", "closed"]:
        """Open311 ``status``: only ``open`` or ``closed``; ``closed`` never means fixed."""
        return "open" if self.state.is_open else "closed"

    def can_become(self, target: Status) -> bool:
        """Whether the state machine allows moving to ``target`` now."""
        return target in TRANSITIONS[self.state]

    def transition(
        self,
        target: Status,
        *,
        by: str,
        at: datetime | None = None,
        note: str | None = None,
        channel: str | None = None,
    ) -> ServiceRequest:
        """Return this request in ``target`` state with a history line; raise if not allowed."""
        if not self.can_become(target):
            raise IllegalTransition(self.reference, self.state, target)
        when = at or datetime.now(UTC)
        entry = HistoryEntry(
            at=when, by=by, action=target.value, state=target, note=note, channel=channel
        )
        return self.replaced(state=target, updated_datetime=when, history=(*self.history, entry))

    def noted(
        self, action: str, *, by: str, at: datetime, note: str | None = None, **changes: Any
    ) -> ServiceRequest:
        """Return this request with ``changes`` applied and a history line that is no transition."""
        entry = HistoryEntry(
            at=at, by=by, action=action, note=note, channel=changes.pop("via", None)
        )
        return self.replaced(updated_datetime=at, history=(*self.history, entry), **changes)


# ServiceRequest.replaced: every field is set by __init__ (none is init=False), in this order.
_REQUEST_FIELDS = tuple(f.name for f in dataclasses.fields(ServiceRequest) if f.init)
assert len(_REQUEST_FIELDS) == len(ServiceRequest.__slots__), "a field __init__ does not set"
_new = object.__new__
_set = object.__setattr__


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """A button: what the resident sees and what comes back when pressed."""

    label: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """Platform-neutral outbound content and where it goes.

    ``text`` uses a small markup that every channel renders its own way: ``**bold**``,
    ``[label](https://link)`` and line breaks. ``private`` sends it as a direct message to
    ``recipient`` instead of into ``conversation``. ``language`` is the reader's, for the few
    words a channel adds itself (the hint X shows under numbered choices).
    """

    text: str
    channel: str
    conversation: str
    recipient: str | None = None
    private: bool = False
    thread: str | None = None
    choices: tuple[Choice, ...] = ()
    photo: Attachment | None = None
    reference: str | None = None
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the outbox."""
        data: dict[str, Any] = plain(self)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reply:
        """Rebuild a Reply stored with :meth:`to_json`."""
        photo = data.get("photo")
        return cls(
            **{k: v for k, v in data.items() if k not in ("choices", "photo")},
            choices=tuple(Choice(**c) for c in data.get("choices", ())),
            photo=Attachment(**photo) if photo else None,
        )


class Public(Protocol):
    """What Open311 shows of a request: a :class:`ServiceRequest`, or a lighter copy with
    only these (``junbridge.store.open311`` reads up to 1000 at a time)."""

    @property
    def service_request_id(self) -> str: ...
    @property
    def service_code(self) -> str: ...
    @property
    def service_name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def status_notes(self) -> str | None: ...
    @property
    def agency_responsible(self) -> str | None: ...
    @property
    def service_notice(self) -> str | None: ...
    @property
    def requested_datetime(self) -> datetime: ...
    @property
    def updated_datetime(self) -> datetime: ...
    @property
    def expected_datetime(self) -> datetime | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def address_id(self) -> str | None: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def long(self) -> float | None: ...
    @property
    def media_url(self) -> str | None: ...
    @property
    def reference(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def privacy(self) -> Privacy: ...
    @property
    def language(self) -> str | None: ...
    @property
    def state(self) -> Status: ...
    @property
    def history(self) -> tuple[HistoryEntry, ...]: ...
    @property
    def status(self) -> Literal["open", "closed"]: ...


def state_notes(request: Public) -> str:
    """The internal state in words, with the note that put the request there if any.

    ``"rejected: not a municipal matter"``, ``"duplicate: JUN-0140"``, ``"in progress"``.
    Open311 only says open or closed, and closed never means fixed: this says which.
    """
    words = request.state.value.replace("_", " ")
    entry = next((h for h in reversed(request.history) if h.state is not None), None)
    if entry is not None and entry.state == request.state and entry.note:
        return f"{words}: {entry.note}"
    if request.state is Status.CLOSED:
        # Closed after being resolved is the good ending; say so, since "closed" alone is not.
        changes = [h for h in request.history if h.state is not None]
        if len(changes) >= 2 and changes[-2].state is Status.RESOLVED:
            how = changes[-2].note  # what the staff said resolving it ("new bulb")
            return f"resolved, closed: {how}" if how else "resolved, closed"
    return words
