"""Resident queries: one person behind ``channel:id`` identities on several platforms."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from junbridge.model import Resident, Sender
from junbridge.store import records
from junbridge.store.schema import identities, residents


def split_identity(identity: str) -> tuple[str, str]:
    """``"telegram:123"`` -> ``("telegram", "123")``; ValueError if not in that form."""
    channel, sep, user_id = identity.partition(":")
    if not sep or not channel or not user_id:
        raise ValueError(f"identity {identity!r} is not 'channel:id', e.g. 'telegram:123'")
    return channel, user_id


def has_identity(identity: str) -> ColumnElement[bool]:
    """A ``residents`` filter: the resident who has written as ``identity``."""
    channel, user_id = split_identity(identity)
    return exists().where(
        identities.c.resident_id == residents.c.id,
        identities.c.channel == channel,
        identities.c.platform_user_id == user_id,
    )


async def load(connection: AsyncConnection, *where: Any) -> list[Resident]:
    """The residents matching ``where``, oldest first, with their identities."""
    rows = (
        await connection.execute(select(residents).where(*where).order_by(residents.c.id))
    ).all()
    linked: defaultdict[int, list[str]] = defaultdict(list)
    owners = select(residents.c.id).where(*where)
    for row in await connection.execute(
        select(identities.c.resident_id, identities.c.channel, identities.c.platform_user_id)
        .where(identities.c.resident_id.in_(owners))
        .order_by(identities.c.id)
    ):
        linked[row.resident_id].append(f"{row.channel}:{row.platform_user_id}")
    return [records.resident(row, linked[row.id]) for row in rows]


async def get_or_create(
    connection: AsyncConnection, channel: str, sender: Sender, *, now: datetime
) -> Resident:
    """The resident behind ``sender``: created if new, handle and name kept current.

    Raises IntegrityError if another worker creates the same identity meanwhile; the caller
    retries in a new transaction and then finds it.
    """
    key = (identities.c.channel == channel, identities.c.platform_user_id == sender.id)
    found = (
        await connection.execute(select(identities.c.resident_id, identities.c.handle).where(*key))
    ).one_or_none()
    if found is None:
        result = await connection.execute(
            insert(residents).values(
                name=sender.name,
                language=sender.language,
                preferred_channel=channel,
                created_at=now,
            )
        )
        resident_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        await connection.execute(
            insert(identities).values(
                channel=channel,
                platform_user_id=sender.id,
                handle=sender.handle,
                resident_id=resident_id,
            )
        )
    else:
        resident_id = found.resident_id
        if sender.handle is not None and sender.handle != found.handle:
            await connection.execute(update(identities).where(*key).values(handle=sender.handle))
        # A sender without a name (some platforms omit it) keeps the one we have.
        if sender.name is not None:
            await connection.execute(
                update(residents)
                .where(
                    residents.c.id == resident_id, residents.c.name.is_distinct_from(sender.name)
                )
                .values(name=sender.name)
            )
    [person] = await load(connection, residents.c.id == resident_id)
    return person
