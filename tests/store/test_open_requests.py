"""Open requests are counted and listed through the index that holds open requests alone."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from test_store import T0, new_request

from junbridge.model import Status
from junbridge.store import Store, Transaction

INDEX = "ix_requests_department_id"


def _numbered(statement: str, names: list[str]) -> str:
    """psycopg's ``%(name)s`` placeholders as PREPARE's ``$1``, ``$2``."""
    return re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)


async def plans(store: Store, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement's plan as the database would run it, prepared once for all values.

    PostgreSQL: as a generic plan (psycopg prepares a statement run five times), with
    sequential scans priced out, so a tiny test table still shows which index can serve.
    """
    found = []
    async with store._read() as connection:
        for statement, parameters in statements:
            if store.dialect == "sqlite":
                rows = await connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
                found.append("\n".join(str(row[-1]) for row in rows))
                continue
            names = list(parameters)
            numbered = _numbered(statement, names)
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            await connection.exec_driver_sql(f"PREPARE open_query AS {numbered}")
            values = ", ".join(f"'{parameters[name]}'" for name in names)
            rows = await connection.exec_driver_sql(f"EXPLAIN EXECUTE open_query({values})")
            found.append("\n".join(str(row[0]) for row in rows))
            await connection.exec_driver_sql("DEALLOCATE open_query")
    return found


async def test_open_load_and_open_lists_use_the_index_of_open_requests(store: Store) -> None:
    def work(tx: Transaction) -> Any:
        for n in range(6):
            saved = tx.save_request(new_request(assignee="paco" if n % 2 else "lola"))
            if n < 4:
                tx.save_request(saved.transition(Status.CLOSED, by="paco", at=T0))
        return saved

    await store.write(work)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM requests" in statement:
            statements.append((statement, parameters))

    engine = store._engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert await store.open_load("lighting") == {"lola": 1, "paco": 1}
        assert len(await store.list(department="lighting", open_only=True)) == 2
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    assert len(statements) == 2
    for plan in await plans(store, statements):
        assert INDEX in plan, plan
