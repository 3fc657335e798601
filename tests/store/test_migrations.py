"""The Alembic migration builds exactly the tables that schema.py declares."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, insert, inspect, pool

from junbridge.store import Store, to_sync_url
from junbridge.store.engine import alembic_config
from junbridge.store.schema import metadata, requests, residents


def _with_sync(url: str, work: Callable[[Connection], Any]) -> Any:
    engine = create_engine(to_sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            return work(connection)
    finally:
        engine.dispose()


def _describe(connection: Connection) -> dict[str, Any]:
    """Tables, columns, keys and indexes as the database itself reports them."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "fks": sorted(
                (
                    f["name"],
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    sorted(f["options"].items()),
                )
                for f in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (
                    i["name"],
                    tuple(str(c) for c in i["column_names"]),
                    bool(i["unique"]),
                    _predicate(i),
                )
                for i in inspector.get_indexes(table)
            ),
        }
    return tables


def _predicate(index: Any) -> str | None:
    """A partial index's WHERE, as the database keeps it (a query must say the same)."""
    options = index.get("dialect_options", {})
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return None if where is None else str(where)


async def test_migrated_database_matches_schema_py(make_db_url: Callable[[], str]) -> None:
    migrated, created = make_db_url(), make_db_url()
    await (await Store.open(migrated)).close()
    await asyncio.to_thread(_with_sync, created, metadata.create_all)

    diff = await asyncio.to_thread(
        _with_sync,
        migrated,
        lambda c: compare_metadata(MigrationContext.configure(c), metadata),
    )
    assert diff == []
    described = await asyncio.to_thread(_with_sync, migrated, _describe)
    assert described == await asyncio.to_thread(_with_sync, created, _describe)
    assert set(described) == set(metadata.tables)


async def test_opening_again_and_together_is_safe(make_db_url: Callable[[], str]) -> None:
    url = make_db_url()
    stores = await asyncio.gather(*(Store.open(url) for _ in range(3)))
    stores.append(await Store.open(url))
    for store in stores:
        await store.close()


async def test_a_question_pending_before_0007_is_found_after_it(
    make_db_url: Callable[[], str],
) -> None:
    """A resident asked "is it fixed?" before the upgrade can still answer after it: the
    question moves from the request's details to the indexed column."""
    url = make_db_url()

    def at_0006_with_requests(connection: Connection) -> None:
        command.upgrade(alembic_config(connection=connection), "0006")
        connection.execute(
            insert(residents).values(id=1, created_at=datetime(2026, 11, 25, tzinfo=UTC))
        )
        for n, details in enumerate(({"awaiting": "fixed"}, {"rating": 4}), start=1):
            connection.execute(
                insert(requests).values(
                    reference=f"JUN-000{n}",
                    service_request_id=f"JUN-000{n}",
                    service_code="lighting",
                    service_name="Alumbrado",
                    description="La farola de la calle Real no funciona",
                    requested_datetime=datetime(2026, 11, 25, tzinfo=UTC),
                    updated_datetime=datetime(2026, 11, 25, tzinfo=UTC),
                    department="lighting",
                    state="resolved",
                    privacy="public",
                    resident_id=1,
                    details=details,
                    attachments=[],
                )
            )

    await asyncio.to_thread(_with_sync, url, at_0006_with_requests)
    store = await Store.open(url)
    try:
        [waiting] = await store.awaiting_answer(1)
        assert waiting.reference == "JUN-0001" and waiting.details["awaiting"] == "fixed"
    finally:
        await store.close()
