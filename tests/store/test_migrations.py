"""The Alembic migration builds exactly the tables that schema.py declares."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, pool

from junbridge.store import Store, to_sync_url
from junbridge.store.schema import metadata


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
