"""A town's store of any size, made in SQL: one year of a town, copied block by block.

The first block (``BLOCK`` requests, or fewer) is bench_public_page's year of a town, rows
written from Python: each request with its history, timers, inbound message, delivered
reply and figures, six in ten to lighting, two to the school, one each to the doctor and
the police; the newest ``open_count`` still open. The rest is made by the database
itself, doubling the store until it holds ``size``: one ``INSERT ... SELECT`` per table
copies the requests stored so far (or as many as are still wanted) with new ids,
references (``JUN-<id>``), residents, platform ids and conversations, each copy closed
(a busy town's past: its open requests are the newest ones, in the first block). The
dates are the first block's, so a store of a million holds a year of a town a hundred
times as busy. The store is counted afterwards; PostgreSQL is ANALYZEd, as autovacuum
would after so many new rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench_public_page import fill as fill_block
from bench_scale import TABLES, Rows
from sqlalchemy import Connection, func, select, text
from sqlalchemy import Table as SqlTable
from stores import sync_engine

from junbridge.store import totals
from junbridge.store.schema import (
    figure_hours,
    figure_spans,
    request_figures,
    requests,
    residents,
)

BLOCK = 10_000


def _copy(db: Connection, table: SqlTable, changed: dict[str, str], where: str) -> None:
    """``INSERT INTO table SELECT`` of the first block's rows, some columns ``changed``."""
    columns = [c.name for c in table.columns if not (c.name == "id" and "id" not in changed)]
    quoted = [f'"{c}"' for c in columns]
    values = [changed.get(c, f'"{c}"') for c in columns]
    db.execute(
        text(
            f"INSERT INTO {table.name} ({', '.join(quoted)}) "
            f"SELECT {', '.join(values)} FROM {table.name} WHERE {where}"
        )
    )


def fill_town(
    url: str, size: int, template: Rows, *, open_count: int, now: datetime
) -> dict[str, int]:
    """Fill the store at ``url`` with ``size`` requests; the row count of each table."""
    block = min(BLOCK, size)
    fill_block(url, block, template, open_count=open_count, now=now)
    with sync_engine(url) as engine:
        have, copy = block, 0
        while have < size:
            copy += 1
            count = min(have, size - have)
            with engine.begin() as db:
                top = {
                    name: int(db.execute(select(func.max(table.c.id))).scalar_one() or 0)
                    for name, table in (("residents", residents), ("outbox", TABLES["outbox"]))
                }
                _copy_block(db, copy, have, count, top)
            have += count
        with engine.begin() as db:
            # The copies' figures rows went in by INSERT … SELECT: their running totals too.
            totals.rebuild(db)
            if engine.dialect.name == "postgresql":
                for table in ("residents", "requests", "outbox"):
                    db.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                        )
                    )
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
                db.execute(text("VACUUM ANALYZE"))
        with engine.connect() as db:
            counted = {
                name: int(db.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in (
                    *TABLES.items(),
                    ("request_figures", request_figures),
                    ("figure_hours", figure_hours),
                    ("figure_spans", figure_spans),
                )
            }
            counted["open requests"] = int(
                db.execute(
                    select(func.count()).select_from(requests).where(requests.c.state != "closed")
                ).scalar_one()
            )
    return counted


def _copy_block(db: Connection, copy: int, first: int, count: int, top: dict[str, int]) -> None:
    """Copy requests 1 to ``count`` as requests ``first + 1`` on, with their rows."""
    people = copy * top["residents"]
    replies = copy * top["outbox"]
    suffix = f"'-c{copy}'"
    # A reference's number, and the same number moved into this copy.
    number = "CAST(substr(request_reference, 5) AS INTEGER)"
    moved = f"'JUN-' || CAST({number} + {first} AS TEXT)"
    in_block = f"{number} <= {count}"
    tables: dict[str, Any] = TABLES
    _copy(
        db,
        residents,
        {"id": f"id + {people}"},
        f"id IN (SELECT resident_id FROM requests WHERE id <= {count})",
    )
    _copy(
        db,
        tables["identities"],
        {
            "platform_user_id": f"platform_user_id || {suffix}",
            "resident_id": f"resident_id + {people}",
        },
        f"resident_id IN (SELECT resident_id FROM requests WHERE id <= {count})",
    )
    reference = f"'JUN-' || CAST(id + {first} AS TEXT)"
    _copy(
        db,
        requests,
        {
            "id": f"id + {first}",
            "reference": reference,
            "service_request_id": reference,
            "state": "'closed'",
            "awaiting": "NULL",
            "resident_id": f"resident_id + {people}",
            "conversation": f"conversation || {suffix}",
            "recipient": f"recipient || {suffix}",
        },
        f"id <= {count}",
    )
    _copy(db, tables["history"], {"request_id": f"request_id + {first}"}, f"request_id <= {count}")
    _copy(db, tables["timers"], {"request_reference": moved, "done_at": "due_at"}, in_block)
    _copy(
        db,
        tables["inbound"],
        {
            "platform_id": f"platform_id || {suffix}",
            "request_reference": moved,
            "resident_id": f"resident_id + {people}",
            "conversation": f"conversation || {suffix}",
        },
        in_block,
    )
    _copy(
        db,
        tables["outbox"],
        {
            "id": f"id + {replies}",
            "request_reference": moved,
            "destination": f"destination || {suffix}",
        },
        in_block,
    )
    _copy(
        db,
        tables["threads"],
        {
            "conversation": f"conversation || {suffix}",
            "request_reference": moved,
            "outbox_id": f"outbox_id + {replies}",
        },
        in_block,
    )
    _copy(
        db,
        request_figures,
        {
            "request_id": f"request_id + {first}",
            "state": "'closed'",
            "closed_at": "COALESCE(closed_at, requested_datetime)",
        },
        f"request_id <= {count}",
    )
