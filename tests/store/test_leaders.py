"""One worker polls X at a time: a leader's lease, taken over when it runs out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from junbridge.store import Store

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def test_one_leader_at_a_time_and_another_when_it_stops_renewing(db_url: str) -> None:
    one, two = await Store.open(db_url), await Store.open(db_url)
    try:
        assert await one.lead("twitter.poll", until=NOW + LEASE, now=NOW)
        assert not await two.lead("twitter.poll", until=NOW + LEASE, now=NOW)
        # The leader renews as it works; the other keeps waiting.
        later = NOW + timedelta(seconds=20)
        assert await one.lead("twitter.poll", until=later + LEASE, now=later)
        assert not await two.lead("twitter.poll", until=later + LEASE, now=NOW + LEASE)
        # The leader died: once its lease runs out, the other takes over, and keeps it.
        gone = later + LEASE + timedelta(seconds=1)
        assert await two.lead("twitter.poll", until=gone + LEASE, now=gone)
        assert not await one.lead("twitter.poll", until=gone + LEASE, now=gone)
        # Another role has a leader of its own.
        assert await one.lead("other", until=gone + LEASE, now=gone)
    finally:
        await one.close()
        await two.close()


async def test_workers_asking_at_once_get_one_leader(db_url: str) -> None:
    workers = [await Store.open(db_url) for _ in range(4)]
    try:
        for round in range(10):  # a race lost now and then would show here
            won = await asyncio.gather(
                *(w.lead(f"role-{round}", until=NOW + LEASE, now=NOW) for w in workers)
            )
            assert sorted(won) == [False, False, False, True]
    finally:
        for worker in workers:
            await worker.close()
