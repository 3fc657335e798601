"""Replies the outbox gave up on, and sending one of them again (the admin API).

A reply is ``failed`` after a permanent refusal (a resident blocked the bot, a text the
platform will never take) or after its last try. Once the cause is fixed (the channel's
token renewed, the platform back), an admin queues it again: it goes out with the next
outbox pass, with its tries counted from zero.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from junbridge.store import records
from junbridge.store.records import OutboxRow
from junbridge.store.schema import outbox
from junbridge.store.transaction import Transaction

if TYPE_CHECKING:
    from junbridge.store.store import Store


async def failed(store: Store, *, limit: int = 100) -> list[OutboxRow]:
    """Replies failed for good, newest first (at most ``limit``)."""
    query = (
        select(outbox).where(outbox.c.status == "failed").order_by(outbox.c.id.desc()).limit(limit)
    )
    return await store.read(
        lambda connection: [records.outbox_row(row) for row in connection.execute(query)]
    )


async def retry(store: Store, outbox_id: int, *, now: datetime) -> bool:
    """Queue failed reply ``outbox_id`` again, due ``now``; False if there is no such failed
    reply (sent meanwhile, already queued, or never there)."""
    again = (
        update(outbox)
        .where(outbox.c.id == outbox_id, outbox.c.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now, claimed_at=None)
    )

    def queue(tx: Transaction) -> bool:
        return bool(tx.connection.execute(again).rowcount)

    return await store.write(queue)
