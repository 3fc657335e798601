"""Claims on accepted messages are leases: several workers, one handler per message.

The worker that accepts a message holds a lease on it (``LEASE``) and handles it. A worker
that dies loses its messages when the lease runs out: any live worker's sweep
(:func:`claim_expired`) takes them over, oldest first and one conversation at a time, so a
resident's answer is never handled before the question it answers. The handler's commit
checks that it still holds the message (``Transaction.finish_inbound``); a worker whose
lease was taken over rolls back instead of writing a second request.

A message whose handling keeps failing (a bug, or text the store refuses) is retried
``MAX_ATTEMPTS`` times, then parked with its error: it never blocks start-up or the queue,
and an admin retries it with ``junbridge requests retry``. Functions here take the
:class:`Store`; ``Store`` exposes them as methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, exists, or_, select, update

from junbridge.model import JunbridgeError, Message
from junbridge.store.schema import inbound

if TYPE_CHECKING:
    from junbridge.store.store import Store
    from junbridge.store.transaction import Transaction

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 3
# After a failure the message waits this long per attempt before another try.
BACKOFF = timedelta(seconds=5)


class LeaseLost(JunbridgeError):
    """Another worker took this message over (our lease ran out): our writes are undone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    """An accepted message a worker now holds, and how many times handling was tried."""

    inbound_id: int
    message: Message
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Parked:
    """A message set aside after ``MAX_ATTEMPTS`` failures, with the last error."""

    inbound_id: int
    channel: str
    platform_id: str
    received_at: datetime
    attempts: int
    error: str | None
    text: str


async def claim_expired(store: Store, *, limit: int = 50) -> list[Claimed]:
    """Take pending messages nobody holds (never claimed, or a lease that ran out).

    Oldest first; a message waits while an older one of its conversation is pending. Rows
    this worker holds are left alone: they are in its own queue. On PostgreSQL, rows another
    worker is claiming at the same moment are skipped (``FOR UPDATE SKIP LOCKED``).
    """
    now = store.clock()
    earlier = inbound.alias("earlier")
    query = (
        select(inbound.c.id, inbound.c.message, inbound.c.attempts)
        .where(
            inbound.c.status == "pending",
            or_(inbound.c.lease_until.is_(None), inbound.c.lease_until <= now),
            or_(inbound.c.worker.is_(None), inbound.c.worker != store.worker),
            ~exists().where(
                earlier.c.channel == inbound.c.channel,
                earlier.c.conversation == inbound.c.conversation,
                earlier.c.status == "pending",
                earlier.c.id < inbound.c.id,
            ),
        )
        .order_by(inbound.c.id)
        .limit(limit)
    )
    if store.dialect == "postgresql":
        query = query.with_for_update(skip_locked=True, of=inbound)

    def claim(tx: Transaction) -> list[Row[Any, Any, Any]]:
        rows = list(tx.connection.execute(query).all())
        if rows:
            tx.connection.execute(
                update(inbound)
                .where(inbound.c.id.in_([row.id for row in rows]))
                .values(
                    worker=store.worker, lease_until=now + LEASE, attempts=inbound.c.attempts + 1
                )
            )
        return rows

    rows = await store.write(claim)
    return [
        Claimed(
            inbound_id=row.id, message=Message.from_json(row.message), attempts=row.attempts + 1
        )
        for row in rows
    ]


async def release_failed(store: Store, inbound_id: int, *, error: str) -> str:
    """Record a failed attempt: ``pending`` again after a pause, or ``parked`` at the last.

    Returns the new status (``""`` if this worker no longer held the message).
    """
    now = store.clock()
    held = (
        inbound.c.id == inbound_id,
        inbound.c.status == "pending",
        inbound.c.worker == store.worker,
    )

    def release(tx: Transaction) -> str:
        attempts = tx.connection.scalar(select(inbound.c.attempts).where(*held))
        if attempts is None:
            return ""
        status = "parked" if attempts >= MAX_ATTEMPTS else "pending"
        tx.connection.execute(
            update(inbound)
            .where(*held)
            .values(
                status=status,
                error=error[:4000],
                worker=None,
                lease_until=now + BACKOFF * attempts,
            )
        )
        return status

    return await store.write(release)


async def list_parked(store: Store) -> list[Parked]:
    """Every parked message, oldest first."""
    async with store._read() as connection:
        rows = await connection.execute(
            select(inbound).where(inbound.c.status == "parked").order_by(inbound.c.id)
        )
        return [
            Parked(
                inbound_id=row.id,
                channel=row.channel,
                platform_id=row.platform_id,
                received_at=row.received_at,
                attempts=row.attempts,
                error=row.error,
                text=str(row.message.get("text") or ""),
            )
            for row in rows
        ]


async def retry_parked(store: Store, inbound_ids: list[int] | None = None) -> int:
    """Put parked messages (all, or those ids) back in the queue; return how many."""
    where = [inbound.c.status == "parked"]
    if inbound_ids is not None:
        where.append(inbound.c.id.in_(inbound_ids))
    async with store._write() as connection:
        result = await connection.execute(
            update(inbound)
            .where(and_(*where))
            .values(status="pending", attempts=0, worker=None, lease_until=None, error=None)
        )
    return int(result.rowcount)
