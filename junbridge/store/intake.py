"""Group accept: messages arriving together are stored in one transaction, one disk sync.

A webhook is answered only once its message is durable. Under load many webhooks wait for
that at the same moment; instead of one transaction (and one sync to disk) each, they share
the next one. A lone message waits only for its own insert: nothing is held back to fill a
batch.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from junbridge.model import Message
from junbridge.store import leases
from junbridge.store.records import Accepted
from junbridge.store.schema import inbound
from junbridge.store.transaction import Transaction
from junbridge.text import storable_text

if TYPE_CHECKING:
    from junbridge.store.store import Store

log = logging.getLogger(__name__)


# Built once: values go as parameters, so nothing is coerced per message.
_INSERT = insert(inbound)


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
                    partial(accept_rows, store=self._store, messages=messages)
                )
            except IntegrityError:
                # Another worker stored one of them meanwhile: each on its own settles it.
                results = [await self._store.accept(message) for message in messages]
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), accepted in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(accepted)


def accept_rows(tx: Transaction, *, store: Store, messages: list[Message]) -> list[Accepted]:
    """Insert the messages not stored yet; the others (redeliveries) get their stored row."""
    connection = tx.connection
    keys = list({(m.channel, m.platform_id) for m in messages})
    stored = {
        (row.channel, row.platform_id): Accepted(
            inbound_id=row.id,
            is_new=False,
            status=row.status,
            request_reference=row.request_reference,
        )
        for row in connection.execute(
            select(
                inbound.c.id,
                inbound.c.channel,
                inbound.c.platform_id,
                inbound.c.status,
                inbound.c.request_reference,
            ).where(tuple_(inbound.c.channel, inbound.c.platform_id).in_(keys))
        )
    }
    now = store.clock()
    results = []
    for message in messages:
        key = (message.channel, message.platform_id)
        if key in stored:
            results.append(stored[key])
            continue
        inbound_id = connection.execute(_INSERT, row(store, message, now))
        accepted = Accepted(
            inbound_id=inbound_id.inserted_primary_key[0],  # type: ignore[index]
            is_new=True,
            status="pending",
            request_reference=None,
        )
        results.append(accepted)
        # A twin in the same batch (a platform retrying at once) is the same message.
        stored[key] = Accepted(
            inbound_id=accepted.inbound_id, is_new=False, status="pending", request_reference=None
        )
    return results


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
