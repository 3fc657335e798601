"""Threads: which request a delivered message is about, by the ids its platform gave it.

A staff member who answers ``resolve`` in the thread of a request's card names no request:
the thread's root is the card's id (a Slack ``ts``; on Telegram the id of the message
answered). Each id a reply was delivered as is kept with the reply's conversation and
request, so finding the request is one primary-key lookup, however old the card.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from junbridge.store.schema import threads


def record(
    connection: Connection,
    *,
    outbox_id: int,
    channel: str,
    conversation: str,
    platform_ids: Sequence[str],
    reference: str,
) -> None:
    """Note that outbox row ``outbox_id`` about ``reference`` was delivered as ``platform_ids``.

    An id already noted in that conversation keeps the newer outbox row's request.
    """
    rows = [
        {
            "channel": channel,
            "conversation": conversation,
            "thread": thread,
            "request_reference": reference,
            "outbox_id": outbox_id,
        }
        for thread in dict.fromkeys(platform_ids)  # one row per id, even if sent twice
    ]
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(threads).values(rows)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[threads.c.channel, threads.c.conversation, threads.c.thread],
            set_={
                "request_reference": statement.excluded.request_reference,
                "outbox_id": statement.excluded.outbox_id,
            },
            where=threads.c.outbox_id < statement.excluded.outbox_id,
        )
    )


async def reference(
    connection: AsyncConnection, *, channel: str, conversation: str, thread: str
) -> str | None:
    """The request whose delivered message has id ``thread`` in that conversation, if any."""
    found = await connection.execute(
        select(threads.c.request_reference).where(
            threads.c.channel == channel,
            threads.c.conversation == conversation,
            threads.c.thread == thread,
        )
    )
    return found.scalar_one_or_none()
