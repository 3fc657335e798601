"""Which request a thread is about: noted when a reply is delivered, backfilled by 0006."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import create_engine, insert, pool, select

from junbridge.model import Reply
from junbridge.store import Store, Transaction, to_sync_url
from junbridge.store.engine import alembic_config, prepare_sqlite
from junbridge.store.schema import outbox, threads

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def reply(reference: str | None, *, conversation: str = "C0STAFF", channel: str = "slack") -> Reply:
    """A card or reply posted in a Slack channel."""
    return Reply(
        text=f"card {reference}", channel=channel, conversation=conversation, reference=reference
    )


async def deliver(store: Store, sent: Reply, *platform_ids: str) -> int:
    """Queue ``sent``, claim it and mark it delivered as ``platform_ids``; its outbox id."""
    outbox_id = await store.write(lambda tx: tx.enqueue(sent, request_reference=sent.reference))
    await store.claim_outbox(now=NOW)
    await store.mark_sent(outbox_id, platform_ids=platform_ids, at=NOW)
    return outbox_id


async def test_each_id_of_a_delivered_reply_leads_to_its_request(store: Store) -> None:
    await deliver(store, reply("JUN-0001"), "1764061200.000100", "1764061200.000200")
    for thread in ("1764061200.000100", "1764061200.000200"):
        assert await store.reference_for_thread("slack", "C0STAFF", thread) == "JUN-0001"
    # Same id elsewhere, no thread, a reply about no request: nothing.
    assert await store.reference_for_thread("slack", "C0OTHER", "1764061200.000100") is None
    assert await store.reference_for_thread("telegram", "C0STAFF", "1764061200.000100") is None
    assert await store.reference_for_thread("slack", "C0STAFF", None) is None
    await deliver(store, reply(None), "1764061300.000100")
    assert await store.reference_for_thread("slack", "C0STAFF", "1764061300.000100") is None


async def test_of_two_replies_given_one_id_the_newer_counts(store: Store) -> None:
    # The console and simulate give every reply the same id: the newest reply decides,
    # whichever was marked sent last.
    def work2(tx: Transaction) -> Any:
        older = tx.enqueue(reply("JUN-0001"), request_reference="JUN-0001")
        newer = tx.enqueue(reply("JUN-0002"), request_reference="JUN-0002")
        return older, newer

    older, newer = await store.write(work2)
    await store.claim_outbox(now=NOW)
    await store.mark_sent(newer, platform_ids=["simulated"], at=NOW)
    await store.mark_sent(older, platform_ids=["simulated", "simulated"], at=NOW)
    assert await store.reference_for_thread("slack", "C0STAFF", "simulated") == "JUN-0002"
    await deliver(store, reply("JUN-0003"), "simulated")
    assert await store.reference_for_thread("slack", "C0STAFF", "simulated") == "JUN-0003"


# -- the migration's backfill -------------------------------------------------------------


def _upgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` to ``revision``, as Store.open does to the newest."""
    engine = create_engine(to_sync_url(url), poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        prepare_sqlite(engine, foreign_keys=False)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection=connection), revision)
    finally:
        engine.dispose()


def _outbox_row(reference: str | None, reply: dict[str, Any], ids: list[Any], status: str) -> Any:
    return {
        "created_at": NOW,
        "request_reference": reference,
        "channel": "slack",
        "reply": reply,
        "status": status,
        "attempts": 1,
        "next_attempt_at": NOW,
        "sent_at": NOW if status == "sent" else None,
        "platform_ids": ids,
    }


# Delivered replies as 0005 left them, oldest first, and what 0005's reference_for_thread
# (the newest sent row with a reference whose conversation and ids hold them) would find.
BEFORE = [
    ("JUN-0001", {"conversation": "C0STAFF"}, ["100.1", "100.2"], "sent"),
    ("JUN-0002", {"conversation": "C0STAFF"}, ["200.1", "200.1"], "sent"),
    ("JUN-0003", {"conversation": "C0STAFF"}, ["100.2"], "sent"),  # newer, same id
    ("JUN-0004", {"conversation": "C0OTHER"}, ["100.1"], "sent"),
    ("JUN-0005", {"conversation": "C0STAFF"}, ["300.1"], "failed"),
    (None, {"conversation": "C0STAFF"}, ["400.1"], "sent"),
    ("JUN-0006", {"conversation": None}, ["500.1"], "sent"),
    ("JUN-0007", {"conversation": "C0STAFF"}, [600], "sent"),  # not a string: never matched
]
FOUND = {
    ("slack", "C0STAFF", "100.1"): "JUN-0001",
    ("slack", "C0STAFF", "100.2"): "JUN-0003",
    ("slack", "C0STAFF", "200.1"): "JUN-0002",
    ("slack", "C0OTHER", "100.1"): "JUN-0004",
}


async def test_the_migration_fills_threads_from_replies_already_delivered(db_url: str) -> None:
    await asyncio.to_thread(_upgrade, db_url, "0005")
    engine = create_engine(to_sync_url(db_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(insert(outbox), [_outbox_row(*row) for row in BEFORE])
    finally:
        engine.dispose()

    store = await Store.open(db_url)
    try:
        async with store._read() as connection:
            rows = await connection.execute(
                select(threads.c.channel, threads.c.conversation, threads.c.thread).add_columns(
                    threads.c.request_reference
                )
            )
            assert {(r.channel, r.conversation, r.thread): r.request_reference for r in rows} == (
                FOUND
            )
        for (channel, conversation, thread), reference in FOUND.items():
            assert await store.reference_for_thread(channel, conversation, thread) == reference
        assert await store.reference_for_thread("slack", "C0STAFF", "300.1") is None
    finally:
        await store.close()
