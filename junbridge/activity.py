"""What this process has seen since it started: messages in, replies out, webhooks refused,
and how long handling took. Plain counters, read by ``/metrics`` and ``/healthz``.

The store holds what every worker shares (requests, the outbox, the inbound queue); this is
what one process did, so an operator can tell a silent channel or a slow worker apart.
Moments are wall-clock seconds (``time.time()``), not the bridge's clock: they say when a
platform was last heard from, which a simulated clock would hide.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# Seconds a batch of messages takes to handle, from a lone message on SQLite (a few ms) to a
# batch of 32 waiting on a slow profile lookup (COMPLETE_TIMEOUT is 3 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    """Observations counted per bucket (upper bounds), with their sum: Prometheus' shape."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        """How many observations."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it), ending with +Inf."""
        running, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


@dataclass
class Activity:
    """This process's counters, per channel where it matters."""

    received: Counter[str] = field(default_factory=Counter)
    last_received: dict[str, float] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    last_sent: dict[str, float] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)
    handled: int = 0
    handling: Histogram = field(default_factory=Histogram)
    started: float = field(default_factory=time.time)

    def message_in(self, channel: str) -> None:
        """A new message from a platform was stored."""
        self.received[channel] += 1
        self.last_received[channel] = time.time()

    def reply_sent(self, channel: str) -> None:
        """A reply was delivered."""
        self.sent[channel] += 1
        self.last_sent[channel] = time.time()

    def reply_retried(self, channel: str) -> None:
        """A reply failed and was queued again."""
        self.retried[channel] += 1

    def reply_failed(self, channel: str) -> None:
        """A reply failed for good."""
        self.failed[channel] += 1

    def webhook_rejected(self, channel: str) -> None:
        """A webhook call was refused as forged, unsigned or stale (401/403)."""
        self.rejected[channel] += 1

    def timed(
        self, handle: Callable[[list[T]], Awaitable[object]]
    ) -> Callable[[list[T]], Awaitable[object]]:
        """``handle`` (the inbound queue's batch handler), counting each batch's duration."""

        async def timed_handle(batch: list[T]) -> object:
            start = time.perf_counter()
            try:
                return await handle(batch)
            finally:
                self.handling.observe(time.perf_counter() - start)
                self.handled += len(batch)

        return timed_handle
