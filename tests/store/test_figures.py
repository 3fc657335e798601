"""The town's figures: each request's measures on its row, counted per department in SQL."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import statistics
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import Connection, create_engine, event, insert, pool, select
from test_open_requests import plans
from test_store import T0, new_request

from junbridge.model import ServiceRequest, Status
from junbridge.requests.timers import STAFF_ACTIONS
from junbridge.store import Store, Transaction, to_sync_url, totals
from junbridge.store.engine import alembic_config
from junbridge.store.figures import backlog, figures
from junbridge.store.measures import ANSWERS, Measures, figures_row, measures
from junbridge.store.records import history_values, request_values
from junbridge.store.schema import (
    CLOSED_STATES,
    figure_hours,
    figure_spans,
    figure_states,
    history,
    request_figures,
    requests,
    residents,
)

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


async def test_the_figures_read_totals_and_indexes_not_rows(store: Store) -> None:
    await _town(store)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engine = store._sync
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await figures(store, since=T0, now=T0)  # T0 is 09:30: the rest of its day is read
        await backlog(store, ends=[T0])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # Counts and spans of the rest of T0's day; then the whole days' totals.
    first_day = [s for s in statements if "requested_datetime <" in s[0]]
    [hours, per_hour] = [s for s in statements if "FROM figure_hours" in s[0]]
    [spans] = [s for s in statements if "FROM figure_spans" in s[0]]
    found = await plans(store, [*first_day, hours, per_hour, spans])
    wanted = [*(["ix_request_figures_made"] * 2), "figure_hours", "figure_hours", "figure_spans"]
    for plan, table in zip(found, wanted, strict=True):
        if table.startswith("ix_"):
            assert table in plan, plan
        elif store.dialect == "sqlite":
            assert f"SEARCH {table} USING PRIMARY KEY" in plan, plan
        else:
            assert f"pk_{table}" in plan, plan


def _every_figure(rows: list[dict[str, Any]], since: Any) -> dict[str, tuple[Any, ...]]:
    """What the figures of requests made since ``since`` are, counted row by row (and the
    departments with requests open now, whenever made)."""
    out: dict[str, tuple[Any, ...]] = {}
    for department in sorted({r["department"] for r in rows}):
        made = [
            r for r in rows if r["department"] == department and r["requested_datetime"] >= since
        ]
        if not made and all(
            r["state"] in CLOSED_STATES for r in rows if r["department"] == department
        ):
            continue
        out[department] = (
            len(made),
            sum(r["state"] in CLOSED_STATES for r in made),
            sum(r["promise_kept"] is True for r in made),
            tuple(sum(r["rating"] == n for r in made) for n in range(1, 6)),
            sorted(r["answer_seconds"] for r in made if r["answer_seconds"] is not None),
            sorted(r["fix_seconds"] for r in made if r["fix_seconds"] is not None),
        )
    return out


async def test_the_totals_follow_every_change_and_match_the_rows(store: Store) -> None:
    """Requests made over ten days, answered, fixed, rated, referred, reopened and closed in
    many transactions: the figures of any period are those counted row by row (medians
    within their span), and the totals are what rebuilding them from the rows makes."""
    chance = random.Random(7)
    made: list[ServiceRequest] = []

    def open_some(tx: Transaction) -> None:
        for _ in range(40):
            at = T0 + timedelta(minutes=chance.randrange(10 * 24 * 60))
            department = chance.choice(["lighting", "school"])
            made.append(tx.save_request(lamp(at, department=department)))

    await store.write(open_some)
    for _round in range(3):

        def change(tx: Transaction) -> None:
            for number, request in enumerate(made):
                current = tx.load_request(request.reference)
                assert current is not None
                later = current.requested_datetime + timedelta(seconds=chance.randrange(1, 400_000))
                step = chance.randrange(6)
                if step == 0:
                    current = current.noted("acknowledged", by="paco", at=later)
                elif step == 1 and current.can_become(Status.RESOLVED):
                    current = current.transition(Status.RESOLVED, by="paco", at=later)
                elif step == 2 and current.state == Status.RESOLVED:
                    current = dataclasses.replace(current, details={"rating": chance.randint(1, 5)})
                    current = current.transition(Status.CLOSED, by="junbridge", at=later)
                elif step == 3 and current.can_become(Status.REOPENED):
                    current = current.transition(Status.REOPENED, by="vecina", at=later)
                elif step == 4:
                    current = dataclasses.replace(current, department="school")
                elif step == 5:
                    current = current.noted("sla_breach", by="junbridge", at=later)
                made[number] = tx.save_request(current)

        await store.write(change)

    def rows_of(connection: Connection) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in connection.execute(select(request_figures))]

    rows = await store.read(rows_of)
    for days in (None, 0, 3.4, 7, 9.99):
        since = None if days is None else T0 + timedelta(days=days)
        expected = _every_figure(rows, since or T0)
        found = await figures(store, since=since, now=T0, public_only=False)
        assert [f.department for f in found] == sorted(expected)
        for figure in found:
            received, closed, kept, ratings, answers, fixes = expected[figure.department]
            assert (figure.received, figure.closed, figure.kept, figure.ratings) == (
                received,
                closed,
                kept,
                ratings,
            )
            for value, values in ((figure.answer_median, answers), (figure.fix_median, fixes)):
                if not values:
                    assert value is None
                    continue
                exact = statistics.median(values)
                assert abs(value - exact) <= 0.032 * exact, (value, exact)

    def stored_and_rebuilt(connection: Connection) -> tuple[list[Any], list[Any]]:
        def read() -> list[Any]:
            # Rows whose counts came and went are left at zero: not a difference.
            return [
                sorted(tuple(row) for row in connection.execute(select(t)) if any(row[counts:]))
                for t, counts in ((figure_hours, 3), (figure_spans, 5), (figure_states, 3))
            ]

        stored = read()
        totals.rebuild(connection)
        return stored, read()

    stored, rebuilt = await store.read(stored_and_rebuilt)
    assert stored == rebuilt
    assert len(rebuilt[0]) > 40 and len(rebuilt[1]) > 40
    # Every request is in one state, of the department it has now.
    in_states = {(d, s): n for d, _, s, n in rebuilt[2]}
    assert sum(in_states.values()) == len(made) == 40
    assert in_states == dict(Counter((r.department, r.state.value) for r in made))


def test_a_span_is_at_most_about_three_per_cent_wide() -> None:
    assert [totals.span_of(s) for s in (0, 1, 63, 64, 65, 66, 3600, 86_399)] == [
        0,
        1,
        63,
        64,
        64,
        66,
        3584,
        86_016,
    ]
    for seconds in (*range(0, 5000), *range(5000, 10**8, 9973)):
        span = totals.span_of(seconds)
        assert span <= seconds < span + max(1, span / 32 + 1)


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
        # 0014's state_notes are written by later saves; Open311 words these from history.
        assert rows == [
            figures_row(n, r) | {"state_notes": None} for n, r in enumerate(stored, start=1)
        ]
        # 0013 counted them into the running totals.
        [lighting] = await figures(store, since=None, now=T0 + 60 * HOUR)
        assert (lighting.received, lighting.closed, lighting.kept, lighting.broken) == (2, 1, 1, 1)
        assert (lighting.answer_median, lighting.fix_median) == (3600, 2 * 3600)
        assert lighting.ratings == (0, 0, 1, 0, 0)
        # 0015 counted them by state (/metrics).
        in_states = await store.read(
            lambda connection: sorted(
                tuple(row) for row in connection.execute(select(figure_states))
            )
        )
        assert in_states == [
            ("lighting", "public", "closed", 1),
            ("lighting", "public", "received", 1),
        ]
    finally:
        await store.close()
