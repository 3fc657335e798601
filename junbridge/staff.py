"""Staff at work: a card per request in the department's staff place, commands there.

A department with ``staff_place: slack:C0LIGHTING`` gets a card in that channel for each
new request. Staff answer in the card's thread (or name the reference) with ``ack``,
``assign @who``, ``start``, ``resolve`` (a photo attached goes to the resident),
``reject REASON``, ``duplicate REF``, ``note TEXT`` (internal) or ``reply TEXT`` (to the
resident). Other chatter in the staff place never reaches the resident; a command from
someone who is not staff is refused and logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from junbridge.departments import Department, Say
from junbridge.model import Attachment, Message, Reply, ServiceRequest, Status
from junbridge.settings import Staff

VERBS: Mapping[str, Status | None] = {
    "ack": Status.ACKNOWLEDGED,
    "assign": Status.ASSIGNED,
    "start": Status.IN_PROGRESS,
    "resolve": Status.RESOLVED,
    "reject": Status.REJECTED,
    "duplicate": Status.DUPLICATE,
    "reopen": Status.REOPENED,
    "close": Status.CLOSED,
    "note": None,
    "reply": None,
}
_COMMAND = re.compile(
    r"^\s*(?:<@\w+>\s*|@\w+\s+)?/?(?P<verb>" + "|".join(VERBS) + r")\b[:\s]*"
    r"(?P<ref>[A-Z]{2,8}-\d+)?\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A staff command: what to do, to which request (if named), and the rest of the line."""

    verb: str
    reference: str | None
    rest: str


def parse_command(text: str) -> Command | None:
    """``"resolve JUN-0001 bombilla nueva"`` -> Command; None for ordinary chatter."""
    found = _COMMAND.match(text)
    if found is None:
        return None
    reference = found["ref"].upper() if found["ref"] else None
    return Command(verb=found["verb"].lower(), reference=reference, rest=found["rest"].strip())


def place_of(department: Department) -> tuple[str, str] | None:
    """The (channel, conversation) of a department's staff place, if it has one."""
    place = department.settings.staff_place
    if place is None:
        return None
    channel, _, conversation = place.partition(":")
    return channel, conversation


def department_for_place(
    departments: Mapping[str, Department], message: Message
) -> Department | None:
    """The department whose staff place ``message`` was written in, if any."""
    for department in departments.values():
        if place_of(department) == (message.channel, message.conversation):
            return department
    return None


def _norm(handle: str) -> str:
    return handle.strip().lstrip("@").casefold()


def staff_member(department: Department, message: Message) -> Staff | None:
    """The configured staff member who wrote ``message`` (by id or handle on that platform)."""
    ids = {_norm(message.sender.id)}
    if message.sender.handle:
        ids.add(_norm(message.sender.handle))
    for staff in department.settings.staff:
        handle = staff.handles.get(message.channel)
        if handle is not None and _norm(handle) in ids:
            return staff
    return None


def named_staff(department: Department, text: str) -> Staff | None:
    """The staff member named in ``text`` by name or by a handle on any platform."""
    wanted = _norm(text)
    for staff in department.settings.staff:
        if wanted in {_norm(staff.name), *(_norm(h) for h in staff.handles.values())}:
            return staff
    return None


def card(request: ServiceRequest, department: Department) -> Reply | None:
    """The request card for the department's staff place (None without one)."""
    place = place_of(department)
    if place is None:
        return None
    language = department.town.language
    lines = [f"**{request.reference}** · {department.title(language)} · {request.state.value}"]
    lines.append(request.description)
    if request.address or request.address_id:
        lines.append(f"Lugar: {request.address or request.address_id}")
    if request.lat is not None and request.long is not None:
        url = f"https://www.openstreetmap.org/?mlat={request.lat}&mlon={request.long}#map=19/{request.lat}/{request.long}"
        lines.append(f"[{request.lat:.5f}, {request.long:.5f}]({url})")
    if request.assignee:
        staff = department.staff_member(request.assignee)
        handle = staff.handles.get(place[0]) if staff else None
        lines.append(f"Asignada a {request.assignee}" + (f" (@{handle})" if handle else ""))
    lines.append("ack · assign @quien · start · resolve (con foto) · reject MOTIVO · note · reply")
    photo = request.attachments[0] if request.attachments else None
    return Reply(
        text="\n".join(lines),
        channel=place[0],
        conversation=place[1],
        photo=photo,
        reference=request.reference,
    )


def to_staff(message: Message, text: str, reference: str | None = None) -> Reply:
    """An answer to a staff member, in the thread they wrote in."""
    return Reply(
        text=text,
        channel=message.channel,
        conversation=message.conversation,
        thread=message.thread,
        reference=reference,
    )


def to_resident(
    request: ServiceRequest,
    department: Department,
    key: str,
    *,
    note: str = "",
    photo: Attachment | None = None,
) -> Reply | None:
    """A notice to the resident, in the thread where they first wrote, in their language."""
    if request.channel is None or request.conversation is None:
        return None
    language = request.language or department.town.language
    text = department.render(
        Say(key=key, params={"note": note}), request=request, language=language
    ).strip()
    return Reply(
        text=text,
        channel=request.channel,
        conversation=request.conversation,
        thread=request.thread,
        recipient=request.recipient,
        private=request.privacy == "private",
        photo=photo,
        reference=request.reference,
    )


def refusal(department: Department) -> str:
    """What someone who is not staff hears when they try a command."""
    return f"Solo el personal de {department.title(department.town.language)} puede cambiar avisos."


def apply(
    command: Command,
    request: ServiceRequest,
    member: Staff,
    message: Message,
    department: Department,
) -> tuple[ServiceRequest, list[Reply]]:
    """Carry out ``command`` on ``request``; the changed request and the replies to send.

    Raises IllegalTransition (the state machine says no) or ValueError (bad arguments).
    """
    now = department.now()
    ref = request.reference
    if command.verb == "note":
        request = request.noted(
            "note", by=member.name, at=now, note=command.rest, via=message.channel
        )
        return request, [to_staff(message, f"{ref}: nota guardada (no la ve el vecino).", ref)]
    if command.verb == "reply":
        if not command.rest:
            raise ValueError("reply necesita el texto para el vecino: reply TEXTO")
        request = request.noted(
            "reply", by=member.name, at=now, note=command.rest, via=message.channel
        )
        notice = to_resident(request, department, "staff_reply", note=command.rest)
        return request, [
            r for r in (notice, to_staff(message, f"{ref}: enviado al vecino.", ref)) if r
        ]
    target = VERBS[command.verb]
    assert target is not None
    if command.verb in ("reject", "duplicate") and not command.rest:
        raise ValueError(f"{command.verb} necesita un motivo: {command.verb} {ref} MOTIVO")
    photo = next((a for a in message.attachments if a.kind == "photo"), None)
    if command.verb == "assign":
        who = named_staff(department, command.rest) if command.rest else member
        if who is None:
            raise ValueError(f"no conozco a {command.rest!r} en {department.name}")
        request = request.noted(
            "assignee", by=member.name, at=now, note=who.name, assignee=who.name
        )
    if photo is not None:
        request = request.noted(
            "photo",
            by=member.name,
            at=now,
            attachments=(*request.attachments, photo),
            media_url=photo.url or request.media_url,
        )
    request = request.transition(
        target, by=member.name, at=now, note=command.rest or None, channel=message.channel
    )
    replies = [to_staff(message, f"{ref} → {target.value}", ref)]
    notice = to_resident(
        request, department, f"state_{target.value}", note=command.rest, photo=photo
    )
    if notice is not None:
        replies.insert(0, notice)
    return request, replies
