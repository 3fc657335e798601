"""Transaction: the writes of one handled message, committed together or not at all."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from junbridge.model import Reply, ServiceRequest
from junbridge.store import records
from junbridge.store.records import ConversationState
from junbridge.store.schema import conversations, history, inbound, outbox, requests, timers

_CONVERSATION_KEY = ("resident_id", "channel", "conversation")


class Transaction:
    """Writes inside ``Store.transaction()``: an exception in the block undoes all of them."""

    def __init__(
        self,
        connection: AsyncConnection,
        *,
        reference_prefix: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._connection = connection
        self._prefix = reference_prefix
        self._clock = clock

    async def save_request(self, request: ServiceRequest) -> ServiceRequest:
        """Insert a new request (``reference == ""``) or update a stored one; return it saved.

        A new request gets ``reference`` and ``service_request_id`` ``PREFIX-0001``, from the
        row id so that concurrent workers never hand out the same number. History entries
        past those already stored are appended; stored ones are never rewritten.
        """
        values = records.request_values(request)
        if request.reference == "":
            # A unique stand-in until the row id, and so the reference, is known.
            values["reference"] = values["service_request_id"] = f"new-{uuid.uuid4().hex}"
            result = await self._connection.execute(insert(requests).values(values))
            request_id: int = result.inserted_primary_key[0]  # type: ignore[index]
            reference = f"{self._prefix}-{request_id:04d}"
            await self._connection.execute(
                update(requests)
                .where(requests.c.id == request_id)
                .values(reference=reference, service_request_id=reference)
            )
            request = dataclasses.replace(
                request, reference=reference, service_request_id=reference
            )
            stored = 0
        else:
            # FOR UPDATE: two workers changing one request take turns (history positions).
            found = await self._connection.scalar(
                select(requests.c.id)
                .where(requests.c.reference == request.reference)
                .with_for_update()
            )
            if found is None:
                raise LookupError(f"no request {request.reference}")
            request_id = found
            await self._connection.execute(
                update(requests).where(requests.c.id == request_id).values(values)
            )
            stored = (
                await self._connection.scalar(
                    select(func.count())
                    .select_from(history)
                    .where(history.c.request_id == request_id)
                )
                or 0
            )
        new = request.history[stored:]
        if new:
            await self._connection.execute(
                insert(history),
                [
                    records.history_values(request_id, position, entry)
                    for position, entry in enumerate(new, start=stored)
                ],
            )
        return request

    async def finish_inbound(
        self, inbound_id: int, *, request_reference: str | None, error: str | None = None
    ) -> None:
        """Mark an accepted message handled: ``done``, or ``failed`` if it erred with no request."""
        status = "failed" if error is not None and request_reference is None else "done"
        await self._connection.execute(
            update(inbound)
            .where(inbound.c.id == inbound_id)
            .values(status=status, request_reference=request_reference, error=error)
        )

    async def save_conversation(self, state: ConversationState) -> None:
        """Store ``state``, replacing the one for the same resident, channel and conversation."""
        values = records.conversation_values(state)
        statement: Insert
        if self._connection.dialect.name == "postgresql":
            pg = postgresql.insert(conversations).values(values)
            statement = pg.on_conflict_do_update(
                index_elements=_CONVERSATION_KEY,
                set_={k: pg.excluded[k] for k in values if k not in _CONVERSATION_KEY},
            )
        else:
            lite = sqlite.insert(conversations).values(values)
            statement = lite.on_conflict_do_update(
                index_elements=_CONVERSATION_KEY,
                set_={k: lite.excluded[k] for k in values if k not in _CONVERSATION_KEY},
            )
        await self._connection.execute(statement)

    async def end_conversation(self, resident_id: int, channel: str, conversation: str) -> None:
        """Forget the resident's open exchange in that conversation (no-op if none)."""
        await self._connection.execute(
            delete(conversations).where(
                conversations.c.resident_id == resident_id,
                conversations.c.channel == channel,
                conversations.c.conversation == conversation,
            )
        )

    async def enqueue(
        self, reply: Reply, *, request_reference: str | None, not_before: datetime | None = None
    ) -> int:
        """Queue ``reply`` for the outbox worker (not before ``not_before``); return its id."""
        now = self._clock()
        values: dict[str, Any] = {
            "created_at": now,
            "request_reference": request_reference,
            "channel": reply.channel,
            "reply": reply.to_json(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": max(now, not_before) if not_before else now,
            "platform_ids": [],
        }
        result = await self._connection.execute(insert(outbox).values(values))
        outbox_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        return outbox_id

    # -- timers ----------------------------------------------------------------------------

    async def add_timer(self, reference: str, kind: str, due_at: datetime) -> None:
        """Something to do for request ``reference`` at ``due_at`` (see junbridge.scheduler)."""
        await self._connection.execute(
            insert(timers).values(request_reference=reference, kind=kind, due_at=due_at)
        )

    async def cancel_timers(self, reference: str, kinds: Sequence[str]) -> None:
        """Forget the pending timers of those kinds for ``reference``."""
        await self._connection.execute(
            delete(timers).where(
                timers.c.request_reference == reference,
                timers.c.kind.in_(list(kinds)),
                timers.c.done_at.is_(None),
            )
        )

    async def finish_timer(self, timer_id: int) -> bool:
        """Mark a timer done; False if another worker already did (it must not act twice)."""
        result = await self._connection.execute(
            update(timers)
            .where(timers.c.id == timer_id, timers.c.done_at.is_(None))
            .values(done_at=self._clock())
        )
        return bool(result.rowcount)
