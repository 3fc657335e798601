"""Several workers on one store: a claim is a lease, a stale copy never overwrites a newer one.

Each test runs on SQLite and on PostgreSQL; "workers" are separate ``Store`` objects on the
same database, as separate ``junbridge run`` processes would be.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from test_store import T0, message, new_request

from junbridge.model import Message, Status, VersionConflict
from junbridge.store import Store, Transaction
from junbridge.store.leases import LEASE, MAX_ATTEMPTS, LeaseLost
from junbridge.testing.clock import ManualClock

Worker = Callable[[ManualClock], Awaitable[Store]]


@pytest.fixture
async def worker(db_url: str) -> AsyncIterator[Worker]:
    """Open another worker's store on the same database, with its own clock."""
    opened: list[Store] = []

    async def start(clock: ManualClock) -> Store:
        opened.append(await Store.open(db_url, clock=clock))
        return opened[-1]

    yield start
    for store in opened:
        await store.close()


def in_chat(platform_id: str, chat: str) -> Message:
    return message(platform_id, sender_id=chat)


async def test_a_live_workers_message_is_not_taken_until_its_lease_runs_out(worker: Worker):
    clock = ManualClock(T0)
    first, second = await worker(clock), await worker(clock)
    accepted = await first.accept(message("1"))

    assert await second.claim_expired() == []
    clock.advance(LEASE.total_seconds())
    [claimed] = await second.claim_expired()
    assert claimed.inbound_id == accepted.inbound_id and claimed.attempts == 2
    # The first worker, back from a long pause, can no longer finish it: nothing it wrote stays.
    with pytest.raises(LeaseLost):

        def work(tx: Transaction) -> Any:
            tx.save_request(new_request())
            tx.finish_inbound(accepted.inbound_id, request_reference=None)

        await first.write(work)
    assert await first.list() == []

    def work2(tx: Transaction) -> Any:
        saved = tx.save_request(new_request())
        tx.finish_inbound(accepted.inbound_id, request_reference=saved.reference)
        return saved

    saved = await second.write(work2)
    assert [r.reference for r in await second.list()] == [saved.reference]


async def test_one_conversation_is_taken_in_order_others_side_by_side(worker: Worker):
    clock = ManualClock(T0)
    dead, live = await worker(clock), await worker(clock)
    ids = [
        (await dead.accept(in_chat(pid, chat))).inbound_id
        for pid, chat in [("1", "ana"), ("2", "ana"), ("3", "luis")]
    ]
    clock.advance(LEASE.total_seconds())

    claimed = await live.claim_expired()
    # Ana's answer waits for her question; Luis's message goes ahead.
    assert [c.inbound_id for c in claimed] == [ids[0], ids[2]]
    await live.write(lambda tx: tx.finish_inbound(ids[0], request_reference=None))
    [next_one] = await live.claim_expired()
    assert next_one.inbound_id == ids[1]


async def test_workers_claiming_at_the_same_moment_never_share_a_message(worker: Worker):
    clock = ManualClock(T0)
    dead = await worker(clock)
    for n in range(30):
        await dead.accept(in_chat(str(n), f"chat-{n}"))
    clock.advance(LEASE.total_seconds())
    workers = [await worker(clock) for _ in range(3)]

    results = await asyncio.gather(*(w.claim_expired(limit=10) for w in workers))
    taken = [c.inbound_id for claimed in results for c in claimed]
    assert len(taken) == len(set(taken))
    # Whatever is left is still claimable: nothing was lost between the three.
    rest = [c.inbound_id for c in await workers[0].claim_expired(limit=50)]
    assert sorted(taken + rest) == sorted(set(taken + rest)) and len(taken + rest) == 30


async def test_a_message_that_keeps_failing_is_parked_then_retried_by_an_admin(worker: Worker):
    clock = ManualClock(T0)
    store = await worker(clock)
    accepted = await store.accept(message("1"))

    statuses = [await store.release_failed(accepted.inbound_id, error="KeyError: 'referencia'")]
    for _ in range(MAX_ATTEMPTS - 1):
        assert await store.claim_expired() == []  # it waits a little before another try
        clock.advance(60)
        [again] = await store.claim_expired()
        statuses.append(await store.release_failed(again.inbound_id, error="KeyError: 'ref'"))
    assert statuses == ["pending"] * (MAX_ATTEMPTS - 1) + ["parked"]

    clock.advance(3600)
    assert await store.claim_expired() == []
    [parked] = await store.parked()
    assert parked.inbound_id == accepted.inbound_id and parked.attempts == MAX_ATTEMPTS
    assert parked.error == "KeyError: 'ref'" and "farola" in parked.text

    assert await store.retry_parked([accepted.inbound_id]) == 1
    assert await store.parked() == []
    [claimed] = await store.claim_expired()
    assert claimed.inbound_id == accepted.inbound_id and claimed.attempts == 1


async def test_a_stale_copy_of_a_request_is_refused_and_the_newer_one_kept(store: Store):
    saved = await store.write(lambda tx: tx.save_request(new_request()))
    resolved = saved.transition(Status.RESOLVED, by="electricista", at=T0 + timedelta(hours=1))
    # Read before the resolve was saved (another worker, or the timer task between awaits).
    stale = saved.transition(Status.ASSIGNED, by="ayuntamiento", at=T0 + timedelta(hours=2))
    resolved = await store.write(lambda tx: tx.save_request(resolved))

    with pytest.raises(VersionConflict, match=saved.reference):
        await store.write(lambda tx: tx.save_request(stale))
    stored = await store.get_request(saved.reference)
    assert stored == resolved and stored.state is Status.RESOLVED and stored.version == 2
    assert [h.action for h in stored.history] == ["received", "resolved"]
    # Redone on the fresh row, the change applies on top of the other one.
    fresh = dataclasses.replace(stored).noted("note", by="ayuntamiento", at=T0, note="visto")
    assert (await store.write(lambda tx: tx.save_request(fresh))).version == 3
