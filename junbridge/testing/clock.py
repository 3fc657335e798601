"""A clock a test moves by hand: SLAs, retries and expiry without sleeping or timing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Wednesday 25 November 2026, 10:00 in Jun: the town hall is open, the electrician on duty.
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@dataclass
class ManualClock:
    """Pass it as ``make_bridge(clock=...)``; it reads ``now`` until the test moves it."""

    now: datetime = WEDNESDAY_10

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move on by ``seconds``."""
        self.now += timedelta(seconds=seconds)
