"""Who reported a request, and the open requests near a place: stored, counted, indexed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from test_open_requests import plans
from test_store import T0, new_request

from junbridge.model import Reporter, Sender, ServiceRequest, Status
from junbridge.store import Store, Transaction
from junbridge.store.nearby import Place, box_around, distance_metres

LIGHTING = {"lighting": 50.0}


async def resident(store: Store, user: str) -> int:
    return (await store.resident_for("telegram", Sender(id=user))).id


def joiner(resident_id: int, language: str = "en") -> Reporter:
    return Reporter(
        resident_id=resident_id,
        channel="telegram",
        conversation=str(resident_id),
        recipient=str(resident_id),
        language=language,
        added_at=T0,
    )


def joined(request: ServiceRequest, reporter: Reporter) -> ServiceRequest:
    """``request`` with one more reporter, as the step that adds one leaves it."""
    return dataclasses.replace(
        request, reporters=request.reporters + 1, joined=(*request.joined, reporter)
    ).noted("reported_again", by="telegram:@neighbour", at=T0)


async def test_a_reporter_is_added_with_the_count_and_read_back_with_the_request(
    store: Store,
) -> None:
    first = await store.write(lambda tx: tx.save_request(new_request()))
    neighbour = joiner(await resident(store, "4242"))

    def add(tx: Transaction) -> None:
        tx.add_reporter(tx.save_request(joined(first, neighbour)), neighbour)

    await store.write(add)
    stored = await store.get_request(first.reference)
    assert stored is not None and stored.reporters == 2 and stored.joined == (neighbour,)
    assert stored.history[-1].action == "reported_again" and stored.version == 2
    # Everyone told of its changes: the first reporter, then the neighbour.
    assert [r.channel for r in stored.reported_by] == ["telegram", "telegram"]
    assert stored.reported_by[1] == neighbour
    [listed] = await store.list()
    assert listed.joined == (neighbour,)


async def test_a_reporter_is_only_added_to_a_request_saved_with_its_version_check(
    store: Store,
) -> None:
    first = await store.write(lambda tx: tx.save_request(new_request()))
    neighbour = joiner(await resident(store, "4242"))
    with pytest.raises(ValueError, match="must be saved in this transaction"):
        await store.write(lambda tx: tx.add_reporter(first, neighbour))
    assert (await store.get_request(first.reference)).joined == ()  # type: ignore[union-attr]


async def test_the_same_resident_is_never_added_twice(store: Store) -> None:
    first = await store.write(lambda tx: tx.save_request(new_request()))
    neighbour = joiner(await resident(store, "4242"))
    await store.write(
        lambda tx: tx.add_reporter(tx.save_request(joined(first, neighbour)), neighbour)
    )
    again = await store.get_request(first.reference)
    assert again is not None
    with pytest.raises(IntegrityError):
        await store.write(
            lambda tx: tx.add_reporter(tx.save_request(joined(again, neighbour)), neighbour)
        )
    # Nothing of the refused commit is kept: neither the count nor the history line.
    stored = await store.get_request(first.reference)
    assert stored == again and stored.reporters == 2


async def test_a_reporter_who_says_it_is_another_matter_is_taken_off(store: Store) -> None:
    first = await store.write(lambda tx: tx.save_request(new_request()))
    neighbour = joiner(await resident(store, "4242"))
    await store.write(
        lambda tx: tx.add_reporter(tx.save_request(joined(first, neighbour)), neighbour)
    )
    stored = await store.get_request(first.reference)
    assert stored is not None
    left = dataclasses.replace(stored, reporters=1, joined=()).noted(
        "not_the_same", by="telegram:@neighbour", at=T0
    )
    assert neighbour.resident_id is not None
    await store.write(
        lambda tx: tx.remove_reporter(tx.save_request(left), neighbour.resident_id or 0)
    )
    back = await store.get_request(first.reference)
    assert back is not None and back.reporters == 1 and back.joined == ()


async def test_a_joined_resident_is_asked_is_it_fixed_too(store: Store) -> None:
    first = await store.write(lambda tx: tx.save_request(new_request()))
    neighbour = joiner(await resident(store, "4242"))
    await store.write(
        lambda tx: tx.add_reporter(tx.save_request(joined(first, neighbour)), neighbour)
    )
    stored = await store.get_request(first.reference)
    assert stored is not None
    asking = dataclasses.replace(stored, details={**stored.details, "awaiting": "fixed"})
    await store.write(lambda tx: tx.save_request(asking))
    [waiting] = await store.awaiting_answer(neighbour.resident_id or 0)
    assert waiting.reference == first.reference
    assert await store.awaiting_answer(await resident(store, "nobody")) == []


def test_distance_and_box():
    # Jun's calle Real to a point 0.0009 degrees north: about 100 m.
    assert distance_metres(37.2218, -3.5930, 37.2227, -3.5930) == pytest.approx(100.1, abs=0.1)
    box = box_around(37.2218, -3.5930, 50)
    assert box.holds(37.2218 + 0.00044, -3.5930 + 0.00055)  # 49 m north, 49 m east
    assert not box.holds(37.2218 + 0.00046, -3.5930)
    assert box_around(89.99999, 0, 50).west == -180  # at the pole every longitude is near
    assert box_around(0, 179.9999, 50).east == 180  # across the antimeridian: all of them


async def some_requests(store: Store) -> dict[str, ServiceRequest]:
    """Open, resolved, closed and private requests in calle Real, one lamp 300 m away."""

    def work(tx: Transaction) -> dict[str, ServiceRequest]:
        saved = {
            "open": tx.save_request(new_request()),
            "numbered": tx.save_request(new_request(lat=None, long=None, address_id="lamp-112")),
            "street": tx.save_request(new_request(lat=None, long=None, address="calle Real")),
            "far": tx.save_request(new_request(lat=37.2245)),
            "police": tx.save_request(new_request(department="police", privacy="private")),
            "resolved": tx.save_request(new_request()),
            "closed": tx.save_request(new_request()),
        }
        for name, state in (("resolved", Status.RESOLVED), ("closed", Status.CLOSED)):
            saved[name] = tx.save_request(saved[name].transition(state, by="paco", at=T0))
        return saved

    return await store.write(work)


async def test_open_near_finds_open_public_requests_by_point_street_and_lamp(
    store: Store,
) -> None:
    saved = await some_requests(store)
    here = Place(departments=LIGHTING, lat=37.2216, long=-3.5932)
    [found] = (await store.batch_context([], now=T0, since=T0, places=[here])).near
    assert found is not None and [r.reference for r in found] == [saved["open"].reference]
    street = Place(departments=LIGHTING, address="calle Real", address_id="lamp-112")
    assert [r.reference for r in await store.open_near(street)] == [
        saved["numbered"].reference,
        saved["street"].reference,
    ]
    # The police look as far as the lamp, but a private request is never found.
    everyone = Place(departments={"lighting": 50.0, "police": 50.0}, lat=37.2216, long=-3.5932)
    assert [r.reference for r in await store.open_near(everyone)] == [saved["open"].reference]


async def test_open_near_reads_through_the_indexes_of_open_requests_by_place(
    store: Store,
) -> None:
    await some_requests(store)
    # A town's year of lamps, 10 m apart along a line, most of them closed long ago.
    lamps = [new_request(lat=37.2 + n * 0.0001, address=f"calle {n}") for n in range(400)]

    def year(tx: Transaction) -> None:
        for n, saved in enumerate(tx.insert_requests(lamps)):
            if n % 10:
                tx.save_request(saved.transition(Status.CLOSED, by="paco", at=T0))

    await store.write(year)
    if store.dialect == "postgresql":
        async with store._write() as connection:
            await connection.exec_driver_sql("ANALYZE requests")
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM requests" in statement:
            statements.append((statement, parameters))

    engine = store._sync
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for place in (
            Place(departments=LIGHTING, lat=37.2216, long=-3.5932),
            Place(departments=LIGHTING, address="calle Real"),
            Place(departments=LIGHTING, address_id="lamp-112"),
        ):
            await store.open_near(place)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # The request rows of each lookup (then, for what is found, their history).
    lookups = [s for s in statements if "requests.lat BETWEEN" in s[0] or "address" in s[0]]
    lookups = [s for s in lookups if "WHERE requests.id IN" not in s[0]]
    assert len(lookups) == 3
    indexes = (
        "ix_requests_department_lat_long",
        "ix_requests_department_address",
        "ix_requests_department_address_id",
    )
    for plan, index in zip(await plans(store, lookups), indexes, strict=True):
        assert index in plan, plan


async def test_a_residents_pending_questions_are_found_through_indexes(store: Store) -> None:
    someone = await resident(store, "42")
    await store.write(lambda tx: tx.insert_requests([new_request(resident_id=someone)] * 50))
    if store.dialect == "postgresql":
        async with store._write() as connection:
            await connection.exec_driver_sql("ANALYZE requests")
            await connection.exec_driver_sql("ANALYZE reporters")
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "awaiting IS NOT NULL" in statement:
            statements.append((statement, parameters))

    event.listen(store._sync, "before_cursor_execute", seen)
    try:
        assert await store.awaiting_answer(someone) == []
    finally:
        event.remove(store._sync, "before_cursor_execute", seen)
    [plan] = await plans(store, statements)
    # Never the resident's every request, nor every request: the questions pending alone.
    assert "ix_requests_awaiting" in plan and "ix_requests_resident_id" not in plan, plan
    assert "Seq Scan" not in plan and "SCAN requests" not in plan, plan
