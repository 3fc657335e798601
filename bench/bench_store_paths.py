"""How to execute the store's hot path: the same transaction through four execution paths.

One transaction shaped like a handled lamp report (two reads, then a write transaction of
six statements: insert, update, insert, insert, insert, update) on junbridge's own schema,
executed N times through:

- async: SQLAlchemy's AsyncEngine (aiosqlite / psycopg async), awaiting each statement;
- sync in a thread: SQLAlchemy's sync Engine, the whole transaction in ``asyncio.to_thread``;
- sync inline: SQLAlchemy's sync Engine called in the event loop (blocks it while it runs);
- raw sqlite3 inline (SQLite only): the floor, no SQLAlchemy at all.

It prints microseconds per transaction and the ratio to the fastest, on SQLite (WAL) and
PostgreSQL, in the same run. Machines here are shared and noisy: compare ratios.

    .venv/bin/python bench/bench_store_paths.py [--transactions 300] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, create_engine, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

sys.path.insert(0, str(Path(__file__).parent))
from stores import command_line, fresh_store_url

from junbridge.store import Store
from junbridge.store import engine as engines
from junbridge.store.schema import inbound, outbox, requests, residents

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def request_row(n: int) -> dict[str, Any]:
    return {
        "reference": f"new-{n}",
        "service_request_id": f"new-{n}",
        "service_code": "lighting",
        "service_name": "Alumbrado",
        "description": f"La farola {n} no funciona",
        "requested_datetime": NOW,
        "updated_datetime": NOW,
        "department": "lighting",
        "state": "assigned",
        "privacy": "public",
        "details": {},
        "attachments": [],
        "version": 1,
    }


_numbers = iter(range(10**9))


def statements(_: int) -> list[Any]:
    """The six writes of one handled message (history and timers stand in as outbox rows)."""
    reply = {
        "created_at": NOW,
        "channel": "telegram",
        "reply": {"text": "ok"},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "platform_ids": [],
    }
    n = next(_numbers)
    return [
        insert(requests).values(request_row(n)),
        update(requests).where(requests.c.reference == f"new-{n}").values(assignee="electricista"),
        insert(outbox).values(reply),
        insert(outbox).values(reply),
        insert(outbox).values(reply),
        update(inbound).where(inbound.c.id == n).values(status="done"),
    ]


READS = [select(residents).where(residents.c.id == 1), select(requests).where(requests.c.id == 1)]


async def run_async(url: str, n: int) -> float:
    engine = engines.create_engine_for(url)
    writer = engine.execution_options(**{engines.WRITE: True})
    start = time.perf_counter()
    for i in range(n):
        async with engine.connect() as reader:
            for query in READS:
                await reader.execute(query)
        async with writer.begin() as connection:
            await _write_async(connection, i)
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return elapsed


async def _write_async(connection: AsyncConnection, i: int) -> None:
    for statement in statements(i):
        await connection.execute(statement)


def sync_engine(url: str) -> Any:
    engine = create_engine(engines.to_sync_url(url))
    if engines.dialect_of(url) == "sqlite":
        engines.prepare_sqlite(engine)
    return engine


def one_sync(engine: Any, writer: Any, i: int) -> None:
    with engine.connect() as reader:
        for query in READS:
            reader.execute(query)
    with writer.begin() as connection:
        _write_sync(connection, i)


def _write_sync(connection: Connection, i: int) -> None:
    for statement in statements(i):
        connection.execute(statement)


async def run_thread(url: str, n: int) -> float:
    engine = sync_engine(url)
    writer = engine.execution_options(**{engines.WRITE: True})
    start = time.perf_counter()
    for i in range(n):
        await asyncio.to_thread(one_sync, engine, writer, i)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


async def run_inline(url: str, n: int) -> float:
    engine = sync_engine(url)
    writer = engine.execution_options(**{engines.WRITE: True})
    start = time.perf_counter()
    for i in range(n):
        one_sync(engine, writer, i)
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


async def run_raw(url: str, n: int) -> float:
    path = url.removeprefix("sqlite:///")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    start = time.perf_counter()
    for i in range(n):
        db.execute("SELECT * FROM residents WHERE id = 1").fetchall()
        db.execute("SELECT * FROM requests WHERE id = 1").fetchall()
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO requests (reference, service_request_id, service_code, service_name,"
            " description, requested_datetime, updated_datetime, department, state, privacy,"
            " details, attachments, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                f"raw-{i}-{time.perf_counter_ns()}",
                "raw",
                "lighting",
                "Alumbrado",
                "x",
                "2026-11-25 09:00:00",
                "2026-11-25 09:00:00",
                "lighting",
                "assigned",
                "public",
                "{}",
                "[]",
                1,
            ),
        )
        db.execute("UPDATE requests SET assignee = ? WHERE id = ?", ("e", i))
        for _ in range(3):
            db.execute(
                "INSERT INTO outbox (created_at, channel, reply, status, attempts,"
                " next_attempt_at, platform_ids) VALUES (?,?,?,?,?,?,?)",
                ("2026-11-25 09:00:00", "telegram", "{}", "pending", 0, "2026-11-25", "[]"),
            )
        db.execute("UPDATE inbound SET status = 'done' WHERE id = ?", (i,))
        db.execute("COMMIT")
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


PATHS: dict[str, Callable[[str, int], Any]] = {
    "async (AsyncEngine, each statement awaited)": run_async,
    "sync, whole transaction in a thread": run_thread,
    "sync inline in the event loop": run_inline,
    "raw sqlite3 inline": run_raw,
}


async def measure(dialect: str, n: int, rounds: int) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in PATHS.items():
            if name.startswith("raw") and dialect != "sqlite":
                continue
            with (
                tempfile.TemporaryDirectory() as folder,
                fresh_store_url(dialect, Path(folder), "paths") as url,
            ):
                await (await Store.open(url)).close()  # the schema, migrated
                await run(url, n // 10)  # warm-up: pools, statement caches
                elapsed = await run(url, n)
            best[name] = min(best.get(name, float("inf")), elapsed / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    dialects = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
    console = Console()
    for dialect in dialects:
        best = asyncio.run(measure(dialect, args.transactions, args.rounds))
        floor = min(best.values())
        table = Table(title=f"{dialect}: µs per message-shaped transaction (best of {args.rounds})")
        table.add_column("execution path")
        table.add_column("µs", justify="right")
        table.add_column("× fastest", justify="right")
        for name, micros in best.items():
            table.add_row(name, f"{micros:,.0f}", f"{micros / floor:.1f}")
        console.print(table)
    console.print(f"command: {command_line()}")


if __name__ == "__main__":
    main()
