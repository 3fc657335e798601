"""The inbound queue: messages channels have stored, waiting for their turn to be handled.

Channels store a message (``Store.accept``) and answer the platform at once; the work
happens here. Under load the worker takes what has piled up as one batch, whose effects are
committed together (group commit: one transaction, one disk sync, for many messages).

A batch holds at most one message per sender on each platform, so a resident's answer is
never decided before the question it answers is written (in that chat, or in the private
chat a public mention moved to); residents writing in the same busy channel share batches.
Two messages of a batch that change the same request (two staff members on one card) meet
the request's version check, and the batch is then handled one message at a time. The
handler records failures in the store (retried later, parked after the last try: see
``junbridge.store.leases``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from junbridge.model import Message

log = logging.getLogger(__name__)

Held = tuple[int, Message]
HandleBatch = Callable[[list[Held]], Awaitable[object]]
# Enough to make one commit serve many messages; small enough that a webhook waiting to
# store its message (SQLite lets one writer in at a time) is not held long behind a batch's
# commit. bench/bench_webhook_load.py at 500 events/s, p99 of the answer: 64 -> 237 ms,
# 32 -> 138-154 ms, 16 -> 125 ms; bench_pipeline's messages arriving together, per message
# on SQLite: 64 -> 881-1,019 µs, 32 -> 977-1,145 µs, 16 -> 1,129-1,271 µs.
MAX_BATCH = 32
# How far past a batch's first message ``take`` looks for others: a backlog in one chat
# is then taken one message per batch without rescanning the whole queue each time.
LOOK_AHEAD = 4 * MAX_BATCH


class InboundQueue:
    """A single worker over accepted messages, taking them in batches."""

    def __init__(self, handle: HandleBatch, *, max_batch: int = MAX_BATCH) -> None:
        self._handle = handle
        self._max = max_batch
        self._items: deque[Held] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None

    def put(self, inbound_id: int, message: Message) -> None:
        """Queue an accepted message; the worker starts on first use."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="junbridge-inbound")
        self._items.append((inbound_id, message))
        self._idle.clear()
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._items)

    async def drain(self) -> None:
        """Wait until every queued message has been handled."""
        await self._idle.wait()

    async def close(self) -> None:
        """Finish what is queued, then stop the worker."""
        if self._worker is None:
            return
        await self.drain()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    def take(self) -> list[Held]:
        """The next batch, oldest first: one message per sender and platform, the rest kept
        in order."""
        batch: list[Held] = []
        later: list[Held] = []
        exchanges: set[tuple[str, str]] = set()
        while self._items and len(batch) < self._max and len(later) < LOOK_AHEAD:
            item = self._items.popleft()
            message = item[1]
            key = (message.channel, message.sender.id)
            (later if key in exchanges else batch).append(item)
            exchanges.add(key)
        self._items.extendleft(reversed(later))
        return batch

    async def _work(self) -> None:
        while True:
            if not self._items:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self.take()
            try:
                await self._handle(batch)
            except Exception:
                log.exception("a batch of %d messages failed; kept for the sweep", len(batch))
