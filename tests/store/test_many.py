"""Gathered rows written in one executemany (store/many.py) are stored as SQLAlchemy stores them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from junbridge.store.engine import create_sync_engine_for, upgrade
from junbridge.store.many import execute_many
from junbridge.store.schema import outbox

NOW = datetime(2026, 3, 4, 10, 0, 5, 123456, tzinfo=UTC)


def replies(reference: str) -> list[dict[str, Any]]:
    """Three outbox rows: datetimes with microseconds, JSON with accents, NULLs, a tab."""
    return [
        {
            "created_at": NOW,
            "request_reference": reference,
            "channel": "telegram",
            "reply": {"text": f"Farola {n} reparada ✓\tgracias", "buttons": [], "n": n},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": NOW + timedelta(seconds=n),
            "claimed_at": None,
            "sent_at": NOW + timedelta(hours=1) if n == 2 else None,
            "platform_ids": [],
            "error": None,
            "destination": f"telegram:{n}",
        }
        for n in range(3)
    ]


def stored(connection: Any, reference: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(outbox).where(outbox.c.request_reference == reference).order_by(outbox.c.id)
    ).mappings()
    return [{k: v for k, v in row.items() if k not in ("id", "request_reference")} for row in rows]


def test_rows_written_together_read_back_as_sqlalchemy_wrote_them(db_url: str) -> None:
    upgrade(db_url)
    engine = create_sync_engine_for(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(outbox), replies("JUN-0001"))
            assert execute_many(connection, insert(outbox), replies("JUN-0002")) == 3
        with engine.connect() as connection:
            theirs, ours = stored(connection, "JUN-0001"), stored(connection, "JUN-0002")
        assert ours == theirs
        assert ours[2]["sent_at"] == NOW + timedelta(hours=1)  # aware, in UTC, to the µs
        assert ours[0]["reply"]["text"] == "Farola 0 reparada ✓\tgracias"
    finally:
        engine.dispose()


def test_an_update_counts_the_rows_its_fixed_condition_let_through(db_url: str) -> None:
    # As a batch marks its messages handled: a value fixed in the statement ("pending")
    # beside the rows' own; the count is how the commit sees a lease it lost.
    upgrade(db_url)
    engine = create_sync_engine_for(db_url)
    mark = (
        update(outbox)
        .where(outbox.c.id == bindparam("b_id"), outbox.c.status == "pending")
        .values(status=bindparam("b_status"))
    )
    try:
        with engine.begin() as connection:
            connection.execute(insert(outbox), replies("JUN-0003"))
            ids = connection.execute(select(outbox.c.id).order_by(outbox.c.id)).scalars().all()
            connection.execute(update(outbox).where(outbox.c.id == ids[0]).values(status="sent"))
            rows = [{"b_id": i, "b_status": "sending"} for i in ids]
            assert execute_many(connection, mark, rows) == 2
            statuses = connection.execute(select(outbox.c.status).order_by(outbox.c.id))
            assert statuses.scalars().all() == ["sent", "sending", "sending"]
    finally:
        engine.dispose()
