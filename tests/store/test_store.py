"""The store as the bridge uses it: dedupe, references, history, transactions, residents."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import StatementError

from junbridge.model import Attachment, Message, Reply, Sender, ServiceRequest, Status
from junbridge.store import ConversationState, Store, Transaction, to_async_url, to_sync_url

T0 = datetime(2025, 3, 4, 9, 30, 15, 123456, tzinfo=UTC)


def message(platform_id: str = "1001", *, sender_id: str = "42", **changes: Any) -> Message:
    """A Telegram message from Ana about a dead street lamp."""
    base = Message(
        channel="telegram",
        platform_id=platform_id,
        conversation=sender_id,
        sender=Sender(id=sender_id, handle="ana_jun", name="Ana", language="es"),
        sent_at=T0,
        text="La farola de la calle Real no funciona",
        attachments=(Attachment(platform_ref="photo-1"),),
        raw={"update_id": int(platform_id)},
    )
    return dataclasses.replace(base, **changes)


def new_request(**changes: Any) -> ServiceRequest:
    """An unsaved lighting request with one history line."""
    base = ServiceRequest(
        service_request_id="",
        service_code="lighting",
        service_name="Street light",
        description="La farola de la calle Real no funciona",
        requested_datetime=T0,
        updated_datetime=T0,
        expected_datetime=T0.replace(day=6),
        lat=37.2214,
        long=-3.5932,
        reference="",
        department="lighting",
        channel="telegram",
        conversation="42",
        language="es",
        details={"lamp": "A-12", "floors": [1, 2]},
        attachments=(Attachment(platform_ref="photo-1", url="https://x/1.jpg"),),
    )
    return dataclasses.replace(base, **changes).noted("received", by="telegram:42", at=T0)


def reply(text: str = "Recibido: JUN-0001", *, channel: str = "telegram") -> Reply:
    """A reply into Ana's chat."""
    return Reply(text=text, channel=channel, conversation="42", reference="JUN-0001")


async def test_a_redelivered_message_is_accepted_once(store: Store) -> None:
    first = await store.accept(message("1001"))
    again = await store.accept(message("1001", text="edited"))
    assert first.is_new and not again.is_new
    assert again.inbound_id == first.inbound_id and again.status == "pending"
    assert await store.pending_inbound() == [(first.inbound_id, message("1001"))]


async def test_concurrent_deliveries_make_exactly_one_new_row(store: Store) -> None:
    results = await asyncio.gather(*(store.accept(message("7")) for _ in range(10)))
    assert sum(r.is_new for r in results) == 1
    assert len({r.inbound_id for r in results}) == 1
    assert len(await store.pending_inbound()) == 1


async def test_pending_inbound_is_oldest_first_and_finished_ones_leave_it(store: Store) -> None:
    ids = [(await store.accept(message(str(n)))).inbound_id for n in (3, 1, 2)]

    def work(tx: Transaction) -> Any:
        tx.finish_inbound(ids[1], request_reference=None)
        tx.finish_inbound(ids[2], request_reference=None, error="boom")

    await store.write(work)
    assert [i for i, _ in await store.pending_inbound()] == [ids[0]]
    assert (await store.accept(message("2"))).status == "failed"


async def test_new_requests_get_consecutive_references(store: Store) -> None:
    def work2(tx: Transaction) -> Any:
        first = tx.save_request(new_request())
        second = tx.save_request(new_request(department="police"))
        return first, second

    first, second = await store.write(work2)
    assert (first.reference, second.reference) == ("JUN-0001", "JUN-0002")
    assert first.service_request_id == "JUN-0001"
    assert await store.get_request("JUN-0001") == first
    assert await store.get_request("JUN-0003") is None


async def test_two_workers_on_one_database_never_share_a_reference(db_url: str) -> None:
    stores = [await Store.open(db_url, reference_prefix=p) for p in ("JUN", "JUN", "ALC")]
    try:

        async def save(s: Store) -> str:
            return await s.write(lambda tx: (tx.save_request(new_request())).reference)

        references = await asyncio.gather(*(save(s) for s in stores * 3))
        assert len(set(references)) == 9
        assert {r.split("-")[1] for r in references} == {f"{n:04d}" for n in range(1, 10)}
    finally:
        for s in stores:
            await s.close()


async def test_history_round_trips_in_order_and_only_grows(store: Store) -> None:
    saved = await store.write(lambda tx: tx.save_request(new_request()))
    later = saved.transition(Status.ACKNOWLEDGED, by="ayuntamiento", at=T0 + timedelta(hours=1))
    later = later.transition(
        Status.ASSIGNED, by="ayuntamiento", at=T0 + timedelta(hours=2), note="Paco", channel="slack"
    )
    later = dataclasses.replace(later, assignee="paco", status_notes="Asignada a Paco")
    later = await store.write(lambda tx: tx.save_request(later))
    stored = await store.get_request(saved.reference)
    assert stored == later and stored.version == 2
    assert stored is not None
    assert [h.action for h in stored.history] == ["received", "acknowledged", "assigned"]
    assert stored.history[2].channel == "slack" and stored.state is Status.ASSIGNED


async def test_updating_an_unknown_reference_is_an_error(store: Store) -> None:
    with pytest.raises(LookupError, match="JUN-0999"):
        await store.write(lambda tx: tx.save_request(new_request(reference="JUN-0999")))


async def test_list_filters_and_is_newest_first(store: Store) -> None:
    def work7(tx: Transaction) -> Any:
        lamp = tx.save_request(new_request())
        theft = tx.save_request(new_request(department="police"))
        done = tx.save_request(new_request())
        tx.save_request(done.transition(Status.CLOSED, by="paco", at=T0))
        return lamp, theft, done

    lamp, theft, _done = await store.write(work7)
    assert [r.reference for r in await store.list()] == ["JUN-0003", "JUN-0002", "JUN-0001"]
    lighting_open = await store.list(department="lighting", open_only=True)
    assert [r.reference for r in lighting_open] == [lamp.reference]
    assert [r.reference for r in await store.list(state=Status.RECEIVED)] == [
        theft.reference,
        lamp.reference,
    ]


async def test_a_failing_transaction_leaves_no_trace(store: Store) -> None:
    accepted = await store.accept(message())
    resident = await store.resident_for("telegram", message().sender)
    with pytest.raises(RuntimeError, match="department crashed"):

        def work8(tx: Transaction) -> Any:
            tx.save_request(new_request())
            tx.enqueue(reply(), request_reference="JUN-0001")
            tx.save_conversation(conversation(resident.id))
            tx.finish_inbound(accepted.inbound_id, request_reference="JUN-0001")
            raise RuntimeError("department crashed")

        await store.write(work8)
    assert await store.list() == []
    assert await store.replies_for("JUN-0001") == []
    assert await store.conversation(resident.id, "telegram", "42", now=T0) is None
    assert [i for i, _ in await store.pending_inbound()] == [accepted.inbound_id]


async def test_a_finished_message_redelivered_points_at_its_request(store: Store) -> None:
    accepted = await store.accept(message())

    def work9(tx: Transaction) -> Any:
        saved = tx.save_request(new_request())
        tx.finish_inbound(accepted.inbound_id, request_reference=saved.reference)
        return saved

    await store.write(work9)
    again = await store.accept(message())
    assert (again.is_new, again.status, again.request_reference) == (False, "done", "JUN-0001")


def conversation(resident_id: int, **changes: Any) -> ConversationState:
    state = ConversationState(
        resident_id=resident_id,
        channel="telegram",
        conversation="42",
        department="lighting",
        awaiting="location",
        data={"asked": ["location"]},
        first_message=message(),
        expires_at=T0 + timedelta(minutes=30),
        updated_at=T0,
    )
    return dataclasses.replace(state, **changes)


async def test_a_conversation_is_kept_replaced_ended_and_expires(store: Store) -> None:
    resident = await store.resident_for("telegram", message().sender)
    state = conversation(resident.id)
    await store.write(lambda tx: tx.save_conversation(state))
    assert await store.conversation(resident.id, "telegram", "42", now=T0) == state
    assert await store.conversation(resident.id, "telegram", "other", now=T0) is None
    expired_at = state.expires_at
    assert await store.conversation(resident.id, "telegram", "42", now=expired_at) is None

    changed = conversation(resident.id, awaiting=None, request_reference="JUN-0001")
    await store.write(lambda tx: tx.save_conversation(changed))
    assert await store.conversation(resident.id, "telegram", "42", now=T0) == changed

    def work12(tx: Transaction) -> Any:
        tx.end_conversation(resident.id, "telegram", "42")
        tx.end_conversation(resident.id, "telegram", "42")

    await store.write(work12)
    assert await store.conversation(resident.id, "telegram", "42", now=T0) is None


async def test_a_resident_is_found_by_identity_and_follows_renames(store: Store) -> None:
    ana = await store.resident_for("telegram", Sender(id="42", handle="ana", name="Ana"))
    assert ana.identities == ("telegram:42",) and ana.name == "Ana" and not ana.verified
    assert ana.preferred_channel == "telegram"
    renamed = await store.resident_for("telegram", Sender(id="42", handle="ana_g", name="Ana G."))
    assert renamed.id == ana.id and renamed.name == "Ana G."
    unnamed = await store.resident_for("telegram", Sender(id="42"))
    assert unnamed.name == "Ana G."
    other = await store.resident_for("twitter", Sender(id="42"))
    assert other.id != ana.id
    assert await store.find_resident("telegram:42") == unnamed
    assert await store.find_resident("slack:U1") is None
    assert await store.get_resident(other.id) == other
    assert [r.id for r in await store.list_residents()] == [ana.id, other.id]


async def test_concurrent_first_messages_create_one_resident(store: Store) -> None:
    found = await asyncio.gather(
        *(store.resident_for("slack", Sender(id="U7", name="Luis")) for _ in range(8))
    )
    assert len({r.id for r in found}) == 1
    assert len(await store.list_residents()) == 1


async def test_a_sender_read_as_new_but_created_meanwhile_is_the_same_resident(
    db_url: str,
) -> None:
    """Two workers read a first message's sender as new at once: the one that writes second
    is refused by the database, looks again and finds the resident the first created."""
    one, two = await Store.open(db_url), await Store.open(db_url)
    try:
        luis = Sender(id="U7", name="Luis")
        [first] = await one.residents_for_new([("slack", luis)], all_new=True)
        [second] = await two.residents_for_new([("slack", luis)], all_new=True)
        assert second.id == first.id and second.identities == ("slack:U7",)
        assert len(await one.list_residents()) == 1
    finally:
        await one.close()
        await two.close()


async def test_lone_first_messages_on_two_workers_create_one_resident(db_url: str) -> None:
    """A lone message's new sender is written with the reads before deciding; the same
    first message read by two workers at once (a platform delivering it to both) still
    makes one resident, and a later read finds them as they are, writing nothing."""
    one, two = await Store.open(db_url), await Store.open(db_url)
    try:
        luis = Sender(id="U7", name="Luis")

        async def lone(store: Store) -> Any:
            read = await store.batch_context(
                [("slack", luis, ["D7"])], now=T0, since=T0 - timedelta(days=1)
            )
            [resident] = read.residents
            assert resident is not None
            return resident

        found = await asyncio.gather(*(lone(s) for s in (one, two, one, two)))
        assert len({r.id for r in found}) == 1 and found[0].identities == ("slack:U7",)
        assert len(await one.list_residents()) == 1
        # Known now: read as is (their name unchanged), nobody created again.
        assert await lone(two) == found[0]
        assert len(await two.list_residents()) == 1
    finally:
        await one.close()
        await two.close()


async def test_verifying_and_language(store: Store) -> None:
    ana = await store.resident_for("telegram", Sender(id="42"))
    madrid = T0.astimezone(ZoneInfo("Europe/Madrid"))
    verified = await store.verify_resident("telegram:42", by="secretaria", at=madrid)
    assert verified.verified and verified.verified_by == "secretaria"
    assert verified.verified_at == T0 and verified.verified_at.tzinfo is UTC
    await store.set_resident_language(ana.id, "en")
    assert (await store.get_resident(ana.id)) == dataclasses.replace(verified, language="en")
    with pytest.raises(LookupError, match="telegram:7"):
        await store.verify_resident("telegram:7", by="secretaria", at=T0)
    with pytest.raises(ValueError, match="channel:id"):
        await store.find_resident("42")


async def test_datetimes_come_back_utc_aware(store: Store) -> None:
    madrid = ZoneInfo("Europe/Madrid")
    local = new_request(requested_datetime=T0.astimezone(madrid))
    saved = await store.write(lambda tx: tx.save_request(local))
    stored = await store.get_request(saved.reference)
    assert stored is not None
    for value in (stored.requested_datetime, stored.updated_datetime, stored.history[0].at):
        assert value.tzinfo is UTC
    assert stored.requested_datetime == T0


async def test_sqlite_keeps_moments_as_the_text_earlier_releases_wrote(tmp_path) -> None:
    # SQLite compares moments as text: rows written now must read and sort like rows an
    # earlier junbridge wrote ("YYYY-MM-DD HH:MM:SS.ffffff", naive UTC), and those rows
    # must read back as the same UTC moments.
    path = tmp_path / "moments.db"
    opened = await Store.open(f"sqlite:///{path}")
    try:
        madrid = T0.astimezone(ZoneInfo("Europe/Madrid"))
        on_the_second = T0.replace(microsecond=0)
        saved = await opened.write(
            lambda tx: tx.save_request(
                new_request(requested_datetime=madrid, expected_datetime=on_the_second)
            )
        )
        with contextlib.closing(sqlite3.connect(path)) as db:
            [(requested, expected)] = db.execute(
                "SELECT requested_datetime, expected_datetime FROM requests"
            ).fetchall()
            assert (requested, expected) == (
                "2025-03-04 09:30:15.123456",
                "2025-03-04 09:30:15.000000",
            )
            # As an earlier release wrote it (SQLAlchemy's own format): the same moment.
            db.execute("UPDATE requests SET expected_datetime = '2025-03-05 18:00:00.000000'")
            db.commit()
        stored = await opened.get_request(saved.reference)
        assert stored is not None and stored.requested_datetime == T0
        assert stored.expected_datetime == datetime(2025, 3, 5, 18, tzinfo=UTC)
        assert stored.expected_datetime.tzinfo is UTC
    finally:
        await opened.close()


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        await store.write(
            lambda tx: tx.save_request(new_request(expected_datetime=T0.replace(tzinfo=None)))
        )


async def test_rows_are_stamped_with_the_store_clock(db_url: str) -> None:
    def clock() -> datetime:
        return T0

    opened = await Store.open(db_url, clock=clock)
    try:
        await opened.write(lambda tx: tx.enqueue(reply(), request_reference="JUN-0001"))
        [row] = await opened.replies_for("JUN-0001")
        assert row.created_at == row.next_attempt_at == T0
    finally:
        await opened.close()


async def test_an_in_memory_database_works() -> None:
    opened = await Store.open("sqlite://")
    try:
        results = await asyncio.gather(*(opened.accept(message("5")) for _ in range(3)))
        assert sum(r.is_new for r in results) == 1
        assert (
            await opened.write(lambda tx: tx.save_request(new_request()))
        ).reference == "JUN-0001"
    finally:
        await opened.close()


def test_admin_urls_map_to_the_drivers() -> None:
    assert to_async_url("sqlite:///junbridge.db") == "sqlite+aiosqlite:///junbridge.db"
    assert to_sync_url("sqlite:///junbridge.db") == "sqlite:///junbridge.db"
    pg = "postgresql://jun:s%40cret@db.jun.es:5432/jun"
    assert to_async_url(pg) == "postgresql+psycopg://jun:s%40cret@db.jun.es:5432/jun"
    assert to_sync_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    with pytest.raises(ValueError, match="unsupported store URL"):
        to_async_url("mysql://u@h/d")


async def test_a_cursor_survives_reopening_the_store(db_url):
    store = await Store.open(db_url)
    assert await store.get_cursor("twitter.mentions.since_id") is None
    await store.set_cursor("twitter.mentions.since_id", "1460323737035677698")
    await store.set_cursor("twitter.mentions.since_id", "1460323737035677699")
    await store.close()
    reopened = await Store.open(db_url)
    try:
        assert await reopened.get_cursor("twitter.mentions.since_id") == "1460323737035677699"
    finally:
        await reopened.close()
