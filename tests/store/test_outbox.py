"""The outbox as workers use it: claim due replies, record delivery, retry, recover."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from junbridge.channels.base import Channel, DeliveryError
from junbridge.config.settings import ChannelSettings
from junbridge.model import Reply
from junbridge.outbox import REQUEUE_EVERY, STUCK_AFTER, Outbox, wait_until
from junbridge.pacing import UNPACED, Pace, Rate
from junbridge.store import Store
from junbridge.testing.clock import ManualClock

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def reply(text: str, *, channel: str = "telegram", conversation: str = "42") -> Reply:
    """A reply into Ana's chat (or ``conversation``) about JUN-0001."""
    return Reply(text=text, channel=channel, conversation=conversation, reference="JUN-0001")


async def queue(store: Store, *replies: Reply) -> list[int]:
    return await store.write(
        lambda tx: [tx.enqueue(r, request_reference=r.reference) for r in replies]
    )


async def open_store(url: str) -> Store:
    return await Store.open(url, clock=clock)


async def test_claim_send_and_see_the_delivery(db_url: str) -> None:
    store = await open_store(db_url)
    try:
        first, second = await queue(store, reply("Recibido"), reply("Asignada a Paco"))
        # One reply at a time per chat: the second waits until the first is sent.
        [claimed] = await store.claim_outbox(now=NOW)
        assert (claimed.id, claimed.status, claimed.attempts) == (first, "sending", 1)
        assert claimed.reply == reply("Recibido")
        assert await store.claim_outbox(now=NOW) == []
        await store.mark_sent(first, platform_ids=["m-1", "m-2"], at=NOW + timedelta(seconds=1))
        [sent, _] = await store.replies_for("JUN-0001")
        assert (sent.status, sent.platform_ids, sent.sent_at) == (
            "sent",
            ("m-1", "m-2"),
            NOW + timedelta(seconds=1),
        )
        [then] = await store.claim_outbox(now=NOW)
        assert then.id == second
    finally:
        await store.close()


async def test_a_retried_reply_waits_until_it_is_due(db_url: str) -> None:
    store = await open_store(db_url)
    try:
        [queued] = await queue(store, reply("Recibido"))
        await store.claim_outbox(now=NOW)
        later = NOW + timedelta(seconds=30)
        await store.mark_retry(queued, error="429 retry_after=30", retry_at=later)
        assert await store.claim_outbox(now=later - timedelta(seconds=1)) == []
        [again] = await store.claim_outbox(now=later)
        assert (again.attempts, again.error) == (2, "429 retry_after=30")
        await store.mark_failed(queued, error="chat not found")
        [failed] = await store.replies_for("JUN-0001")
        assert (failed.status, failed.error) == ("failed", "chat not found")
        assert await store.claim_outbox(now=later + timedelta(days=1)) == []
    finally:
        await store.close()


async def test_claims_respect_channel_and_limit(db_url: str) -> None:
    store = await open_store(db_url)
    try:
        ids = await queue(
            store,
            reply("a", conversation="1"),
            reply("b", channel="slack"),
            reply("c", conversation="3"),
            reply("d", conversation="4"),
        )
        assert [r.id for r in await store.claim_outbox(now=NOW, channel="slack")] == [ids[1]]
        assert [r.id for r in await store.claim_outbox(now=NOW, limit=2)] == [ids[0], ids[2]]
        assert [r.id for r in await store.claim_outbox(now=NOW)] == [ids[3]]
    finally:
        await store.close()


async def test_concurrent_workers_never_claim_the_same_reply(db_url: str) -> None:
    workers = [await open_store(db_url) for _ in range(4)]
    try:
        ids = await queue(workers[0], *(reply(f"r{n}", conversation=str(n)) for n in range(40)))
        rounds = await asyncio.gather(
            *(w.claim_outbox(now=NOW, limit=7) for w in workers for _ in range(2))
        )
        claimed = [row.id for rows in rounds for row in rows]
        assert len(claimed) == len(set(claimed))
        rest = await workers[0].claim_outbox(now=NOW, limit=100)
        assert sorted(claimed + [r.id for r in rest]) == ids
    finally:
        for w in workers:
            await w.close()


async def test_replies_left_sending_by_a_crash_are_requeued(db_url: str) -> None:
    store = await open_store(db_url)
    try:
        old, _ = await queue(store, reply("old"), reply("new"))
        await store.claim_outbox(now=NOW, limit=1)
        await store.claim_outbox(now=NOW + timedelta(minutes=10))
        assert await store.requeue_stuck(older_than=NOW + timedelta(minutes=5)) == 1
        [again] = await store.claim_outbox(now=NOW + timedelta(minutes=11))
        assert (again.id, again.attempts) == (old, 2)
        assert await store.requeue_stuck(older_than=NOW) == 0
    finally:
        await store.close()


class Recorder(Channel):
    """A channel that only records what it sends (and finds nothing sent before)."""

    name = "telegram"

    def __init__(self) -> None:
        super().__init__(ChannelSettings())
        self.sent: list[str] = []

    def pace(self, destination: str) -> Pace:
        return UNPACED

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        self.sent.append(reply.text)
        return [f"m-{len(self.sent)}"]


async def test_a_running_worker_sends_what_a_dead_one_claimed_once_it_is_stuck(
    db_url: str,
) -> None:
    clock = ManualClock(NOW)
    dead, live = await Store.open(db_url, clock=clock), await Store.open(db_url, clock=clock)
    telegram = Recorder()
    outbox = Outbox(live, {"telegram": telegram}, clock)
    # Claimed by a worker that died before sending it ...
    await queue(dead, reply("Recibido"))
    [claimed] = await dead.claim_outbox(now=clock())
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=0.01))
    try:
        # ... the live one leaves it alone ...
        await asyncio.sleep(0.2)
        assert telegram.sent == []
        # ... until it has been stuck that long, whenever the live worker started.
        clock.advance((STUCK_AFTER + REQUEUE_EVERY).total_seconds())
        for _ in range(200):  # 2 s at most
            [row] = await live.replies_for("JUN-0001")
            if row.status == "sent":
                break
            await asyncio.sleep(0.01)
        assert telegram.sent == ["Recibido"]
        assert (row.id, row.status, row.attempts) == (claimed.id, "sent", 2)
    finally:
        stop.set()
        await running
        await dead.close()
        await live.close()


async def test_a_reply_put_back_while_its_batch_waited_is_not_sent_from_that_batch(
    db_url: str,
) -> None:
    slow, other = await open_store(db_url), await open_store(db_url)
    try:
        await queue(slow, reply("Recibido"))
        [held] = await slow.claim_outbox(now=NOW)
        # The batch waited so long that another worker put the reply back and claimed it.
        assert await other.requeue_stuck(older_than=NOW + STUCK_AFTER) == 1
        [taken] = await other.claim_outbox(now=NOW + STUCK_AFTER)
        slow_channel, other_channel = Recorder(), Recorder()
        assert await Outbox(slow, {"telegram": slow_channel}, clock).deliver(held) == 0
        assert await Outbox(other, {"telegram": other_channel}, clock).deliver(taken) == 1
        assert (slow_channel.sent, other_channel.sent) == ([], ["Recibido"])
    finally:
        await slow.close()
        await other.close()


async def test_a_reply_sent_moments_after_its_claim_costs_one_write_not_two(db_url: str) -> None:
    """Under load replies go as soon as they are claimed: the claim is not renewed first
    (one write transaction, one disk sync, fewer per reply); a claim that has waited is."""
    store = await open_store(db_url)
    writes = 0
    write = store.write

    async def counted(work, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal writes
        writes += 1
        return await write(work, **kwargs)

    store.write = counted  # type: ignore[method-assign]
    try:
        await queue(store, reply("Recibido"), reply("Hola", conversation="7"))
        fresh, waited = await store.claim_outbox(now=NOW)
        telegram = Recorder()
        outbox = Outbox(store, {"telegram": telegram}, clock)
        writes = 0
        assert await outbox.deliver(fresh, claimed_at=NOW - timedelta(seconds=1)) == 1
        assert writes == 1  # marked sent
        writes = 0
        assert await outbox.deliver(waited, claimed_at=NOW - timedelta(seconds=6)) == 1
        assert writes == 2  # renewed, then marked sent
        assert telegram.sent == ["Recibido", "Hola"]
    finally:
        await store.close()


async def test_a_reply_put_back_after_its_claim_went_stale_is_not_sent(db_url: str) -> None:
    slow, other = await open_store(db_url), await open_store(db_url)
    try:
        await queue(slow, reply("Recibido"))
        [held] = await slow.claim_outbox(now=NOW)
        # The batch waited so long that another worker put the reply back and claimed it.
        later = NOW + STUCK_AFTER + timedelta(seconds=1)
        assert await other.requeue_stuck(older_than=later - STUCK_AFTER) == 1
        [taken] = await other.claim_outbox(now=later)
        slow_channel, other_channel = Recorder(), Recorder()
        stale = Outbox(slow, {"telegram": slow_channel}, ManualClock(later))
        assert await stale.deliver(held, claimed_at=NOW) == 0
        live = Outbox(other, {"telegram": other_channel}, ManualClock(later))
        assert await live.deliver(taken, claimed_at=later) == 1
        assert (slow_channel.sent, other_channel.sent) == ([], ["Recibido"])
    finally:
        await slow.close()
        await other.close()


async def test_a_reply_never_overtakes_an_earlier_one_to_the_same_chat(db_url: str) -> None:
    store = await open_store(db_url)
    try:
        first, second, elsewhere = await queue(
            store, reply("Recibido"), reply("Asignada"), reply("Hola", conversation="7")
        )
        [claimed, other] = await store.claim_outbox(now=NOW)
        assert (claimed.id, other.id) == (first, elsewhere)
        # The first failed and waits a minute to be tried again: the second waits behind it.
        later = NOW + timedelta(minutes=1)
        await store.mark_retry(first, error="502 Bad Gateway", retry_at=later)
        assert await store.claim_outbox(now=NOW) == []
        [again] = await store.claim_outbox(now=later)
        assert again.id == first
        await store.mark_sent(first, platform_ids=["m-1"], at=later)
        [then] = await store.claim_outbox(now=later)
        assert then.id == second
    finally:
        await store.close()


TEST_PACE = Pace(conversation=Rate(1, 1.0), bot=Rate(2, 1.0, burst=2))


def paced_for_test(_channel: str, _destination: str) -> Pace:
    """Two a second in all (a burst of two), one a second per chat."""
    return TEST_PACE


async def test_claims_keep_to_the_pace_in_every_worker(db_url: str) -> None:
    one, two = await open_store(db_url), await open_store(db_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        await queue(one, *(reply(f"r{n}", conversation=str(n)) for n in range(10)))
        first = await one.claim_outbox(now=NOW, pace=paced_for_test, paced_now=start)
        # The bucket holds two: both go at once, then one every half second, as far as the
        # claim looks ahead (2 s).
        assert [(r.send_at - start).total_seconds() for r in first] == [0, 0, 0.5, 1.0, 1.5, 2.0]
        # Another worker, a moment later, goes on from where the bucket is.
        second = await two.claim_outbox(
            now=NOW, pace=paced_for_test, paced_now=start + timedelta(seconds=0.5)
        )
        assert [(r.send_at - start).total_seconds() for r in second] == [2.5]
        assert {r.id for r in first}.isdisjoint(r.id for r in second)
    finally:
        await one.close()
        await two.close()


async def test_a_chat_waits_a_second_from_the_end_of_the_last_send(db_url: str) -> None:
    store = await open_store(db_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        first, second = await queue(store, reply("Recibido"), reply("Asignada"))
        await store.claim_outbox(now=NOW, pace=paced_for_test, paced_now=start)
        done = start + timedelta(seconds=0.3)
        await store.mark_sent(
            first,
            platform_ids=["m-1"],
            at=NOW,
            paced=[("telegram:42", done + timedelta(seconds=1))],
        )
        [then] = await store.claim_outbox(
            now=NOW, pace=paced_for_test, paced_now=start + timedelta(seconds=0.4)
        )
        assert (then.id, (then.send_at - start).total_seconds()) == (second, 1.3)
    finally:
        await store.close()


class SlowDown(Recorder):
    """A platform that answers the first send with "slow down, 30 s"."""

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        if not self.sent:
            self.sent.append("429")
            raise DeliveryError("flood control", retry_after=30)
        return await super().send(reply)


async def test_a_429_holds_the_chat_back_without_using_up_an_attempt(db_url: str) -> None:
    store = await open_store(db_url)
    try:
        [queued] = await queue(store, reply("Recibido"))
        outbox = Outbox(store, {"telegram": SlowDown()}, clock)  # type: ignore[dict-item]
        [claimed] = await store.claim_outbox(now=NOW)
        assert await outbox.deliver(claimed) == 0
        [row] = await store.replies_for("JUN-0001")
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, NOW)
        # Due, but the chat is held back for the 30 s the platform asked for.
        assert await store.claim_outbox(now=NOW, pace=paced_for_test) == []
        later = NOW + timedelta(seconds=31)
        [again] = await store.claim_outbox(now=NOW, pace=paced_for_test, paced_now=later)
        assert (again.id, again.attempts) == (queued, 1)
    finally:
        await store.close()


class Slow(Recorder):
    """A platform that takes a while to answer (a long thread, each part with its wait)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        # Time passes on the bridge's clock while the send is on the wire.
        for _ in range(3):
            self.clock.advance(STUCK_AFTER.total_seconds() / 2)
            await asyncio.sleep(0.2)  # ten renewals' time: one is enough
        return await super().send(reply)


async def test_a_long_send_keeps_its_lease_and_no_other_worker_takes_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("junbridge.outbox.RENEW_EVERY", timedelta(seconds=0.02))
    clock = ManualClock(NOW)
    sender, other = await Store.open(db_url, clock=clock), await Store.open(db_url, clock=clock)
    try:
        await queue(sender, reply("Recibido"))
        [claimed] = await sender.claim_outbox(now=clock())
        slow = Slow(clock)
        sending = asyncio.create_task(Outbox(sender, {"telegram": slow}, clock).deliver(claimed))
        # Meanwhile another worker looks for stuck replies, over and over: the lease holds.
        while not sending.done():
            assert await other.requeue_stuck(older_than=clock() - STUCK_AFTER) == 0
            await asyncio.sleep(0.01)
        assert await sending == 1 and slow.sent == ["Recibido"]
        [row] = await sender.replies_for("JUN-0001")
        assert (row.status, row.attempts) == ("sent", 1)
    finally:
        await sender.close()
        await other.close()


class Stuck(Recorder):
    """A platform that does not answer until it is let go (a pace being waited out, a
    platform timing out)."""

    name = "slack"

    def __init__(self) -> None:
        super().__init__()
        self.let_go = asyncio.Event()

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        await self.let_go.wait()
        return await super().send(reply)


async def test_a_channel_that_is_held_up_never_holds_another_s_replies(db_url: str) -> None:
    store = await open_store(db_url)
    slack, telegram = Stuck(), Recorder()
    outbox = Outbox(store, {"slack": slack, "telegram": telegram}, clock)
    stop = asyncio.Event()
    running = asyncio.create_task(outbox.run(stop, interval=0.01))
    try:
        await queue(store, reply("Tarjeta para el equipo", channel="slack", conversation="C0"))
        await asyncio.sleep(0.1)  # Slack's send is on the wire, and stays there
        await queue(store, reply("Recibido"))
        for _ in range(300):  # 3 s at most
            if telegram.sent:
                break
            await asyncio.sleep(0.01)
        assert telegram.sent == ["Recibido"] and slack.sent == []
        slack.let_go.set()
        for _ in range(300):
            if slack.sent:
                break
            await asyncio.sleep(0.01)
        assert slack.sent == ["Tarjeta para el equipo"]
    finally:
        slack.let_go.set()
        stop.set()
        await running
        await store.close()


class SteppingClock:
    """A clock that moves a millisecond each time it is read."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


async def test_a_paced_send_does_not_go_before_its_moment():
    clock = SteppingClock()
    due = clock.now + timedelta(milliseconds=5)
    await wait_until(due, clock)
    assert clock.now >= due


async def test_a_clock_that_stands_still_does_not_hold_the_outbox():
    still = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    # The moment never comes by this clock: the wait ends all the same, a few ms later.
    await asyncio.wait_for(wait_until(still + timedelta(milliseconds=3), lambda: still), 5)
