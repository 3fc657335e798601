"""Group accept: messages arriving together are stored in one transaction, one disk sync.

A webhook is answered only once its message is durable. Under load many webhooks wait for
that at the same moment; instead of one transaction (and one sync to disk) each, they share
the next one. A lone message waits only for its own insert: nothing is held back to fill a
batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from junbridge.model import Message
from junbridge.store import leases
from junbridge.store.records import Accepted
from junbridge.store.schema import inbound
from junbridge.store.transaction import Transaction
from junbridge.text import storable_text

if TYPE_CHECKING:
    from junbridge.store.store import Store

log = logging.getLogger(__name__)


class Intake:
    """Accepts that arrive while a batch is being written go together in the next one."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[tuple[Message, asyncio.Future[Accepted]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def accept(self, message: Message) -> Accepted:
        """Store ``message`` durably, once (see ``Store.accept``), with whoever else is due."""
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches(), name="junbridge-intake")
        return await future

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            messages = [message for message, _ in batch]
            try:
                results = await self._store.write(
                    partial(accept_rows, store=self._store, messages=messages), urgent=True
                )
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), accepted in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(accepted)


def accept_rows(tx: Transaction, *, store: Store, messages: list[Message]) -> list[Accepted]:
    """Insert the messages not stored yet; the others (redeliveries) get their stored row.

    Two workers may be sent the same messages at once (a platform retrying, a load balancer).
    Each batch inserts in one order (by dedupe key) and skips a key the other has taken
    (``ON CONFLICT DO NOTHING``, waiting for that worker's commit): never a deadlock, never
    an error, and the stored row is read back for the loser.
    """
    connection = tx.connection
    now = store.clock()
    unique = {(m.channel, m.platform_id): m for m in messages}
    keys = sorted(unique)
    inserted = connection.execute(
        _insert_once(store.dialect), [row(store, unique[key], now) for key in keys]
    )
    accepted: dict[tuple[str, str], Accepted] = {
        (r.channel, r.platform_id): Accepted(
            inbound_id=r.id, is_new=True, status="pending", request_reference=None
        )
        for r in inserted
    }
    stored = [key for key in keys if key not in accepted]
    if stored:
        for r in connection.execute(
            select(
                inbound.c.id,
                inbound.c.channel,
                inbound.c.platform_id,
                inbound.c.status,
                inbound.c.request_reference,
            ).where(tuple_(inbound.c.channel, inbound.c.platform_id).in_(stored))
        ):
            accepted[(r.channel, r.platform_id)] = Accepted(
                inbound_id=r.id,
                is_new=False,
                status=r.status,
                request_reference=r.request_reference,
            )
    results = []
    first: set[tuple[str, str]] = set()
    for message in messages:
        key = (message.channel, message.platform_id)
        found = accepted[key]
        if key in first and found.is_new:
            found = dataclasses.replace(found, is_new=False)  # the twin, after the original
        first.add(key)
        results.append(found)
    return results


def _insert_once(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT (channel, platform_id) DO NOTHING RETURNING id, ...``: one
    statement for the whole batch, whose rows come back with their keys (a skipped one,
    already stored, does not come back)."""
    return _INSERT_ONCE[dialect]


_INSERT_ONCE = {
    dialect: make(inbound)
    .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
    .returning(inbound.c.id, inbound.c.channel, inbound.c.platform_id)
    for dialect, make in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def row(store: Store, message: Message, now: datetime) -> dict[str, object]:
    """The ``inbound`` row of a newly accepted message, held by this worker."""
    return {
        "channel": message.channel,
        "platform_id": message.platform_id,
        # A column of its own, not JSON: repaired like a channel does (junbridge.text).
        "conversation": storable_text(message.conversation),
        "received_at": now,
        "message": message.to_json(),
        "status": "pending",
        "attempts": 1,
        "worker": store.worker,
        "lease_until": now + leases.LEASE,
    }
