"""What staff do from the console: the chat commands' actions, through the same door.

Each action is a staff :class:`~junbridge.desk.staff.Command` carried out by
:func:`junbridge.desk.staff.apply` inside :meth:`Bridge.change`: one transaction, the
request's version checked (a change that raced another is redone on the fresh row), its
timers planned and the resident's notice queued in the outbox, exactly as when the same
staff member types the command in their staff place. The staff place hears it too, in the
request card's thread ("electricista, from the console: JUN-0001 → resolved").

A photo sent with ``resolve`` is checked to be an image by its first bytes and kept in
the media folder, as a photo fetched from Telegram or Slack is; the resident receives it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from junbridge.config.settings import Staff
from junbridge.departments import Department, place_of
from junbridge.desk import staff
from junbridge.model import Attachment, Reply, ServiceRequest, Status

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

# The actions the console offers, each the chat command of the same name.
ACTIONS = ("ack", "assign", "start", "resolve", "reject", "reply", "note")
# What the form's text field is for each (the rest of the command line).
TEXT_FIELDS = {"resolve": "note", "reject": "reason", "reply": "text", "note": "text"}
MAX_PHOTO = 10 * 1024 * 1024
IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)
VIA = "web"


class NotAPhoto(ValueError):
    """An upload that is not an image the console keeps."""


def image_type(data: bytes) -> tuple[str, str] | None:
    """The MIME type and suffix of an image, known by its first bytes (never by its name)."""
    for magic, mime, suffix in IMAGE_TYPES:
        if data.startswith(magic):
            return mime, suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def keep_photo(bridge: Bridge, data: bytes, filename: str | None) -> Attachment:
    """Keep an uploaded photo in the media folder; NotAPhoto if it is not an image."""
    kind = image_type(data)
    if kind is None:
        raise NotAPhoto("not an image")
    mime, suffix = kind
    stem = PurePath(filename or "").stem[:60] or "foto"
    digest = hashlib.sha256(data).hexdigest()[:16]
    attachment = Attachment(
        kind="photo", platform_ref=f"console:{digest}", name=stem + suffix, mime_type=mime
    )
    return bridge.media.keep(attachment, data)


def available(request: ServiceRequest) -> list[str]:
    """The actions that make sense for ``request`` as it stands (the others would be
    refused by the state machine anyway)."""
    shown = []
    if request.state in (Status.RECEIVED, Status.REOPENED, Status.REFERRED):
        shown.append("ack")
    if request.can_become(Status.ASSIGNED):
        shown.append("assign")
    if request.can_become(Status.IN_PROGRESS) and request.state is not Status.IN_PROGRESS:
        shown.append("start")
    for verb, state in (("resolve", Status.RESOLVED), ("reject", Status.REJECTED)):
        if request.can_become(state):
            shown.append(verb)
    return [*shown, "reply", "note"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One action asked for in the console."""

    verb: str
    reference: str
    text: str = ""
    photo: Attachment | None = None


async def carry_out(
    bridge: Bridge, action: Action, member: Staff, department: Department
) -> ServiceRequest:
    """Do ``action`` as ``member`` of ``department``; the changed request.

    Raises IllegalTransition or ValueError (with the staff texts' words) as the chat
    commands do, LookupError for a request that is gone.
    """
    found = await bridge.requests.get(action.reference)
    if found is None:
        raise LookupError(action.reference)
    thread = await staff.card_thread(bridge, found, department)
    place = place_of(department)

    def answer(said: str, reference: str | None) -> Reply | None:
        if place is None:
            return None
        text = staff.staff_text(department, "staff_from_console", name=member.name, said=said)
        return Reply(
            text=text,
            channel=place[0],
            conversation=place[1],
            thread=thread,
            reference=reference,
        )

    actor = staff.Actor(member=member, via=VIA, answer=answer, photo=action.photo)
    command = staff.Command(verb=action.verb, reference=action.reference, rest=action.text)

    def edit(
        request: ServiceRequest, owner: Department | None
    ) -> tuple[ServiceRequest, list[Reply]]:
        if owner is None or owner.name != department.name:
            raise LookupError(request.reference)  # moved to another department meanwhile
        return staff.apply(command, request, actor, owner, bridge.departments)

    return await bridge.change(action.reference, edit)
