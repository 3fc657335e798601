"""The town's figures: each request's measures on its row, counted per department in SQL."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import Connection, create_engine, event, insert, pool, select
from test_open_requests import plans
from test_store import T0, new_request

from junbridge.model import ServiceRequest, Status
from junbridge.requests.timers import STAFF_ACTIONS
from junbridge.store import Store, Transaction, to_sync_url
from junbridge.store.engine import alembic_config
from junbridge.store.figures import backlog, figures
from junbridge.store.measures import ANSWERS, Measures, figures_row, measures
from junbridge.store.records import history_values, request_values
from junbridge.store.schema import history, request_figures, requests, residents

HOUR = timedelta(hours=1)


def lamp(at: Any = T0, **changes: Any) -> ServiceRequest:
    """A lamp report made at ``at``, promised two days later."""
    return new_request(**{"requested_datetime": at, "expected_datetime": at + 48 * HOUR} | changes)


def test_what_counts_as_an_answer_is_what_the_first_response_timer_counts() -> None:
    assert ANSWERS == STAFF_ACTIONS


def test_a_request_answered_fixed_on_time_and_rated() -> None:
    request = lamp().noted("acknowledged", by="electricista", at=T0 + 2 * HOUR)
    request = request.transition(Status.RESOLVED, by="electricista", at=T0 + 5 * HOUR)
    request = request.transition(Status.CLOSED, by="junbridge", at=T0 + 30 * HOUR)
    request = dataclasses.replace(request, details={"rating": 4})
    assert measures(request) == Measures(
        answer_seconds=7200,
        fix_seconds=5 * 3600,
        closed_at=T0 + 30 * HOUR,
        promise_kept=True,
        rating=4,
    )


def test_residents_and_the_bridge_do_not_answer_and_a_breach_breaks_the_promise() -> None:
    request = lamp().transition(
        Status.REFERRED, by="telegram:@vecina", at=T0 + HOUR, note="to lighting"
    )
    request = request.noted("sla_breach", by="junbridge", at=T0 + 48 * HOUR)
    assert measures(request) == Measures(promise_kept=False)
    # Resolved in time after all, the breach still stands; reopened, it is open again.
    request = request.transition(Status.RECEIVED, by="junbridge", at=T0 + HOUR)
    late = request.transition(Status.RESOLVED, by="paco", at=T0 + 49 * HOUR)
    assert measures(late).promise_kept is False and measures(late).fix_seconds == 49 * 3600
    closed = late.transition(Status.CLOSED, by="paco", at=T0 + 50 * HOUR)
    assert measures(closed).closed_at == T0 + 50 * HOUR
    assert measures(closed.transition(Status.REOPENED, by="x:@v", at=T0)).closed_at is None


def test_no_promise_nothing_to_keep() -> None:
    request = lamp(expected_datetime=None).transition(Status.RESOLVED, by="paco", at=T0)
    assert measures(request).promise_kept is None


async def test_saving_a_request_writes_its_figures_row(store: Store) -> None:
    def work(tx: Transaction) -> None:
        saved = tx.save_request(lamp())
        # Saved twice in one transaction: one row, the later.
        tx.save_request(saved.transition(Status.RESOLVED, by="paco", at=T0 + 3 * HOUR))

    await store.write(work)
    rows = await store.read(lambda c: c.execute(select(request_figures)).all())
    assert [(r.request_id, r.state, r.fix_seconds) for r in rows] == [(1, "resolved", 3 * 3600)]


async def _town(store: Store) -> None:
    """Lighting: four requests, one a day from T0, each promised in two days; the doctor: one."""

    def work(tx: Transaction) -> None:
        for day in range(4):
            at = T0 + timedelta(days=day)
            saved = tx.save_request(lamp(at))
            saved = tx.save_request(saved.noted("acknowledged", by="paco", at=at + HOUR))
            if day < 3:  # fixed the same day (day 0 late: its breach first), closed next day
                if day == 0:
                    saved = saved.noted("sla_breach", by="junbridge", at=at + 48 * HOUR)
                saved = saved.transition(Status.RESOLVED, by="paco", at=at + (day + 2) * HOUR)
                saved = dataclasses.replace(saved, details={"rating": 5 - day})
                tx.save_request(saved.transition(Status.CLOSED, by="junbridge", at=at + 24 * HOUR))
        tx.save_request(
            lamp(T0, department="doctor", privacy="private").noted(
                "acknowledged", by="médica", at=T0 + HOUR
            )
        )

    await store.write(work)


async def test_figures_per_public_department(store: Store) -> None:
    await _town(store)
    now = T0 + timedelta(days=6)
    [lighting] = await figures(store, since=None, now=now)
    assert lighting.department == "lighting"
    assert (lighting.received, lighting.closed, lighting.open_now) == (4, 3, 1)
    assert lighting.answer_median == 3600
    assert lighting.fix_median == 3 * 3600  # of 2, 3 and 4 hours
    # Day 0 breached; days 1 and 2 kept; day 3 is open past its promise with no breach yet.
    assert (lighting.kept, lighting.broken, lighting.kept_share) == (2, 2, 0.5)
    assert lighting.ratings == (0, 0, 1, 1, 1) and lighting.rating == 4.0
    # A period: the requests made since day 2.
    [recent] = await figures(store, since=T0 + timedelta(days=2), now=now)
    assert (recent.received, recent.closed, recent.open_now) == (2, 1, 1)
    # An even number of values: the mean of the middle two (3 and 4 hours).
    [later] = await figures(store, since=T0 + timedelta(days=1), now=now)
    assert later.fix_median == 3.5 * 3600
    every = await figures(store, since=None, now=now, public_only=False)
    assert [f.department for f in every] == ["doctor", "lighting"]


async def test_the_backlog_goes_back_from_what_is_open_now(store: Store) -> None:
    await _town(store)
    days = [T0 + timedelta(days=d) for d in range(-1, 5)]
    ends = [day.replace(hour=10, minute=0, second=0, microsecond=0) for day in days]
    found = await backlog(store, ends=ends)
    # Each lamp is open from its report to the next day's close; the fourth stays open.
    assert found == {"lighting": [0, 1, 1, 1, 1, 1]}
    assert "doctor" in await backlog(store, ends=ends, public_only=False)


async def test_the_figures_read_indexes_not_rows(store: Store) -> None:
    await _town(store)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engine = store._sync
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await figures(store, since=T0, now=T0)
        await backlog(store, ends=[T0])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    [made] = [s for s in statements if "AS received" in s[0]]
    [closed] = [s for s in statements if "closed_at" in s[0] and "GROUP BY" in s[0]]
    for index, plan in zip(
        ("ix_request_figures_made", "ix_request_figures_closed"),
        await plans(store, [made, closed]),
        strict=True,
    ):
        assert index in plan, plan


async def test_the_migration_fills_the_measures_of_stored_requests(
    make_db_url: Callable[[], str],
) -> None:
    url = make_db_url()
    fixed = lamp().noted("acknowledged", by="paco", at=T0 + HOUR)
    fixed = fixed.transition(Status.RESOLVED, by="paco", at=T0 + 2 * HOUR)
    fixed = dataclasses.replace(fixed, details={"rating": 3})
    fixed = fixed.transition(Status.CLOSED, by="junbridge", at=T0 + 3 * HOUR)
    stored = [
        dataclasses.replace(fixed, reference="JUN-0001", service_request_id="JUN-0001"),
        dataclasses.replace(
            lamp().noted("sla_breach", by="junbridge", at=T0 + 48 * HOUR),
            reference="JUN-0002",
            service_request_id="JUN-0002",
        ),
    ]

    def at_0007(connection: Connection) -> None:
        command.upgrade(alembic_config(connection=connection), "0007")
        connection.execute(insert(residents).values(id=1, created_at=T0))
        for number, request in enumerate(stored, start=1):
            values = request_values(request)
            del values["reporters"]  # a column since 0012
            connection.execute(insert(requests).values({**values, "id": number, "resident_id": 1}))
            connection.execute(
                insert(history),
                [history_values(number, n, e) for n, e in enumerate(request.history)],
            )

    engine = create_engine(to_sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            await asyncio.to_thread(at_0007, connection)
    finally:
        engine.dispose()
    store = await Store.open(url)
    try:

        def read(connection: Connection) -> list[Any]:
            query = select(request_figures).order_by(request_figures.c.request_id)
            return [dict(row._mapping) for row in connection.execute(query)]

        rows = await store.read(read)
        assert rows == [figures_row(n, r) for n, r in enumerate(stored, start=1)]
    finally:
        await store.close()
