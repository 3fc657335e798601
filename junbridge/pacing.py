"""Pacing: how fast a channel may send, to one conversation and in all, as its platform says.

The outbox never sends faster than these rates, so a platform has no reason to answer
"slow down" (429) in normal work. The state of each rate is one moment kept in the store
(``pacing`` table), so every worker paces against the same numbers.

A rate is a token bucket, kept as its *theoretical arrival time* (GCRA): the moment the
bucket would be full again. A send may go at ``max(now, tat - tolerance)``; it moves the
moment on by one interval. One datetime per key says it all, and two workers reading it in
one transaction cannot both spend the same token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from junbridge.model import Reply


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` sends in any ``seconds``, as the platform documents it, sent evenly;
    ``burst`` of them may go at once after a quiet spell.

    A burst is lent against the steady rate: in any window of ``seconds`` a bucket lets
    ``count + burst - 1`` through. So a limit counted over a sliding window (Telegram's 30
    a second) keeps ``burst=1``; a limit X counts per fixed window of 15 minutes is written
    with ``count`` lowered by the burst it allows (90 steady + a burst of 10 = 100).
    """

    count: int
    seconds: float
    burst: int = 1

    @property
    def interval(self) -> timedelta:
        """The steady spacing between two sends."""
        return timedelta(seconds=self.seconds / self.count)

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of the steady spacing a full bucket lets sends go."""
        return self.interval * (self.burst - 1)


@dataclass(frozen=True, slots=True)
class Pace:
    """A channel's limits: per conversation (a chat, a Slack channel, a DM) and per bot.

    The conversation rate is kept from the end of each send, not its start: a platform
    counts a message when it arrives, so a send that was slow to arrive never lets the next
    one in early.
    """

    conversation: Rate | None = None
    bot: Rate | None = None


# No limit: a channel that says nothing about its platform is sent to as fast as it answers.
UNPACED = Pace()


def destination(reply: Reply) -> str:
    """Where a reply lands: the resident's DM for a private answer, else the conversation.

    Replies to one destination are sent one at a time, in the order they were made.
    """
    if reply.private and reply.recipient:
        return f"dm:{reply.recipient}"
    return reply.conversation


def bot_key(channel: str) -> str:
    """The pacing key of a channel's bot."""
    return channel


def conversation_key(channel: str, where: str) -> str:
    """The pacing key of one destination of a channel."""
    return f"{channel}:{where}"


def slot(now: datetime, tat: datetime | None, rate: Rate) -> datetime:
    """The earliest moment a send may go under ``rate``, whose bucket is at ``tat``."""
    if tat is None:
        return now
    return max(now, tat - rate.tolerance)


def spend(at: datetime, tat: datetime | None, rate: Rate) -> datetime:
    """The bucket's moment after a send at ``at``."""
    return max(at, tat or at) + rate.interval


class PaceClock:
    """The time pacing goes by: the bridge's clock, moving on in real time while it stands still.

    Platforms count their limits in real seconds. In production the bridge's clock is the
    real one, and this reads the same. A simulated day (the demo, tests) holds its clock
    still between steps while real seconds pass for the platform, and moves it on in jumps:
    this follows both, and never goes back.
    """

    def __init__(
        self, clock: Callable[[], datetime], monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._seen: datetime | None = None
        self._since = 0.0
        self._last: datetime | None = None

    def __call__(self) -> datetime:
        now, tick = self._clock(), self._monotonic()
        if now != self._seen:
            self._seen, self._since = now, tick
        paced = now + timedelta(seconds=tick - self._since)
        if self._last is not None and paced < self._last:
            paced = self._last
        self._last = paced
        return paced
