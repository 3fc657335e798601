"""Retention queries: closed requests past their department's time, anonymized or deleted.

Anonymizing keeps the case for the town's numbers (department, service, state, when it was
asked, promised and closed, who on the staff worked on it, how many residents reported it)
and removes everything that points at a person: the resident's words, place, photos, ids,
the notes in its history and where those who reported it again wrote.
Deleting removes the request with its history. Either way the replies queued for it, the
conversations about it and the inbound messages that led to it lose what they held of the
resident. A message's dedupe key (channel and platform id) is kept, so a platform
redelivering it long after is still recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Text, cast, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from junbridge.media import local_path
from junbridge.model import Attachment, Status
from junbridge.store import totals
from junbridge.store.schema import (
    conversations,
    history,
    inbound,
    outbox,
    reporters,
    request_figures,
    requests,
    timers,
)

if TYPE_CHECKING:
    from junbridge.store.store import Store

Action = Literal["anonymize", "delete"]

ANONYMIZED = "[anonimizado]"
AUDIT_ACTION = "retention"
AUDIT_BY = "junbridge"
# What a resident's own history lines say they were by, once anonymized.
RESIDENT = "resident"
# How the bridge writes a resident in history: "telegram:@vecina", "slack:U123".
_RESIDENT_LABEL = re.compile(r"^[a-z_]+:\S+$")
_CLOSED = [s.value for s in Status if not s.is_open]
# Rows changed per statement: well under SQLite's and PostgreSQL's limits on parameters.
_BATCH = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Expired:
    """A closed request past its department's retention, and the photos it kept."""

    id: int
    reference: str
    department: str
    state: Status
    updated_datetime: datetime
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Expiry:
    """What one department's retention found, and the kept photos nothing else refers to."""

    requests: tuple[Expired, ...]
    orphans: frozenset[str]


async def expire(
    store: Store,
    *,
    department: str,
    before: datetime,
    action: Action,
    now: datetime,
    note: str,
    dry_run: bool = False,
) -> Expiry:
    """Anonymize or delete ``department``'s requests closed and unchanged since ``before``.

    One transaction. ``note`` is the audit line added to each anonymized request's history.
    A dry run only finds them. The photo files are not touched here: ``orphans`` are the
    file URLs no other request, queued reply or pending message refers to.
    """
    if dry_run:
        async with store._read() as connection:
            found = await expired(connection, department=department, before=before, action=action)
            return Expiry(requests=found, orphans=await orphans(connection, found))
    async with store._write() as connection:
        found = await expired(
            connection, department=department, before=before, action=action, lock=True
        )
        unused = await orphans(connection, found)
        if action == "anonymize":
            await anonymize(connection, found, now=now, note=note)
        else:
            await remove(connection, found)
    return Expiry(requests=found, orphans=unused)


async def expired(
    connection: AsyncConnection,
    *,
    department: str,
    before: datetime,
    action: Action,
    lock: bool = False,
) -> tuple[Expired, ...]:
    """Closed requests of ``department`` last changed before ``before``, oldest first.

    For anonymizing, those already anonymized since their last change are left out.
    """
    query = (
        select(
            requests.c.id,
            requests.c.reference,
            requests.c.department,
            requests.c.state,
            requests.c.updated_datetime,
            requests.c.attachments,
            requests.c.media_url,
        )
        .where(
            requests.c.department == department,
            requests.c.state.in_(_CLOSED),
            requests.c.updated_datetime < before,
        )
        .order_by(requests.c.updated_datetime, requests.c.id)
    )
    if action == "anonymize":
        done = exists().where(
            history.c.request_id == requests.c.id,
            history.c.action == AUDIT_ACTION,
            history.c.at > requests.c.updated_datetime,
        )
        query = query.where(~done)
    if lock:
        # PostgreSQL: a worker changing one of these requests meanwhile waits for us.
        query = query.with_for_update(of=requests)
    rows = (await connection.execute(query)).all()
    return tuple(
        Expired(
            id=row.id,
            reference=row.reference,
            department=row.department,
            state=Status(row.state),
            updated_datetime=row.updated_datetime,
            files=tuple(_kept_files(row.attachments, row.media_url)),
        )
        for row in rows
    )


def _kept_files(attachments: Iterable[dict[str, Any]], media_url: str | None) -> Iterator[str]:
    """The file: URLs of the photos this machine keeps for a request."""
    urls = [a.get("url") for a in attachments] + [media_url]
    seen: set[str] = set()
    for url in urls:
        if url and url not in seen and local_path(Attachment(platform_ref="", url=url)):
            seen.add(url)
            yield url


async def orphans(connection: AsyncConnection, found: Sequence[Expired]) -> frozenset[str]:
    """The kept photos of ``found`` that nothing else refers to: other requests, replies
    still queued, open conversations or messages not yet handled."""
    ids = {e.id for e in found}
    references = {e.reference for e in found}
    unused: set[str] = set()
    for url in sorted({url for e in found for url in e.files}):
        # Kept photos are named by their content hash: the name alone identifies one.
        name = url.rsplit("/", 1)[-1]
        holders = await connection.execute(
            select(requests.c.id).where(
                or_(
                    requests.c.media_url.contains(name, autoescape=True),
                    cast(requests.c.attachments, Text).contains(name, autoescape=True),
                )
            )
        )
        if any(row.id not in ids for row in holders):
            continue
        # What these requests' own replies and conversations hold goes with them.
        about = [
            select(outbox.c.request_reference).where(
                outbox.c.status.in_(("pending", "sending")),
                cast(outbox.c.reply, Text).contains(name, autoescape=True),
            ),
            select(conversations.c.request_reference).where(
                cast(conversations.c.first_message, Text).contains(name, autoescape=True)
            ),
            select(inbound.c.request_reference).where(
                inbound.c.status == "pending",
                cast(inbound.c.message, Text).contains(name, autoescape=True),
            ),
        ]
        used = False
        for query in about:
            rows = await connection.execute(query)
            if any(row[0] not in references for row in rows):
                used = True
                break
        if not used:
            unused.add(url)
    return frozenset(unused)


def _batches(found: Sequence[Expired]) -> Iterator[Sequence[Expired]]:
    for start in range(0, len(found), _BATCH):
        yield found[start : start + _BATCH]


async def anonymize(
    connection: AsyncConnection, found: Sequence[Expired], *, now: datetime, note: str
) -> None:
    """Remove the personal parts of ``found`` and add one audit line to each history."""
    for batch in _batches(found):
        ids = [e.id for e in batch]
        await connection.execute(
            update(requests)
            .where(requests.c.id.in_(ids))
            .values(
                # A copy read before this is stale now: a save of it would bring back what
                # is removed here, and its history lines would take the audit line's place.
                version=requests.c.version + 1,
                description=ANONYMIZED,
                status_notes=None,
                address=None,
                address_id=None,
                lat=None,
                long=None,
                media_url=None,
                attachments=[],
                details={},
                resident_id=None,
                recipient=None,
                thread=None,
                conversation=None,
            )
        )
        # Who (staff), when and what stay; what was said goes, and so does the resident's id.
        await connection.execute(
            update(history).where(history.c.request_id.in_(ids)).values(note=None)
        )
        # Open311 words their state from what history keeps.
        await connection.execute(
            update(request_figures)
            .where(request_figures.c.request_id.in_(ids))
            .values(state_notes=None)
        )
        # Those who reported it again: where they wrote goes; how many they were stays.
        await connection.execute(delete(reporters).where(reporters.c.request_id.in_(ids)))
        lines = await connection.execute(
            select(history.c.id, history.c.by).where(history.c.request_id.in_(ids))
        )
        residents = [line.id for line in lines if _RESIDENT_LABEL.match(line.by)]
        for start in range(0, len(residents), _BATCH):
            await connection.execute(
                update(history)
                .where(history.c.id.in_(residents[start : start + _BATCH]))
                .values(by=RESIDENT)
            )
        last = await connection.execute(
            select(history.c.request_id, func.max(history.c.position).label("position"))
            .where(history.c.request_id.in_(ids))
            .group_by(history.c.request_id)
        )
        positions = {row.request_id: row.position for row in last}
        await connection.execute(
            insert(history),
            [
                {
                    "request_id": e.id,
                    "position": positions.get(e.id, -1) + 1,
                    "at": now,
                    "by": AUDIT_BY,
                    "action": AUDIT_ACTION,
                    "state": None,
                    "note": note,
                    "channel": None,
                }
                for e in batch
            ],
        )
        await _forget(connection, [e.reference for e in batch])


async def remove(connection: AsyncConnection, found: Sequence[Expired]) -> None:
    """Delete ``found`` with their history, queued replies and timers."""
    for batch in _batches(found):
        ids = [e.id for e in batch]
        references = [e.reference for e in batch]
        await connection.execute(delete(history).where(history.c.request_id.in_(ids)))
        await connection.execute(delete(reporters).where(reporters.c.request_id.in_(ids)))
        # Their figures rows go with them (ON DELETE CASCADE): so do their running totals.
        await connection.run_sync(totals.forget, ids)
        await connection.execute(delete(requests).where(requests.c.id.in_(ids)))
        await connection.execute(delete(timers).where(timers.c.request_reference.in_(references)))
        await _forget(connection, references)


async def _forget(connection: AsyncConnection, references: Sequence[str]) -> None:
    """Drop what other tables hold of these requests' residents (replies, conversations,
    the messages that led to them), keeping each message's dedupe key."""
    await connection.execute(delete(outbox).where(outbox.c.request_reference.in_(references)))
    await connection.execute(
        delete(conversations).where(conversations.c.request_reference.in_(references))
    )
    await connection.execute(
        update(inbound)
        .where(inbound.c.request_reference.in_(references))
        .values(message={}, request_reference=None, error=None)
    )
