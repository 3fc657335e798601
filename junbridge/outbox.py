"""The outbox worker: delivers stored replies through their channels, at each one's pace.

Replies are written to the store in the same transaction as the request change that caused
them, so an accepted message's answer survives a crash. Each channel is sent to on its own
(a slow or limited platform never holds the others), one reply at a time (a worker that
dies leaves at most one reply unrecorded on the wire), within its platform's documented
rates (``Channel.pace``, kept in the store for every worker: see pacing.py), and in order
per destination. A 429 that still comes holds that destination back
for as long as the platform says and does not count as a failed attempt; other transient
failures back off exponentially; permanent ones are marked failed and kept for staff. A
channel whose every send fails for minutes is down (``junbridge.outages``): staff are told,
and what waits for residents with a linked account elsewhere goes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from junbridge.activity import Activity
from junbridge.channels.base import Channel, DeliveryError, recording_parts
from junbridge.outages import Outage, Outages
from junbridge.pacing import PaceClock, conversation_key, destination
from junbridge.store import OutboxRow, Store
from junbridge.store.store import UNSETTLED

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A claim is a lease: a row claimed this long ago and never renewed or marked was left by a
# worker that died, and a live one sends it. The sending worker renews it every RENEW_EVERY
# while a send is in flight (a long reply may take several platform calls and waits).
STUCK_AFTER = timedelta(seconds=30)
RENEW_EVERY = timedelta(seconds=10)
# A claim younger than this is the worker's without asking the store again: no worker puts
# a row back before STUCK_AFTER, 25 s later (the clocks of workers agree far better).
FRESH_CLAIM = RENEW_EVERY / 2
# How often each worker puts such rows back in the queue.
REQUEUE_EVERY = timedelta(seconds=5)


# How many replies one claim of a channel takes at most (its pace takes fewer when it must).
CLAIM = 100


# A paced send goes this long after its moment, on purpose. A platform counts a send when it
# arrives, and arrivals wander by a few milliseconds: with what waking up adds (~0.6 ms),
# about 30 ms stay in hand in any window of Telegram's 30 sends a second. The margin used to
# come by accident: asyncio wakes a sleeper late (epoll counts whole milliseconds; ~1.5 ms
# here, more on a busy machine) and the next send is spaced from the late one, so the busier
# the machine, the less of the rate was used.
MARGIN = timedelta(milliseconds=0.5)
# How long before a send's moment the outbox wakes, to wait out the rest a turn of the
# event loop at a time (the other tasks run meanwhile).
EARLY_WAKE = 0.002


async def wait_until(due: datetime, now: Callable[[], datetime]) -> None:
    """Return once ``now()`` reaches ``due``, without asyncio's late wake-up.

    The last ``EARLY_WAKE`` is waited a turn of the loop at a time, and never longer than
    twice that in real time (a clock standing still, as in tests, does not hold it).
    """
    delay = (due - now()).total_seconds()
    if delay <= 0:
        return
    if delay > EARLY_WAKE:
        await asyncio.sleep(delay - EARLY_WAKE)
    give_up = time.monotonic() + 2 * EARLY_WAKE
    while now() < due and time.monotonic() < give_up:  # noqa: ASYNC110 - a moment, no event
        await asyncio.sleep(0)


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
        on_failed: Callable[[OutboxRow, str], Awaitable[None]] | None = None,
        on_down: Callable[[Outage, bool], Awaitable[None]] | None = None,
        on_up: Callable[[Outage], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.channels = channels
        self.clock = clock
        self.pace_clock = PaceClock(clock)
        # When this worker last let a reply go, per channel (see _spaced).
        self._last_send: dict[str, datetime] = {}
        self.activity = activity or Activity()
        # Told of each reply given up on (the bridge says so where the resident wrote).
        self.on_failed = on_failed
        # Told when a channel goes down (True), at each pass while it is down (False), and
        # when it is back (see outages.py).
        self.outages = Outages(clock)
        self.on_down = on_down
        self.on_up = on_up

    async def flush(self) -> int:
        """Deliver every reply that is due now, each channel on its own; how many were sent."""
        counts = await asyncio.gather(*(self.flush_channel(name) for name in list(self.channels)))
        return sum(counts)

    async def settle(self) -> int:
        """``flush`` until no reply is due, waiting for the pace where it must (the demo and
        tests, which need every reply of a step out before the next); how many were sent."""
        sent = await self.flush()
        while await self.store.replies_due(now=self.clock(), channels=list(self.channels)):
            await asyncio.sleep(0.05)
            sent += await self.flush()
        return sent

    async def flush_channel(self, name: str) -> int:
        """Deliver ``name``'s due replies at its pace; return how many were sent."""
        channel = self.channels[name]
        sent = 0
        if self.outages.is_down(name) and self.on_down is not None:
            # What came in for residents reachable elsewhere since the last pass goes there.
            await self._tell(self.on_down(self.outages.down()[name], False), name)
        while rows := await self.store.claim_outbox(
            now=(claimed := self.clock()),
            channel=name,
            limit=CLAIM,
            pace=lambda _channel, where: channel.pace(where),
            paced_now=self.pace_clock(),
        ):
            # Each goes at its moment, one after another: a worker that dies has at most one
            # reply on the wire that it could not record as sent (and that may go twice).
            for row in rows:
                if row.send_at is not None:
                    due = self._spaced(name, channel, row)
                    await wait_until(due + MARGIN, self.pace_clock)
                    self._last_send[name] = self.pace_clock()
                sent += await self.deliver(row, claimed_at=claimed)
        return sent

    def _spaced(self, name: str, channel: Channel, row: OutboxRow) -> datetime:
        """When ``row`` may go: its moment from the claim, and never closer to this worker's
        previous send on the channel than the bot's steady spacing (a send that went late,
        behind a slow one or a pause of the process, must not bring the next ones closer
        together: the platform counts them as they arrive)."""
        assert row.send_at is not None
        rate = channel.pace(destination(row.reply)).bot
        last = self._last_send.get(name)
        if rate is None or rate.burst != 1 or last is None:
            return row.send_at
        return max(row.send_at, last + rate.interval)

    async def deliver(self, row: OutboxRow, *, claimed_at: datetime | None = None) -> int:
        """Send one claimed row and record the result; 1 if it was delivered.

        ``claimed_at``: when this worker claimed it. A claim older than ``FRESH_CLAIM`` (or
        of unknown age) is renewed first, which also tells whether it was put back in the
        queue meanwhile: under load most replies go within moments of their claim, and
        skip that write.
        """
        channel = self.channels[row.reply.channel]
        now = self.clock()
        fresh = claimed_at is not None and now - claimed_at < FRESH_CLAIM
        if not fresh and not await self.store.renew_claim(row.id, attempts=row.attempts, at=now):
            log.warning("reply %s was put back in the queue before its turn; not sent", row.id)
            return 0
        try:
            # Parts an earlier try delivered (in this worker or one that died) are not resent;
            # each part of a long reply is recorded as it arrives (channels.base.parts_sent).
            sent = row.platform_ids or await self._posted_unrecorded(row, channel)
            with recording_parts(lambda ids: self.store.record_parts(row.id, ids)):
                ids = await self._sending(row, channel.send(row.reply, sent=sent))
        except DeliveryError as exc:
            await self._mark(row, exc, exc.retry_after, exc.permanent, sent=exc.sent)
            return 0
        except Exception as exc:  # a channel bug must not stop the other replies
            log.exception("sending outbox row %s failed", row.id)
            await self._mark(row, exc, None, False)
            return 0
        # The destination's next reply waits from the end of this send.
        rate = channel.pace(destination(row.reply)).conversation
        paced = [(self._key(row), self.pace_clock() + rate.interval)] if rate is not None else []
        await self.store.mark_sent(row.id, platform_ids=ids, at=self.clock(), paced=paced)
        self.activity.reply_sent(row.reply.channel)
        ended = self.outages.delivered(row.reply.channel)
        if ended is not None and self.on_up is not None:
            await self._tell(self.on_up(ended), ended.channel)
        return 1

    async def _posted_unrecorded(self, row: OutboxRow, channel: Channel) -> tuple[str, ...]:
        """What a worker that stopped mid-send posted of ``row`` without recording it, as far
        as the platform can tell (``Channel.already_sent``); nothing for other retries."""
        if row.error != UNSETTLED:
            return ()
        known = await self.store.sent_ids(row.reply.channel, destination(row.reply))
        found = await channel.already_sent(row.reply, since=row.created_at, known=known)
        if found:
            log.info(
                "reply %s had reached %s before its worker stopped (%d parts): not posted again",
                row.id,
                row.reply.channel,
                len(found),
            )
        return tuple(found)

    async def _sending(self, row: OutboxRow, send: Coroutine[Any, Any, list[str]]) -> list[str]:
        """Await ``send``, renewing the row's lease while it runs."""
        task = asyncio.ensure_future(send)
        while not task.done():
            await asyncio.wait({task}, timeout=RENEW_EVERY.total_seconds())
            if not task.done() and not await self.store.renew_claim(
                row.id, attempts=row.attempts, at=self.clock()
            ):
                log.warning("reply %s was taken over while it was being sent", row.id)
        return task.result()

    @staticmethod
    def _key(row: OutboxRow) -> str:
        return conversation_key(row.reply.channel, destination(row.reply))

    async def _mark(
        self,
        row: OutboxRow,
        exc: Exception,
        retry_after: float | None,
        permanent: bool,
        *,
        sent: Sequence[str] = (),
    ) -> None:
        await self._record(row, exc, retry_after, permanent, sent=sent)
        if retry_after is None and not permanent:
            # The platform's failure, not this destination's: it counts towards an outage.
            began = self.outages.failed(row.reply.channel, f"{type(exc).__name__}: {exc}")
            if began is not None and self.on_down is not None:
                await self._tell(self.on_down(began, True), began.channel)

    async def _record(
        self,
        row: OutboxRow,
        exc: Exception,
        retry_after: float | None,
        permanent: bool,
        *,
        sent: Sequence[str] = (),
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"
        # The parts that did arrive are kept with the reply: the next try sends the rest.
        delivered = tuple(sent) or row.platform_ids
        if retry_after is not None and not permanent:
            # "Slow down": the destination waits what the platform said, and the reply keeps
            # its attempts (it did not fail). Due at once: the pace holds it back.
            log.info(
                "%s asked to slow down for %gs (reply %s)", row.reply.channel, retry_after, row.id
            )
            until = self.pace_clock() + timedelta(seconds=retry_after)
            await self.store.mark_retry(
                row.id,
                error=error,
                retry_at=self.clock(),
                counted=False,
                paced=[(self._key(row), until)],
                platform_ids=delivered,
            )
            self.activity.reply_retried(row.reply.channel)
            return
        if permanent or row.attempts >= MAX_ATTEMPTS:
            log.warning("gave up on reply %s to %s: %s", row.id, row.reply.channel, error)
            await self.store.mark_failed(row.id, error=error, platform_ids=delivered)
            self.activity.reply_failed(row.reply.channel)
            if self.on_failed is not None:
                try:
                    await self.on_failed(row, error)
                except Exception:  # telling about a failure must not stop the other replies
                    log.exception("could not tell about reply %s that failed", row.id)
            return
        log.warning("will retry reply %s to %s: %s", row.id, row.reply.channel, error)
        await self.store.mark_retry(
            row.id,
            error=error,
            retry_at=self.clock() + backoff(row.attempts),
            platform_ids=delivered,
        )
        self.activity.reply_retried(row.reply.channel)

    @staticmethod
    async def _tell(told: Awaitable[None], channel: str) -> None:
        try:
            await told
        except Exception:  # saying so must not stop the other replies
            log.exception("could not act on %s going down or coming back", channel)

    async def run(self, stop: asyncio.Event, *, interval: float = 0.5) -> None:
        """Deliver until ``stop`` is set, then finish the replies in hand.

        Each channel is sent to by a loop of its own, so a channel waiting out its pace (a
        hundred posts into one Slack channel take a hundred seconds) or a platform that is
        down never holds another's replies. Every ``REQUEUE_EVERY`` this also puts back
        replies a worker claimed and never settled (it died): a live worker sends them
        ``STUCK_AFTER`` after the claim.
        """
        loops: dict[str, asyncio.Task[None]] = {}
        requeued: datetime | None = None
        try:
            while not stop.is_set():
                for name in list(self.channels):  # a channel started later gets its loop
                    if name not in loops:
                        loops[name] = asyncio.create_task(
                            self._run_channel(name, stop, interval), name=f"junbridge-outbox-{name}"
                        )
                try:
                    now = self.clock()
                    if requeued is None or not now - REQUEUE_EVERY < requeued <= now:
                        requeued = now
                        await self.store.requeue_stuck(older_than=now - STUCK_AFTER)
                except Exception:
                    log.exception("putting back replies left unsettled failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
        finally:
            if not stop.is_set():  # cancelled: the channels' loops go with it
                for task in loops.values():
                    task.cancel()
            await asyncio.gather(*loops.values(), return_exceptions=True)

    async def _run_channel(self, name: str, stop: asyncio.Event, interval: float) -> None:
        """Deliver ``name``'s replies until ``stop`` is set (or the channel is gone)."""
        while not stop.is_set() and name in self.channels:
            try:
                await self.flush_channel(name)
            except Exception:
                log.exception("outbox pass for %s failed; trying again", name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
