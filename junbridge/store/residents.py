"""Resident queries: one person behind ``channel:id`` identities on several platforms."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from junbridge.model import Resident, Sender
from junbridge.store import records
from junbridge.store.ids import new_ids
from junbridge.store.many import execute_many
from junbridge.store.schema import (
    conversations,
    identities,
    link_codes,
    reporters,
    requests,
    residents,
)


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
    return await connection.run_sync(load_sync, *where)


def load_sync(connection: Connection, *where: Any) -> list[Resident]:
    """:func:`load` on a blocking connection."""
    rows = connection.execute(select(residents).where(*where).order_by(residents.c.id)).all()
    linked: defaultdict[int, list[str]] = defaultdict(list)
    owners = select(residents.c.id).where(*where)
    for row in connection.execute(
        select(identities.c.resident_id, identities.c.channel, identities.c.platform_user_id)
        .where(identities.c.resident_id.in_(owners))
        .order_by(identities.c.id)
    ):
        linked[row.resident_id].append(f"{row.channel}:{row.platform_user_id}")
    return [records.resident(row, linked[row.id]) for row in rows]


SenderKey = tuple[str, str]
"""``(channel, platform user id)``: who wrote, as the platform names them."""

_this = identities.alias("this")
# Built once: the store runs it for every batch of messages, with the senders as parameters.
_FIND_SENDERS = (
    select(
        residents,
        _this.c.channel.label("this_channel"),
        _this.c.platform_user_id.label("this_id"),
        _this.c.handle.label("this_handle"),
        identities.c.channel.label("linked_channel"),
        identities.c.platform_user_id.label("linked_id"),
    )
    .select_from(_this)
    .join(residents, residents.c.id == _this.c.resident_id)
    .join(identities, identities.c.resident_id == residents.c.id)
    .where(tuple_(_this.c.channel, _this.c.platform_user_id).in_(bindparam("keys", expanding=True)))
    .order_by(identities.c.id)
)
# Ids taken first (ids.new_ids): one INSERT for any number of new residents.
_NEW_RESIDENTS = insert(residents).values(
    id=bindparam("id"),
    name=bindparam("name"),
    language=bindparam("language"),
    preferred_channel=bindparam("channel"),
    created_at=bindparam("now"),
)
_NEW_IDENTITIES = insert(identities).values(
    channel=bindparam("channel"),
    platform_user_id=bindparam("sender_id"),
    handle=bindparam("handle"),
    resident_id=bindparam("resident_id"),
)


def find_senders(
    connection: Connection, senders: Sequence[tuple[str, Sender]]
) -> list[Resident | None]:
    """The residents behind ``senders``, in one read, each None if new or changed.

    None when the sender is new, or their handle or name changed: the caller then takes
    the writing path (:func:`get_or_create_all`). Most messages come from known residents
    whose details are the same as last time, and need no write at all.
    """
    found, _ = known_senders(connection, senders)
    return found


def known_senders(
    connection: Connection, senders: Sequence[tuple[str, Sender]]
) -> tuple[list[Resident | None], list[int | None]]:
    """:func:`find_senders`, and the id of each sender's resident if they are known at
    all (None only for a sender nobody knows): a changed name is still the same person,
    with their open exchanges and what their rate limits count."""
    rows = _rows_of(connection, senders)
    found = [_unchanged(rows.get((channel, sender.id)), sender) for channel, sender in senders]
    ids = [
        known[0].id if (known := rows.get((channel, sender.id))) else None
        for channel, sender in senders
    ]
    return found, ids


def _rows_of(
    connection: Connection, senders: Sequence[tuple[str, Sender]]
) -> dict[SenderKey, list[Row[Any]]]:
    """Each known sender's resident row, once per linked identity."""
    keys = sorted({(channel, sender.id) for channel, sender in senders})
    rows: defaultdict[SenderKey, list[Row[Any]]] = defaultdict(list)
    for row in connection.execute(_FIND_SENDERS, {"keys": keys}):
        rows[(row.this_channel, row.this_id)].append(row)
    return rows


def _unchanged(rows: list[Row[Any]] | None, sender: Sender) -> Resident | None:
    """The resident in ``rows`` if ``sender``'s handle and name are as stored."""
    if not rows:
        return None
    first = rows[0]
    if sender.handle is not None and sender.handle != first.this_handle:
        return None
    if sender.name is not None and sender.name != first.name:
        return None
    return records.resident(first, [f"{r.linked_channel}:{r.linked_id}" for r in rows])


def get_or_create_all(
    connection: Connection,
    senders: Sequence[tuple[str, Sender]],
    *,
    now: datetime,
    all_new: bool = False,
) -> list[Resident]:
    """The residents behind ``senders``: new ones created, handles and names kept current.

    Senders nobody knows are created together: one insert of residents and one of their
    identities, whatever their number. Raises IntegrityError if another worker creates
    one of the same identities meanwhile; the caller retries in a new transaction, which
    then finds it. ``all_new``: the caller has just read that nobody knows any of them;
    they are not looked up again.
    """
    rows = {} if all_new else _rows_of(connection, senders)
    known: dict[SenderKey, Resident] = {}
    new: dict[SenderKey, tuple[str, Sender]] = {}
    for channel, sender in senders:
        key = (channel, sender.id)
        if key in known or key in new:
            continue
        if key not in rows:
            new[key] = (channel, sender)
        else:
            # Known, and the same as last time; or their handle or name changed.
            same = _unchanged(rows[key], sender)
            known[key] = same or get_or_create(connection, channel, sender, now=now)
    known |= _create(connection, list(new.values()), now=now)
    return [known[(channel, sender.id)] for channel, sender in senders]


def _create(
    connection: Connection, senders: Sequence[tuple[str, Sender]], *, now: datetime
) -> dict[SenderKey, Resident]:
    """New residents for ``senders`` nobody knows yet: two inserts for all of them."""
    if not senders:
        return {}
    ids = new_ids(connection, residents, len(senders))
    execute_many(
        connection,
        _NEW_RESIDENTS,
        [
            {"id": i, "name": s.name, "language": s.language, "channel": c, "now": now}
            for i, (c, s) in zip(ids, senders, strict=True)
        ],
    )
    created = dict(zip(senders, ids, strict=True))
    execute_many(
        connection,
        _NEW_IDENTITIES,
        [
            {"channel": c, "sender_id": s.id, "handle": s.handle, "resident_id": created[(c, s)]}
            for c, s in senders
        ],
    )
    return {
        (c, s.id): Resident(
            id=resident_id,
            identities=(f"{c}:{s.id}",),
            name=s.name,
            language=s.language,
            preferred_channel=c,
        )
        for (c, s), resident_id in created.items()
    }


def get_or_create(
    connection: Connection, channel: str, sender: Sender, *, now: datetime
) -> Resident:
    """The resident behind ``sender``: created if new, handle and name kept current.

    Raises IntegrityError if another worker creates the same identity meanwhile; the caller
    retries in a new transaction and then finds it.
    """
    key = (identities.c.channel == channel, identities.c.platform_user_id == sender.id)
    found = (
        connection.execute(select(identities.c.resident_id, identities.c.handle).where(*key))
    ).one_or_none()
    if found is None:
        return _create(connection, [(channel, sender)], now=now)[(channel, sender.id)]
    resident_id = found.resident_id
    if sender.handle is not None and sender.handle != found.handle:
        connection.execute(update(identities).where(*key).values(handle=sender.handle))
    # A sender without a name (some platforms omit it) keeps the one we have.
    if sender.name is not None:
        connection.execute(
            update(residents)
            .where(residents.c.id == resident_id, residents.c.name.is_distinct_from(sender.name))
            .values(name=sender.name)
        )
    [person] = load_sync(connection, residents.c.id == resident_id)
    return person


async def set_blocked(
    connection: AsyncConnection, identity: str, *, at: datetime | None, reason: str | None
) -> Resident:
    """Block (``at`` set) or unblock (``at`` None) the person behind ``identity``.

    The block is the person's, so it holds on every identity linked to them. Raises
    LookupError if nobody has written as ``identity``.
    """
    result = await connection.execute(
        update(residents)
        .where(has_identity(identity))
        .values(blocked_at=at, blocked_reason=reason if at is not None else None)
    )
    if result.rowcount == 0:
        raise LookupError(f"no resident has written as {identity}")
    [person] = await load(connection, has_identity(identity))
    return person


async def add_link_code(
    connection: AsyncConnection, resident_id: int, code: str, *, now: datetime, expires_at: datetime
) -> None:
    """Store ``code`` for ``resident_id``, replacing their earlier one; expired codes go.

    Raises IntegrityError if another resident holds the same code (the caller draws again).
    """
    await connection.execute(
        delete(link_codes).where(
            or_(link_codes.c.resident_id == resident_id, link_codes.c.expires_at <= now)
        )
    )
    await connection.execute(
        insert(link_codes).values(
            code=code, resident_id=resident_id, created_at=now, expires_at=expires_at
        )
    )


async def take_link_code(connection: AsyncConnection, code: str, *, now: datetime) -> int | None:
    """The resident who asked for ``code`` if it is still valid; the code is used up."""
    owner = (
        await connection.execute(
            select(link_codes.c.resident_id)
            .where(link_codes.c.code == code, link_codes.c.expires_at > now)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if owner is None:
        return None
    taken = await connection.execute(delete(link_codes).where(link_codes.c.code == code))
    # Two workers redeeming the same code: only the one whose delete took the row wins.
    return int(owner) if taken.rowcount == 1 else None


async def merge(connection: AsyncConnection, keep: int, drop: int) -> Resident:
    """Make resident ``drop`` part of ``keep``: identities, requests and conversations move.

    Verification, language, name and a block carry over when ``keep`` lacks them; then
    ``drop`` is deleted. Of two open conversations in the same chat, ``keep``'s stays.
    """
    rows = {
        row.id: row
        for row in await connection.execute(
            select(residents).where(residents.c.id.in_([keep, drop]))
        )
    }
    if len(rows) != 2:
        raise LookupError(f"cannot merge residents {keep} and {drop}: not both stored")
    kept, dropped = rows[keep], rows[drop]
    values: dict[str, Any] = {}
    if kept.verified_at is None and dropped.verified_at is not None:
        values |= {"verified_at": dropped.verified_at, "verified_by": dropped.verified_by}
    if kept.blocked_at is None and dropped.blocked_at is not None:
        values |= {"blocked_at": dropped.blocked_at, "blocked_reason": dropped.blocked_reason}
    for column in ("language", "name", "preferred_channel"):
        if getattr(kept, column) is None and getattr(dropped, column) is not None:
            values[column] = getattr(dropped, column)
    if values:
        await connection.execute(update(residents).where(residents.c.id == keep).values(values))
    await connection.execute(
        update(identities).where(identities.c.resident_id == drop).values(resident_id=keep)
    )
    await connection.execute(
        update(requests)
        .where(requests.c.resident_id == drop)
        .values(resident_id=keep, version=requests.c.version + 1)
    )
    # One person reports a request once: where both accounts did (or one first, the other
    # again nearby), the reports keep's account is told on stay. The count of reporters
    # stays as it was (it changes only with its request's version check).
    kept_reports = select(reporters.c.request_id).where(reporters.c.resident_id == keep)
    await connection.execute(
        delete(reporters).where(
            reporters.c.resident_id == drop, reporters.c.request_id.in_(kept_reports)
        )
    )
    await connection.execute(
        update(reporters).where(reporters.c.resident_id == drop).values(resident_id=keep)
    )
    kept_first = select(requests.c.id).where(requests.c.resident_id == keep)
    await connection.execute(
        delete(reporters).where(
            reporters.c.resident_id == keep, reporters.c.request_id.in_(kept_first)
        )
    )
    kept_chats = select(conversations.c.channel, conversations.c.conversation).where(
        conversations.c.resident_id == keep
    )
    await connection.execute(
        delete(conversations).where(
            conversations.c.resident_id == drop,
            tuple_(conversations.c.channel, conversations.c.conversation).in_(kept_chats),
        )
    )
    await connection.execute(
        update(conversations).where(conversations.c.resident_id == drop).values(resident_id=keep)
    )
    await connection.execute(delete(link_codes).where(link_codes.c.resident_id == drop))
    await connection.execute(delete(residents).where(residents.c.id == drop))
    [person] = await load(connection, residents.c.id == keep)
    return person
