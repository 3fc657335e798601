"""One-time links to the staff console, sent where the staff work.

A staff member asks for one with ``login`` in their staff place, or by giving their name or
handle on the console's sign-in page. The link (``web.public_url`` + ``/staff/login/TOKEN``)
is sent through the outbox like any reply: into the staff place, or on Slack as a direct
message to the member (a channel may have more readers than staff). It is good for
``LINK_TTL`` and once; the database keeps only its token's SHA-256. One link a minute per
person: asking again sooner is answered, not obeyed.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from junbridge.config.settings import Staff
from junbridge.departments import Department, place_of
from junbridge.effects import Effects
from junbridge.markup import Markup
from junbridge.model import Message, Reply
from junbridge.store import staff_access
from junbridge.store.staff_access import SignIn

if TYPE_CHECKING:
    from junbridge.bridge import Bridge
    from junbridge.store import Transaction

LINK_TTL = timedelta(minutes=15)
PACE = timedelta(minutes=1)
LOGIN_PATH = "/staff/login/"


def new_link(bridge: Bridge, member: Staff, department: Department) -> tuple[str, SignIn]:
    """A fresh link for ``member`` and what to store of it."""
    token = secrets.token_urlsafe(32)
    now = bridge.clock()
    link = bridge.config.web.public_url.rstrip("/") + LOGIN_PATH + token
    return link, SignIn(
        token_hash=staff_access.digest(token),
        staff=member.name,
        department=department.name,
        expires_at=now + LINK_TTL,
    )


async def paced(bridge: Bridge, member: Staff) -> bool:
    """Whether ``member`` had a link within the last minute."""
    since = bridge.clock() - PACE
    return await staff_access.issued_since(bridge.store, member.name, since) > 0


def link_reply(
    department: Department, member: Staff, text: str, *, message: Message | None = None
) -> Reply | None:
    """``text`` for ``member`` in the staff place (the thread of ``message`` if they wrote
    there), or on Slack in a direct message; None if the department has no staff place."""
    place = place_of(department)
    if place is None:
        return None
    channel, conversation = place
    recipient = member.handles.get(channel)
    private = channel == "slack" and recipient is not None
    return Reply(
        text=text,
        channel=channel,
        conversation=conversation,
        thread=message.thread if message is not None and not private else None,
        recipient=recipient if private else None,
        private=private,
    )


def link_text(department: Department, member: Staff, link: str) -> str:
    """What the member reads with their link, in the town's language."""
    minutes = int(LINK_TTL.total_seconds() // 60)
    return department.text(
        "staff_login_link",
        department.town.language,
        name=member.name,
        minutes=minutes,
        link=Markup(link),
    )


async def login(bridge: Bridge, message: Message, department: Department, member: Staff) -> Effects:
    """``login`` in a staff place: a link for the member who wrote it, stored in the commit."""
    if await paced(bridge, member):
        text = department.text("staff_login_paced", department.town.language, name=member.name)
        reply = link_reply(department, member, text, message=message)
        return Effects(replies=Effects.now(*(r for r in (reply,) if r)), department=department.name)
    link, sign_in = new_link(bridge, member, department)
    reply = link_reply(department, member, link_text(department, member, link), message=message)
    return Effects(
        replies=Effects.now(*(r for r in (reply,) if r)),
        sign_in=sign_in,
        department=department.name,
    )


async def send_link(bridge: Bridge, member: Staff, department: Department) -> bool:
    """A link asked for on the sign-in page, queued for ``member``'s staff place with its
    stored token, in one transaction. False when paced or there is nowhere to send it."""
    if place_of(department) is None or await paced(bridge, member):
        return False
    link, sign_in = new_link(bridge, member, department)
    reply = link_reply(department, member, link_text(department, member, link))
    assert reply is not None
    now = bridge.clock()

    def work(tx: Transaction) -> None:
        staff_access.add_sign_in(tx.connection, sign_in, now=now)
        tx.enqueue_many([(reply, None)])

    await bridge.store.write(work)
    return True
