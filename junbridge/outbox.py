"""The outbox worker: delivers stored replies through their channels, retrying politely.

Replies are written to the store in the same transaction as the request change that caused
them, so an accepted message's answer survives a crash. A 429 is retried after the delay
the platform gave; other transient failures back off exponentially; permanent ones are
marked failed and kept for staff to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from junbridge.activity import Activity
from junbridge.channels.base import Channel, DeliveryError
from junbridge.store import OutboxRow, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A row claimed this long ago and never marked was left by a crashed worker. Long, because
# one send may take several platform calls, each with its SDK's timeout.
STUCK_AFTER = timedelta(minutes=5)
# How often each worker puts such rows back in the queue.
REQUEUE_EVERY = timedelta(seconds=5)


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... seconds, at most ten minutes."""
    return timedelta(seconds=min(600, 2**attempts))


class Outbox:
    """Sends what the store holds for the running channels."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        clock: Callable[[], datetime],
        *,
        activity: Activity | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.clock = clock
        self.activity = activity or Activity()

    async def flush(self) -> int:
        """Deliver every reply that is due now; return how many were sent."""
        sent = 0
        for name in list(self.channels):
            while rows := await self.store.claim_outbox(now=self.clock(), channel=name):
                for row in rows:
                    sent += await self.deliver(row)
        return sent

    async def deliver(self, row: OutboxRow) -> int:
        """Send one claimed row and record the result; 1 if it was delivered."""
        channel = self.channels[row.reply.channel]
        if not await self.store.renew_claim(row.id, attempts=row.attempts, at=self.clock()):
            log.warning("reply %s was put back in the queue before its turn; not sent", row.id)
            return 0
        try:
            ids = await channel.send(row.reply)
        except DeliveryError as exc:
            await self._mark(row, exc, exc.retry_after, exc.permanent)
            return 0
        except Exception as exc:  # a channel bug must not stop the other replies
            log.exception("sending outbox row %s failed", row.id)
            await self._mark(row, exc, None, False)
            return 0
        await self.store.mark_sent(row.id, platform_ids=ids, at=self.clock())
        self.activity.reply_sent(row.reply.channel)
        return 1

    async def _mark(
        self, row: OutboxRow, exc: Exception, retry_after: float | None, permanent: bool
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if permanent or row.attempts >= MAX_ATTEMPTS:
            log.warning("gave up on reply %s to %s: %s", row.id, row.reply.channel, error)
            await self.store.mark_failed(row.id, error=error)
            self.activity.reply_failed(row.reply.channel)
            return
        log.warning("will retry reply %s to %s: %s", row.id, row.reply.channel, error)
        delay = timedelta(seconds=retry_after) if retry_after is not None else backoff(row.attempts)
        await self.store.mark_retry(row.id, error=error, retry_at=self.clock() + delay)
        self.activity.reply_retried(row.reply.channel)

    async def run(self, stop: asyncio.Event, *, interval: float = 0.5) -> None:
        """Deliver until ``stop`` is set, then finish the batch in hand.

        Every ``REQUEUE_EVERY`` it also puts back replies a worker claimed and never
        settled (it died): a live worker sends them ``STUCK_AFTER`` after the claim.
        """
        requeued: datetime | None = None
        while not stop.is_set():
            try:
                now = self.clock()
                if requeued is None or not now - REQUEUE_EVERY < requeued <= now:
                    requeued = now
                    await self.store.requeue_stuck(older_than=now - STUCK_AFTER)
                await self.flush()
            except Exception:
                log.exception("outbox pass failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
