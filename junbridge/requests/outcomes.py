"""Turning a department's Outcome into a stored request and replies, with privacy enforced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from junbridge.departments import Change, Department, Say
from junbridge.markup import Markup
from junbridge.model import Message, Reply, Resident, ServiceRequest, Status
from junbridge.privacy import public_reply


def opened(
    change: Change,
    *,
    department: Department,
    message: Message,
    resident: Resident,
    language: str,
    now: datetime,
) -> ServiceRequest:
    """A new request (reference still empty: the store allocates it) from an opening change."""
    title = department.title(department.town.language)
    history_note = f"from {message.channel}"
    request = ServiceRequest(
        service_request_id="",
        reference="",
        service_code=change.service_code or department.service_code or department.name,
        service_name=change.service_name or title,
        description=change.description if change.description is not None else message.text,
        agency_responsible=f"{department.town.name} — {title}",
        # When the resident wrote; never later than our own clock (platform clocks drift).
        requested_datetime=min(message.sent_at, now),
        updated_datetime=now,
        department=department.name,
        privacy=department.privacy,
        resident_id=resident.id,
        channel=message.channel,
        conversation=message.conversation,
        thread=message.thread,
        recipient=message.sender.id,
        language=language,
        attachments=message.attachments,
        # Where the resident wrote decides whether later notices there must be redacted.
        details={"public": True} if not message.is_private else {},
    )
    return request.noted(
        Status.RECEIVED.value,
        by=resident_label(message),
        at=now,
        note=history_note,
        via=message.channel,
    )


# States with no work left: no promise (expected time) is made for them.
DONE = frozenset({Status.RESOLVED, Status.CLOSED, Status.REJECTED, Status.DUPLICATE})


def filed(
    change: Change,
    *,
    department: Department,
    by: str,
    via: str,
    now: datetime,
    media_url: str | None = None,
) -> ServiceRequest:
    """A new request from outside any conversation (an Open311 client), as ``change`` says.

    Nobody waits in a chat for it: it has no channel to answer in and no resident; ``by``
    (``open311:fixmystreet``) is who filed it, in its history, and ``via`` from where.
    """
    title = department.title(department.town.language)
    location = change.location
    request = ServiceRequest(
        service_request_id="",
        reference="",
        service_code=change.service_code or department.service_code or department.name,
        service_name=change.service_name or title,
        description=change.description or "",
        agency_responsible=f"{department.town.name} — {title}",
        service_notice=change.service_notice,
        requested_datetime=now,
        updated_datetime=now,
        expected_datetime=change.expected,
        address=change.address or (location.address if location else None),
        address_id=change.address_id,
        lat=location.lat if location else None,
        long=location.long if location else None,
        media_url=media_url,
        department=department.name,
        privacy=department.privacy,
        assignee=change.assignee,
        language=department.town.language,
        details={k: v for k, v in change.details.items() if v is not None},
        attachments=change.attachments,
    ).noted(Status.RECEIVED.value, by=by, at=now, note=f"from {via}", via=via)
    # Its states as a resident's report moves through them (assigned to whoever is on duty).
    request = applied(
        request, Change(states=change.states, note=change.note), by=by, channel=via, now=now
    )
    if request.expected_datetime is None and request.state not in DONE:
        request = request.replaced(expected_datetime=department.promise(at=now))
    return request


def changed(
    request: ServiceRequest | None,
    change: Change,
    *,
    department: Department,
    message: Message,
    resident: Resident,
    language: str,
    now: datetime,
) -> ServiceRequest:
    """The conversation's request after ``change``: opened, referred here, or updated."""
    by = resident_label(message)
    if request is None:
        request = opened(
            change,
            department=department,
            message=message,
            resident=resident,
            language=language,
            now=now,
        )
    elif change.open and request.department != department.name:
        # Triage handed the conversation over: the same request moves, its history kept.
        request = request.transition(
            Status.REFERRED, by=by, at=now, note=f"to {department.name}", channel=message.channel
        )
        request = request.noted(
            "department",
            by=by,
            at=now,
            note=department.name,
            department=department.name,
            privacy=department.privacy,
        )
    request = applied(request, change, by=by, channel=message.channel, now=now)
    # A promise only for work still to do: a menu answered on the spot needs none.
    if request.expected_datetime is None and request.state not in DONE:
        request = request.replaced(expected_datetime=department.promise(at=now))
    return request


def applied(
    request: ServiceRequest,
    change: Change,
    *,
    by: str,
    channel: str | None,
    now: datetime,
) -> ServiceRequest:
    """``request`` with the fields and state transitions of ``change`` applied."""
    fields: dict[str, object] = {}
    if change.description is not None and request.description != change.description:
        fields["description"] = change.description
    for name in ("address", "address_id", "service_notice", "assignee"):
        value = getattr(change, name)
        if value is not None:
            fields[name] = value
    if change.expected is not None:
        fields["expected_datetime"] = change.expected
    if change.location is not None:
        fields["lat"] = change.location.lat
        fields["long"] = change.location.long
        if change.location.address and "address" not in fields:
            fields["address"] = change.location.address
    if change.details:
        merged = {**request.details, **change.details}
        fields["details"] = {k: v for k, v in merged.items() if v is not None}
    if change.attachments:
        fields["attachments"] = (*request.attachments, *change.attachments)
    if fields:
        request = request.replaced(**fields)
        if not change.states:
            # Kept in history so the store saves it and staff can see what changed.
            request = request.noted(
                "updated",
                by=by,
                at=now,
                note=change.note or ", ".join(sorted(fields)),
                via=channel,
            )
    for state in change.states:
        note = change.note
        if state is Status.ASSIGNED and request.assignee:
            note = f"{request.assignee}" + (f" ({change.note})" if change.note else "")
        request = request.transition(state, by=by, at=now, note=note, channel=channel)
    return request


def resident_label(message: Message) -> str:
    """How a resident appears in history lines: ``telegram:@handle`` or ``telegram:123``."""
    who = Markup(f"@{message.sender.handle}") if message.sender.handle else message.sender.id
    return f"{message.channel}:{who}"


def replies(
    says: Sequence[Say],
    *,
    department: Department,
    desk: Department,
    request: ServiceRequest | None,
    message: Message,
    language: str,
) -> list[Reply]:
    """Render ``says`` for the resident who wrote ``message``.

    A private department never answers in a public place: everything it says goes by
    private message, and the public conversation only learns that a private message was sent.
    """
    private_matter = department.privacy == "private" and not message.is_private
    out: list[Reply] = []
    for say in says:
        to_private = say.private or private_matter
        reply = Reply(
            text=department.render(
                say, request=request, language=language, channel=message.channel
            ),
            channel=message.channel,
            conversation=message.conversation,
            recipient=message.sender.id,
            private=to_private and not message.is_private,
            thread=message.thread,
            choices=say.choices,
            photo=say.photo,
            reference=request.reference if request else None,
            language=language,
        )
        if not reply.private and not message.is_private:
            # Posted where anyone reads it (a mention on X, a public channel): no personal data.
            reply = public_reply(reply, language=language)
        out.append(reply)
    if private_matter and out:
        notice = Say(key="moved_private", params={"emergency": department.town.emergency_number})
        out.insert(
            0,
            Reply(
                text=desk.render(notice, request=None, language=language),
                channel=message.channel,
                conversation=message.conversation,
                recipient=message.sender.id,
                thread=message.thread,
                language=language,
            ),
        )
    return out
