"""One person on several accounts: link codes, merging residents, and what is theirs.

A resident asks for a code on one account (``/link``) and sends it from another
(``/link 123456``): holding both accounts is the proof, so the two residents become one, the
older, with every request and conversation of both. Functions here take the :class:`Store`;
``Store`` exposes them as methods.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from junbridge.model import Resident, ServiceRequest
from junbridge.store import records
from junbridge.store import residents as people
from junbridge.store.records import ConversationState
from junbridge.store.schema import (
    REQUEST_IS_OPEN,
    conversations,
    reporters,
    requests,
    residents,
)

if TYPE_CHECKING:
    from junbridge.store.store import Store

LINK_CODE_TTL = timedelta(minutes=15)
LINK_CODE_DIGITS = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class Linked:
    """The outcome of a redeemed code: the one resident now, and whether anything changed."""

    resident: Resident
    merged: bool


async def issue_code(store: Store, resident_id: int, *, now: datetime) -> str:
    """A new one-time code for ``resident_id``, valid for :data:`LINK_CODE_TTL`."""
    for _ in range(10):
        code = f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
        try:
            async with store._write() as connection:
                await people.add_link_code(
                    connection, resident_id, code, now=now, expires_at=now + LINK_CODE_TTL
                )
        except IntegrityError:
            continue  # someone else holds this code right now; draw another
        return code
    raise RuntimeError("could not draw a free link code")


async def redeem_code(store: Store, code: str, resident_id: int, *, now: datetime) -> Linked | None:
    """Link ``resident_id`` with whoever asked for ``code``; None if it is wrong or expired.

    The two become the older resident (the lower id); the code is used up either way.
    """
    async with store._write() as connection:
        owner = await people.take_link_code(connection, code, now=now)
        if owner is None:
            return None
        if owner == resident_id:
            [same] = await people.load(connection, residents.c.id == resident_id)
            return Linked(resident=same, merged=False)
        keep, drop = sorted((owner, resident_id))
        return Linked(resident=await people.merge(connection, keep, drop), merged=True)


async def requests_of(
    store: Store, resident_id: int, *, open_only: bool = False
) -> list[ServiceRequest]:
    """The resident's requests from every linked account, newest first: those they reported
    first and those they reported again nearby (joined)."""
    joined = select(reporters.c.request_id).where(reporters.c.resident_id == resident_id)
    query = (
        select(requests)
        .where(or_(requests.c.resident_id == resident_id, requests.c.id.in_(joined)))
        .order_by(requests.c.id.desc())
    )
    if open_only:
        query = query.where(REQUEST_IS_OPEN)
    return await store._requests(query)


async def conversations_about(store: Store, reference: str) -> list[ConversationState]:
    """Open exchanges that are about request ``reference`` (to end them when it closes)."""
    async with store._read() as connection:
        rows = await connection.execute(
            select(conversations).where(conversations.c.request_reference == reference)
        )
        return [records.conversation_state(row) for row in rows]
