"""\"Is it fixed?\": the resident confirms a resolved request, or reopens it, then rates it.

A while after staff resolve a request (``followup_hours``) the resident gets Yes/No buttons
in the thread where they wrote. Yes closes it and asks for a 1-5 rating; No reopens it,
tells the department and restarts its clock; silence past ``followup_deadline_hours``
closes it. On X, where there are no buttons, "sí"/"no" and "1".."5" answer too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from junbridge.departments import Department, fold
from junbridge.desk import nearby, staff
from junbridge.effects import Effects
from junbridge.model import (
    Choice,
    Message,
    MessageKind,
    Reply,
    Reporter,
    Resident,
    ServiceRequest,
    Status,
)
from junbridge.requests import timers

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

YES = {"si", "sí", "yes", "1", "vale", "arreglado", "fixed", "ok"}
NO = {"no", "2", "sigue", "todavia no", "not yet", "still broken"}
_FOLDED_ANSWERS = frozenset(fold(w) for w in YES | NO)
_BUTTON = re.compile(r"^(fixed):(yes|no):(\S+)$|^(rating):([1-5]):(\S+)$")


def ask_fixed(request: ServiceRequest, department: Department) -> list[Reply]:
    """The Yes/No question to everyone who reported it, each in their thread and language."""
    ref = request.reference

    def buttons(reporter: Reporter) -> tuple[Choice, ...]:
        language = reporter.language or department.town.language
        yes, no = ("Sí", "No") if language == "es" else ("Yes", "No")
        return (
            Choice(label=yes, value=f"fixed:yes:{ref}"),
            Choice(label=no, value=f"fixed:no:{ref}"),
        )

    return staff.to_reporters(request, department, "ask_fixed", choices=buttons)


def closed_unanswered(
    request: ServiceRequest, department: Department, now: datetime
) -> ServiceRequest:
    """No answer in time: closed (which never means fixed: the history says why)."""
    request = dataclasses.replace(request, details=_without(request.details, "awaiting"))
    note = staff.staff_text(department, "note_no_answer")
    return request.transition(Status.CLOSED, by="junbridge", at=now, note=note)


def _without(details: object, key: str) -> dict[str, object]:
    return {k: v for k, v in dict(details).items() if k != key}  # type: ignore[call-overload]


def awaiting(
    message: Message, resident: Resident, waiting: Sequence[ServiceRequest]
) -> tuple[ServiceRequest, Reporter] | None:
    """The request waiting for this resident's answer in this chat, if any, and the
    resident as one who reported it (the first, or one who reported it again).
    ``waiting``: the resident's requests with a question pending (store/answers.py)."""
    for request in waiting:
        if request.details.get("awaiting") not in ("fixed", "rating"):
            continue
        for reporter in request.reported_by:
            if reporter.resident_id != resident.id or reporter.channel != message.channel:
                continue
            if message.kind is MessageKind.BUTTON or reporter.conversation == message.conversation:
                return request, reporter
    return None


def may_be_an_answer(message: Message) -> bool:
    """Whether ``message`` could answer "is it fixed?" or the rating at all.

    Decided from the text alone, so the store is asked only for messages that could be an
    answer ("sí", "no, sigue apagada", "4", a button), never for a new report.
    """
    if message.kind is MessageKind.BUTTON:
        return _BUTTON.match(message.choice or "") is not None
    if nearby.says_another(message.text):
        return False  # "no, es otra": not "not fixed" but "my report is another matter"
    if len(message.text) > 80:
        return False  # an answer is short: "no, se ha vuelto a apagar"; longer is a new message
    answer = fold(message.text).strip(" .!¡?¿")
    first = re.split(r"[\s,.;:!?¡¿]+", answer)[0]
    words = _FOLDED_ANSWERS
    return first in {"1", "2", "3", "4", "5"} or answer in words or first in words


def understood(message: Message, request: ServiceRequest) -> tuple[str, str] | None:
    """("fixed", "yes"|"no") or ("rating", "1".."5") from a button or a short answer."""
    if message.kind is MessageKind.BUTTON and message.choice:
        found = _BUTTON.match(message.choice)
        if found is None or request.reference not in message.choice:
            return None
        return ("fixed", found[2]) if found[1] else ("rating", found[5])
    answer = fold(message.text).strip(" .!¡?¿")
    first = re.split(r"[\s,.;:!?¡¿]+", answer)[0]
    if request.details.get("awaiting") == "rating":
        return ("rating", first) if first in {"1", "2", "3", "4", "5"} else None
    for words, value in ((YES, "yes"), (NO, "no")):
        folded = {fold(w) for w in words}
        if answer in folded or first in folded:
            return ("fixed", value)
    return None


async def answer(
    bridge: Bridge,
    message: Message,
    resident: Resident,
    waiting: Sequence[ServiceRequest],
) -> Effects | None:
    """Handle a resident's answer to "is it fixed?" or to the rating; None if it is not one.

    ``waiting``: the requests waiting for this resident's answer, read with the message's
    batch when it could be an answer at all (:func:`may_be_an_answer`).
    """
    if not may_be_an_answer(message):
        return None
    found = awaiting(message, resident, waiting)
    if found is None:
        return None
    request, reporter = found
    what = understood(message, request)
    department = bridge.departments.get(request.department)
    if what is None or department is None:
        return None
    now = bridge.clock()
    by = f"{message.channel}:{message.sender.handle or message.sender.id}"
    kind, value = what
    replies: list[Reply] = []
    details = _without(request.details, "awaiting")
    if kind == "rating":
        changed = request.noted(
            "rated", by=by, at=now, note=value, details={**details, "rating": int(value)}
        )
        replies.append(_say(changed, department, reporter, "thanks_rating"))
    elif value == "yes":
        if department.settings.ask_rating:
            details["awaiting"] = "rating"
        changed = dataclasses.replace(request, details=details).transition(
            Status.CLOSED,
            by=by,
            at=now,
            note=staff.staff_text(department, "note_confirmed_fixed"),
            channel=message.channel,
        )
        key = "ask_rating" if department.settings.ask_rating else "thanks_fixed"
        replies.append(
            _say(changed, department, reporter, key, rating=department.settings.ask_rating)
        )
    else:
        changed = dataclasses.replace(request, details=details).transition(
            Status.REOPENED,
            by=by,
            at=now,
            note=staff.staff_text(department, "note_not_fixed"),
            channel=message.channel,
        )
        changed = timers.restarted(changed, department)
        # Everyone who reported it hears it is open again, not only who answered.
        replies.extend(staff.to_reporters(changed, department, "state_reopened"))
        alert = await staff.alert(bridge, changed, department, reopened=True)
        if alert is not None:
            replies.append(alert)
    return Effects(
        request=changed,
        original=request,
        replies=tuple(timers.replies_with_quiet(bridge, replies)),
        cancel_timers=(timers.FIXED_DEADLINE,),
        department=department.name,
    )


def _say(
    request: ServiceRequest,
    department: Department,
    reporter: Reporter,
    key: str,
    *,
    rating: bool = False,
) -> Reply:
    """``key`` to the resident who answered, in their thread and language."""
    choices = (
        tuple(Choice(label=str(n), value=f"rating:{n}:{request.reference}") for n in range(1, 6))
        if rating
        else ()
    )
    reply = staff.to_resident(request, department, key, choices=choices, reporter=reporter)
    assert reply is not None  # the request came from a resident's message
    return reply
