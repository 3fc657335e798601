"""SQLite's one writer, in turns: a webhook waiting to be answered is not queued behind work."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from junbridge.model import Message, Sender
from junbridge.store import Store, Transaction
from junbridge.store.schema import inbound
from junbridge.store.turns import WriterTurns


def message(platform_id: str) -> Message:
    """A Telegram message from Ana about a dead street lamp."""
    return Message(
        channel="telegram",
        platform_id=platform_id,
        conversation="42",
        sender=Sender(id="42", handle="ana_jun", name="Ana", language="es"),
        sent_at=datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
        text="La farola de la calle Real no funciona",
    )


def wait_until(condition: Callable[[], bool]) -> None:
    """Until the other threads are where the test needs them (not a timing assertion)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the writers never lined up"
        time.sleep(0.001)


def test_writers_go_in_the_order_they_came_an_urgent_one_first() -> None:
    turns = WriterTurns()
    order: list[str] = []
    release = threading.Event()

    def holder() -> None:
        with turns.turn():
            order.append("holder")
            release.wait()

    def writer(name: str, *, urgent: bool = False) -> None:
        with turns.turn(urgent=urgent):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    wait_until(lambda: order == ["holder"])
    for number, name in enumerate(("outbox", "timers", "worker"), start=1):
        threads.append(threading.Thread(target=writer, args=(name,)))
        threads[-1].start()
        wait_until(lambda: turns.waiting == number)  # noqa: B023 (waited for at once)
    threads.append(threading.Thread(target=writer, args=("webhooks",), kwargs={"urgent": True}))
    threads[-1].start()
    wait_until(lambda: turns.waiting == 4)
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert order[:2] == ["holder", "webhooks"]
    assert order[2:] == ["outbox", "timers", "worker"], "not in the order they came"
    assert turns.waiting == 0


async def test_accepted_webhooks_are_written_before_the_queued_work_on_sqlite(
    tmp_path: Path,
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    turns = store._turns
    assert turns is not None
    release = threading.Event()
    seen_by_queued: list[int] = []

    def long_batch(tx: Transaction) -> None:
        release.wait()

    def queued(tx: Transaction) -> None:
        # What the writer queued before the webhook sees once it is let in.
        seen_by_queued.append(
            tx.connection.execute(select(func.count()).select_from(inbound)).scalar_one()
        )

    try:
        batch = asyncio.create_task(store.write(long_batch))
        await asyncio.to_thread(wait_until, lambda: turns._busy)
        reply = asyncio.create_task(store.write(queued))
        await asyncio.to_thread(wait_until, lambda: turns.waiting == 1)
        accepted = asyncio.create_task(store.accept_together(message("7001")))
        await asyncio.to_thread(wait_until, lambda: turns.waiting == 2)
        release.set()
        row = await accepted
        await asyncio.gather(batch, reply)
    finally:
        release.set()
        await store.close()
    assert row.is_new
    assert seen_by_queued == [1], "the webhook waited behind the queued writer"
