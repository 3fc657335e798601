"""Nearby reports join one request: what is already reported is not opened twice.

When a public department is about to open a request with a place (the phone's location, a
street, a lamp number) and one of its open requests is already there (within
``nearby_metres`` in channels.yaml, 50 by default; or in the same street, at the same lamp
number, when the two cannot be measured apart), the resident is told it is already
reported, in their language, and added to that request as one more reporter instead. From
then on every notice of the request's changes reaches each reporter, in the thread where
they wrote and in their language (``ServiceRequest.reported_by``). Staff see the count on
the card's thread and in the history.

The resident may answer "es otra" ("different one"): their report then opens a request of
its own after all, as the department would have opened it, and they leave the other one's
reporters. A resident reporting their own open request again is told it is theirs.

Only public departments do this: a doctor's or a police matter is never joined to another
resident's, nor told to them. A department may refine what counts as the same matter
(:meth:`junbridge.Department.same_matter`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from junbridge import conversations
from junbridge.departments import Department, Outcome, Say, fold, place_of
from junbridge.desk import staff
from junbridge.effects import Effects, Other
from junbridge.model import Message, Reply, Reporter, Resident, ServiceRequest, Status
from junbridge.requests import outcomes
from junbridge.requests.outcomes import resident_label
from junbridge.store import ConversationState
from junbridge.store.nearby import Found, Place, distance_metres

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

# What a resident told "already reported" is asked: their next message may say it is not.
ANOTHER = "@another"

# "es otra", "no, es otro", "it's a different one": the whole message, folded, in words.
_ANOTHER_WORDS = frozenset(
    {
        *("es otra", "es otro", "otra", "otro", "es otra distinta", "es distinta"),
        *("es distinto", "no es esa", "no es ese", "no es la misma", "no es el mismo"),
        *("es otra farola", "otra farola", "es otro sitio", "otro sitio"),
        *("another one", "it s another one", "its another one", "another", "different"),
        *("different one", "a different one", "it s a different one", "its a different one"),
        *("not that one", "not the same", "not the same one", "it s not the same one"),
    }
)
_WORDS = re.compile(r"\w+")


def says_another(text: str) -> bool:
    """Whether ``text`` says the resident's report is another matter ("no, es otra")."""
    words = " ".join(_WORDS.findall(fold(text)))
    if len(words) > 40:
        return False
    for lead in ("", "no ", "pues ", "no no ", "nope "):
        if words.startswith(lead) and words.removeprefix(lead) in _ANOTHER_WORDS:
            return True
    return False


def joining(departments: Mapping[str, Department]) -> dict[str, float]:
    """The departments whose reports join nearby ones, and how far each looks (metres)."""
    return {
        name: department.settings.nearby_metres
        for name, department in departments.items()
        if department.privacy == "public" and department.settings.nearby_metres > 0
    }


def place_of_request(request: ServiceRequest, metres: float) -> Place | None:
    """Where ``request`` is, to look for open requests of its department there."""
    has_point = request.lat is not None and request.long is not None
    if not (has_point or request.address or request.address_id):
        return None
    return Place(
        departments={request.department: metres},
        lat=request.lat,
        long=request.long,
        address=request.address,
        address_id=request.address_id,
    )


def point(request: ServiceRequest) -> tuple[float, float] | None:
    """The request's (lat, long), if it has both."""
    if request.lat is None or request.long is None:
        return None
    return request.lat, request.long


def apart(report: ServiceRequest, other: ServiceRequest, metres: float) -> float | None:
    """How far ``other`` is from ``report`` in metres, None if it is not within ``metres``.

    Two lamp numbers (``address_id``) say it best: the same is the same place (0), two
    different ones are two places however close. Else two points are measured; without
    both, the same street counts as within reach (``metres``).
    """
    if report.address_id and other.address_id:
        return 0.0 if report.address_id == other.address_id else None
    here, there = point(report), point(other)
    if here is not None and there is not None:
        distance = distance_metres(*here, *there)
        return distance if distance <= metres else None
    if report.address and report.address == other.address:
        return metres
    return None


def reported_by(request: ServiceRequest, resident: Resident) -> bool:
    """Whether ``resident`` already reported ``request`` (first, or since)."""
    return request.resident_id == resident.id or any(
        r.resident_id == resident.id for r in request.joined
    )


def closest(
    department: Department,
    report: ServiceRequest,
    candidates: Sequence[ServiceRequest],
    resident: Resident,
) -> ServiceRequest | None:
    """The open request ``report`` joins: the resident's own first, else the nearest."""
    metres = department.settings.nearby_metres
    ranked = []
    for other in candidates:
        if (
            other.department != department.name
            or other.privacy != "public"
            or not other.state.is_open
            or other.state is Status.RESOLVED
            or other.reference == report.reference
        ):
            continue
        distance = apart(report, other, metres)
        if distance is None or not department.same_matter(report, other):
            continue
        ranked.append((not reported_by(other, resident), distance, other.requested_datetime, other))
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None


def place_seen(department: Department, message: Message, metres: float) -> Place | None:
    """Where ``department`` sees the matter of ``message`` before deciding on it
    (:meth:`Department.where`), placed as a request the change opens would be."""
    change = department.where(message)
    if change is None:
        return None
    location = change.location
    address = change.address
    if address is None and location is not None:
        address = location.address
    if location is None and not address and not change.address_id:
        return None
    return Place(
        departments={department.name: metres},
        lat=location.lat if location is not None else None,
        long=location.long if location is not None else None,
        address=address,
        address_id=change.address_id,
    )


async def candidates_for(
    bridge: Bridge, report: ServiceRequest, metres: float, read: Sequence[Found]
) -> Sequence[ServiceRequest]:
    """The open requests that may hold ``report``: read with the batch when the department
    saw the report's place in the message beforehand (``read``), else one statement now."""
    place = place_of_request(report, metres)
    if place is None:
        return ()
    for found in read:
        if found.covers(place):
            return found.requests
    return await bridge.store.open_near(place)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Asked:
    """What the department was asked when it opened the report: the message it handled
    and the conversation's question and data then (to ask it again on "es otra")."""

    message: Message
    awaiting: str | None
    data: Mapping[str, Any]


def first_place(request: ServiceRequest | None, resident: Resident, name: str) -> bool:
    """Whether the report may join one nearby: a new request (None), or the resident's own
    open request of this department that had no place until now (asked "where?" first)."""
    if request is None:
        return True
    return (
        request.resident_id == resident.id
        and request.department == name
        and request.can_become(Status.DUPLICATE)
        and place_of_request(request, 1.0) is None
    )


async def join(
    bridge: Bridge,
    message: Message,
    resident: Resident,
    stored: ConversationState | None,
    state: ConversationState,
    department: Department,
    outcome: Outcome,
    asked: Asked,
    language: str,
    read: Sequence[Found],
    request: ServiceRequest | None,
) -> Effects | None:
    """The resident joins an open request already where their report is; None when the
    report has no place yet, or nothing open is there.

    The report is what the department's outcome makes: a new request (``request`` None),
    or the conversation's own request, opened before its place was known, which then
    becomes a duplicate of the one joined.
    """
    metres = joining({department.name: department}).get(department.name)
    change = outcome.change
    if metres is None or change is None or (request is None and not change.open):
        return None
    if not first_place(request, resident, department.name):
        return None
    now = bridge.clock()
    report = outcomes.changed(
        request,
        change,
        department=department,
        message=message,
        resident=resident,
        language=language,
        now=now,
    )
    if report.department != department.name or place_of_request(report, metres) is None:
        return None
    found = await candidates_for(bridge, report, metres, read)
    target = closest(department, report, found, resident)
    if target is None:
        return None
    own = reported_by(target, resident)
    changed, reporter = target, None
    if not own:
        reporter = Reporter(
            resident_id=resident.id,
            channel=message.channel,
            conversation=message.conversation,
            thread=message.thread,
            recipient=message.sender.id,
            language=language,
            public=not message.is_private,
            added_at=now,
        )
        count = target.reporters + 1
        changed = dataclasses.replace(
            target, reporters=count, joined=(*target.joined, reporter)
        ).noted(
            "reported_again",
            by=resident_label(message),
            at=now,
            note=staff.staff_text(department, "note_reported_again", count=count),
            via=message.channel,
        )
    replies = outcomes.replies(
        (Say(key="own_report" if own else "already_reported"),),
        department=department,
        desk=bridge.departments["triage"],
        request=changed,
        message=message,
        language=language,
    )
    if not own:
        replies.extend(await staff_notes(bridge, changed, department, "staff_reported_again"))
    other = None
    if request is not None:
        # Opened before its place was known: the same matter as ``target``, followed there.
        duplicate = dataclasses.replace(
            request,
            lat=report.lat,
            long=report.long,
            address=report.address,
            address_id=report.address_id,
        ).transition(
            Status.DUPLICATE,
            by=resident_label(message),
            at=now,
            note=target.reference,
            channel=message.channel,
        )
        other = Other(request=duplicate, original=request)
        replies.extend(
            await staff_notes(bridge, duplicate, department, "staff_joined", target.reference)
        )
    remember = {
        "joined": None if own else target.reference,
        "own": request.reference if request is not None else None,
        "report": dataclasses.replace(asked.message, raw=None).to_json(),
        "asked": asked.awaiting,
        "remember": dict(asked.data),
    }
    # About ``target``: a file sent next is kept on it, and the question goes with it
    # (cancelled, anonymized).
    keep = conversations.continued(
        state,
        outcome=Outcome(ask=ANOTHER, remember=remember),
        department=department.name,
        message=message,
        request_reference=target.reference,
        now=now,
    )
    return Effects(
        request=changed,
        original=target,
        reporter=reporter,
        other=other,
        replies=Effects.now(*replies),
        end=((resident.id, stored.channel, stored.conversation),) if stored else (),
        keep=keep,
        department=department.name,
    )


async def staff_notes(
    bridge: Bridge,
    request: ServiceRequest,
    department: Department,
    key: str,
    original: str = "",
) -> list[Reply]:
    """A line for staff in the thread of ``request``'s card (none without a staff place):
    one more person reported it, or it is the same as ``original``."""
    place = place_of(department)
    if place is None:
        return []
    text = staff.staff_text(
        department, key, reference=request.reference, count=request.reporters, original=original
    )
    thread = await staff.card_thread(bridge, request, department)
    return [
        Reply(
            text=text,
            channel=place[0],
            conversation=place[1],
            thread=thread,
            reference=request.reference,
        )
    ]


def report_of(stored: ConversationState) -> tuple[Message, ConversationState] | None:
    """The report a resident was told is already reported, and their conversation as the
    department had it then; None if ``stored`` is not that question."""
    data = stored.data
    if stored.awaiting != ANOTHER or not isinstance(data.get("report"), Mapping):
        return None
    before = dataclasses.replace(
        stored, awaiting=data.get("asked"), data=dict(data.get("remember") or {})
    )
    return Message.from_json(data["report"]), before


def revived(own: ServiceRequest, department: Department, message: Message) -> ServiceRequest:
    """The resident's own request, made a duplicate when they joined another, open again:
    theirs is a different matter. Its promise starts afresh."""
    if own.state is not Status.DUPLICATE:
        return own
    opened = own.transition(
        Status.REOPENED,
        by=resident_label(message),
        at=department.now(),
        note=staff.staff_text(department, "note_different"),
        channel=message.channel,
    )
    return dataclasses.replace(opened, expected_datetime=department.promise())


def leaving(
    joined: ServiceRequest | None,
    department: Department,
    message: Message,
    resident: Resident,
    *,
    why: str = "not_the_same",
) -> Other | None:
    """The request ``resident`` joined, without them: theirs is a different one
    (``not_the_same``), or they want no more notices of it (``withdrew``)."""
    if joined is None or not any(r.resident_id == resident.id for r in joined.joined):
        return None
    count = max(1, joined.reporters - 1)
    left = dataclasses.replace(
        joined,
        reporters=count,
        joined=tuple(r for r in joined.joined if r.resident_id != resident.id),
    ).noted(
        why,
        by=resident_label(message),
        at=department.now(),
        note=staff.staff_text(department, f"note_{why}", count=count),
        via=message.channel,
    )
    return Other(request=left, original=joined, leaving=resident.id)
