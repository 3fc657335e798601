"""The inbound queue: messages channels have stored, waiting for their turn to be handled.

Channels store a message (``Store.accept``) and answer the platform at once; the work
happens here, one message at a time in arrival order, so a resident's answer never
overtakes the question it answers. The process function records a failure in the store
(retried later, parked after the last try: see ``junbridge.store.leases``); ``sweep``
takes over messages that nobody holds any more, such as a dead worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from junbridge.model import Message

log = logging.getLogger(__name__)

Process = Callable[[int, Message], Awaitable[object]]


class InboundQueue:
    """A single worker over accepted messages."""

    def __init__(self, process: Process) -> None:
        self._process = process
        self._queue: asyncio.Queue[tuple[int, Message]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def put(self, inbound_id: int, message: Message) -> None:
        """Queue an accepted message; the worker starts on first use."""
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="junbridge-inbound")
        self._queue.put_nowait((inbound_id, message))

    async def drain(self) -> None:
        """Wait until every queued message has been handled."""
        await self._queue.join()

    async def close(self) -> None:
        """Finish what is queued, then stop the worker."""
        if self._worker is None:
            return
        await self.drain()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None

    async def _work(self) -> None:
        while True:
            inbound_id, message = await self._queue.get()
            try:
                await self._process(inbound_id, message)
            except Exception:
                log.exception(
                    "message %s:%s: unexpected failure; kept for the sweep",
                    message.channel,
                    message.platform_id,
                )
            finally:
                self._queue.task_done()
