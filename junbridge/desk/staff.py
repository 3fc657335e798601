"""Staff at work: a card per request in the department's staff place, commands there.

A department with ``staff_place: slack:C0LIGHTING`` gets a card in that channel for each
new request. Staff answer in the card's thread (or name the reference) with ``ack``,
``assign @who``, ``start``, ``resolve`` (a photo attached goes to the resident),
``reject REASON``, ``duplicate REF``, ``note TEXT`` (internal) or ``reply TEXT`` (to the
resident); ``login`` sends them a one-time link to the staff console, which offers the same
actions through :func:`apply`. Other chatter in the staff place never reaches the
resident; a command from someone who is not staff is refused and logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from junbridge.config.settings import Staff
from junbridge.departments import Department, Say, fold, place_of
from junbridge.desk import sign_in
from junbridge.effects import Effects
from junbridge.markup import Markup, escape
from junbridge.model import (
    Attachment,
    Choice,
    IllegalTransition,
    Message,
    MessageKind,
    Reply,
    Reporter,
    ServiceRequest,
    Status,
)
from junbridge.privacy import redact
from junbridge.requests import timers
from junbridge.requests.outcomes import resident_label

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)

VERBS: Mapping[str, Status | None] = {
    "ack": Status.ACKNOWLEDGED,
    "assign": Status.ASSIGNED,
    "start": Status.IN_PROGRESS,
    "resolve": Status.RESOLVED,
    "reject": Status.REJECTED,
    "duplicate": Status.DUPLICATE,
    "reopen": Status.REOPENED,
    "refer": Status.REFERRED,
    "close": Status.CLOSED,
    "note": None,
    "reply": None,
}
# Not a change to a request: a one-time link to the staff console (junbridge.desk.sign_in).
LOGIN = "login"
_COMMAND = re.compile(
    r"^\s*(?:<@\w+>\s*|@\w+\s+)?/?(?P<verb>" + "|".join((*VERBS, LOGIN)) + r")\b[:\s]*"
    r"(?P<ref>[A-Z]{2,8}-\d+)?\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)


# The buttons on a request card; those that need more (a reason, a department) explain how.
# Their labels are the department's ``staff_button_VERB`` texts (junbridge.staff_texts).
CARD_BUTTONS = ("ack", "start", "resolve", "reject", "refer", "duplicate")
# A card shows this much of what the resident wrote (every platform takes a card this size
# in one message); the whole text stays on the request (``junbridge requests show``).
CARD_DESCRIPTION = 1_500


def shortened(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters cut between words and ending ``…``."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rsplit(maxsplit=1)[0] if " " in head.strip() else head
    return cut.rstrip() + "…"


def staff_text(owner: Department, key: str, **params: object) -> str:
    """One of the department's texts for its staff, in the town's language."""
    return owner.text(key, owner.town.language, **params)


# How a staff member is answered: (text, reference) -> a reply, or None for no reply.
Answer = Callable[[str, str | None], Reply | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """A staff member acting on a request, and from where: the channel their history lines
    name, the photo they attached, and how they are answered (in the chat they wrote in, or
    in the staff place when they act from the console)."""

    member: Staff
    via: str
    answer: Answer
    photo: Attachment | None = None

    @classmethod
    def in_chat(cls, member: Staff, message: Message) -> Actor:
        """``member`` writing ``message`` in a staff place."""
        return cls(
            member=member,
            via=message.channel,
            photo=next((a for a in message.attachments if a.kind == "photo"), None),
            answer=lambda text, reference: to_staff(message, text, reference),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A staff command: what to do, to which request (if named), and the rest of the line."""

    verb: str
    reference: str | None
    rest: str


def parse_command(text: str) -> Command | None:
    """``"resolve JUN-0001 bombilla nueva"`` -> Command; None for ordinary chatter."""
    if text.startswith("staff:"):  # a card button
        _, verb, pressed = text.split(":", 2)
        return Command(verb=verb, reference=pressed, rest="") if verb in VERBS else None
    found = _COMMAND.match(text)
    if found is None:
        return None
    reference = found["ref"].upper() if found["ref"] else None
    return Command(verb=found["verb"].lower(), reference=reference, rest=found["rest"].strip())


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
    lines.append(escape(shortened(request.description, CARD_DESCRIPTION)))
    if request.address or request.address_id:
        place_name = request.address or request.address_id
        lines.append(staff_text(department, "staff_card_place", place=place_name))
    if request.lat is not None and request.long is not None:
        url = f"https://www.openstreetmap.org/?mlat={request.lat}&mlon={request.long}#map=19/{request.lat}/{request.long}"
        lines.append(f"[{request.lat:.5f}, {request.long:.5f}]({url})")
    if request.reporters > 1:
        lines.append(staff_text(department, "staff_card_reporters", count=request.reporters))
    if request.assignee:
        staff = department.staff_member(request.assignee)
        handle = staff.handles.get(place[0]) if staff else None
        lines.append(
            staff_text(
                department,
                "staff_card_assignee",
                assignee=request.assignee,
                handle=Markup(f" (@{handle})") if handle else "",
            )
        )
    lines.append(staff_text(department, "staff_card_help"))
    # A document or voice note on the request is listed in the console, not sent as a photo.
    photo = next((a for a in request.attachments if a.kind == "photo"), None)
    return Reply(
        text="\n".join(lines),
        channel=place[0],
        conversation=place[1],
        photo=photo,
        choices=tuple(
            Choice(
                label=staff_text(department, f"staff_button_{verb}"),
                value=f"staff:{verb}:{request.reference}",
            )
            for verb in CARD_BUTTONS
        ),
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
    choices: tuple[Choice, ...] = (),
    reporter: Reporter | None = None,
) -> Reply | None:
    """A notice to one resident who reported ``request`` (by default the first), in the
    thread where they wrote, in their language."""
    if reporter is None:
        first = request.reported_by[:1]
        if not first:
            return None
        reporter = first[0]
    language = reporter.language or department.town.language
    text = department.render(
        Say(key=key, params={"note": note}),
        request=request,
        language=language,
        channel=reporter.channel,
    ).strip()
    if reporter.public and request.privacy == "public":
        # They wrote in public (a mention on X): a staff note must not leak a phone.
        text = redact(text, language=language)
    return Reply(
        text=text,
        channel=reporter.channel,
        conversation=reporter.conversation,
        thread=reporter.thread,
        recipient=reporter.recipient,
        private=request.privacy == "private",
        photo=photo,
        choices=choices,
        reference=request.reference,
        language=language,
    )


def to_reporters(
    request: ServiceRequest,
    department: Department,
    key: str,
    *,
    note: str = "",
    photo: Attachment | None = None,
    choices: Callable[[Reporter], tuple[Choice, ...]] | None = None,
) -> list[Reply]:
    """The notice to every resident who reported ``request``, each in their own thread and
    language: the first, and (a public request) those who reported it again nearby."""
    return [
        notice
        for reporter in request.reported_by
        if (
            notice := to_resident(
                request,
                department,
                key,
                note=note,
                photo=photo,
                choices=choices(reporter) if choices is not None else (),
                reporter=reporter,
            )
        )
        is not None
    ]


def refer(
    command: Command,
    request: ServiceRequest,
    actor: Actor,
    owner: Department,
    departments: Mapping[str, Department],
) -> tuple[ServiceRequest, list[Reply]]:
    """Move a request to another department: its history goes with it, its staff get a card."""
    wanted = fold(command.rest)
    target = next(
        (
            d
            for name, d in departments.items()
            if wanted and wanted in {fold(name), *(fold(t) for t in d.titles.values())}
        ),
        None,
    )
    if target is None:
        names = ", ".join(sorted(n for n in departments if n != "triage"))
        raise ValueError(
            staff_text(
                owner, "staff_needs_department", reference=request.reference, departments=names
            )
        )
    now = target.now()
    member = actor.member
    request = request.transition(
        Status.REFERRED, by=member.name, at=now, note=target.name, channel=actor.via
    )
    request = request.noted(
        "department",
        by=member.name,
        at=now,
        note=target.name,
        department=target.name,
        privacy=target.privacy,
        assignee=None,
    )
    answered = actor.answer(f"{request.reference} → {target.name}", request.reference)
    replies = [answered] if answered is not None else []
    posted = card(request, target)
    if posted is not None:
        replies.append(posted)
    return request, [*replies, *to_reporters(request, target, "state_referred")]


async def card_thread(
    bridge: Bridge, request: ServiceRequest, department: Department
) -> str | None:
    """The platform id of the request's card in the staff place (its thread), once sent."""
    place = place_of(department)
    if place is None:
        return None
    sent = await bridge.store.first_sent_id(request.reference, *place)
    if sent is None:
        return None
    return sent.rpartition(":")[2] or None


async def alert(
    bridge: Bridge,
    request: ServiceRequest,
    department: Department,
    *,
    breach: bool = False,
    reopened: bool = False,
    assigned: bool = False,
    unanswered: bool = False,
) -> Reply | None:
    """A message in the staff place, in the card's thread, tagging who must act."""
    place = place_of(department)
    if place is None:
        return None
    when = (
        department.format_time(request.expected_datetime, department.town.language)
        if request.expected_datetime
        else "-"
    )
    lead = next((s for s in department.settings.staff if s.role == "lead"), None)
    assignee = department.staff_member(request.assignee) if request.assignee else None
    who = lead if breach or (unanswered and assignee is None) else assignee
    tag = f" @{who.handles[place[0]]}" if who and place[0] in who.handles else ""
    if unanswered:
        key = "staff_unanswered"
    elif assigned:
        key = "staff_shift"
    elif reopened:
        key = "staff_reopened"
    elif breach:
        key = "staff_breach"
    else:
        key = "staff_warning"
    text = staff_text(
        department,
        key,
        reference=request.reference,
        assignee=request.assignee or "",
        expected=when,
        tag=tag,
    )
    return Reply(
        text=text,
        channel=place[0],
        conversation=place[1],
        thread=await card_thread(bridge, request, department),
        reference=request.reference,
    )


def refusal(department: Department) -> str:
    """What someone who is not staff hears when they try a command."""
    title = department.title(department.town.language)
    return staff_text(department, "staff_only", department=title)


def apply(
    command: Command,
    request: ServiceRequest,
    actor: Actor,
    department: Department,
    departments: Mapping[str, Department],
) -> tuple[ServiceRequest, list[Reply]]:
    """Carry out ``command`` on ``request``; the changed request and the replies to send.

    The one meaning of each staff action, whether typed in a staff place or chosen in the
    console. Raises IllegalTransition (the state machine says no) or ValueError (bad
    arguments).
    """
    now = department.now()
    ref = request.reference
    member, via = actor.member, actor.via

    def answered(*replies: Reply | None) -> list[Reply]:
        return [r for r in replies if r is not None]

    if command.verb == "note":
        request = request.noted("note", by=member.name, at=now, note=command.rest, via=via)
        noted = staff_text(department, "staff_noted", reference=ref)
        return request, answered(actor.answer(noted, ref))
    if command.verb == "reply":
        if not command.rest:
            raise ValueError(staff_text(department, "staff_needs_text"))
        request = request.noted("reply", by=member.name, at=now, note=command.rest, via=via)
        notices = to_reporters(request, department, "staff_reply", note=command.rest)
        sent = actor.answer(staff_text(department, "staff_sent", reference=ref), ref)
        return request, answered(*notices, sent)
    target = VERBS[command.verb]
    assert target is not None
    if command.verb in ("reject", "duplicate") and not command.rest:
        key = "staff_needs_original" if command.verb == "duplicate" else "staff_needs_reason"
        raise ValueError(staff_text(department, key, verb=command.verb, reference=ref))
    if command.verb == "refer":
        return refer(command, request, actor, department, departments)
    if command.verb == "ack" and request.state in (Status.ASSIGNED, Status.IN_PROGRESS):
        # Already further along: "seen" is worth recording and telling, not a step back.
        request = request.noted("acknowledged", by=member.name, at=now, via=via)
        notices = to_reporters(request, department, "state_acknowledged")
        seen = actor.answer(staff_text(department, "staff_seen", reference=ref), ref)
        return request, answered(*notices, seen)
    photo = actor.photo
    if command.verb == "assign":
        who = named_staff(department, command.rest) if command.rest else member
        if who is None:
            raise ValueError(
                staff_text(
                    department,
                    "staff_unknown_member",
                    name=repr(command.rest),
                    department=department.title(department.town.language),
                )
            )
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
        target, by=member.name, at=now, note=command.rest or None, channel=via
    )
    request = timers.settled(request, by=member.name, at=now)
    notices = to_reporters(
        request, department, f"state_{target.value}", note=command.rest, photo=photo
    )
    return request, answered(*notices, actor.answer(f"{ref} → {target.value}", ref))


async def handle(bridge: Bridge, message: Message, department: Department) -> Effects:
    """A message in a staff place: a command from staff, or chatter that stays there."""
    pressed = message.kind is MessageKind.BUTTON and message.choice
    command = parse_command(message.choice if pressed else message.text)  # type: ignore[arg-type]
    if command is not None and command.verb == LOGIN:
        asking = staff_member(department, message)
        if asking is not None:
            return await sign_in.login(bridge, message, department, asking)
        log.warning(
            "%s is not staff of %s and asked for a console link",
            resident_label(message),
            department.name,
        )
        return Effects(
            replies=Effects.now(to_staff(message, refusal(department))), department=department.name
        )
    request = original = None
    replies: list[Reply] = []
    if command is not None:
        reference = command.reference or await bridge.store.reference_for_thread(
            message.channel, message.conversation, message.thread
        )
        original = await bridge.requests.get(reference) if reference else None
    # Staff act on their own department's requests from any staff place.
    owner = bridge.departments.get(original.department, department) if original else department
    member = staff_member(owner, message) if command is not None else None
    if command is not None and member is None:
        log.warning(
            "%s is not staff of %s and tried %r", resident_label(message), owner.name, message.text
        )
        original = None
        replies = [to_staff(message, refusal(owner))]
    elif command is not None and member is not None:
        if original is None:
            replies = [to_staff(message, "¿Qué aviso? Por ejemplo: resolve JUN-0001")]
        else:
            try:
                request, replies = apply(
                    command, original, Actor.in_chat(member, message), owner, bridge.departments
                )
            except (IllegalTransition, ValueError) as exc:
                replies = [to_staff(message, str(exc), original.reference)]
                original = None
    if request is not None:
        owner = bridge.departments.get(request.department, owner)  # a referral moves it
    if request is not None and original is not None and request.state is Status.REOPENED:
        request = timers.restarted(request, owner)
    return Effects(
        request=request,
        original=original if request is not None else None,
        replies=tuple(timers.replies_with_quiet(bridge, replies)),
        department=department.name,
    )
