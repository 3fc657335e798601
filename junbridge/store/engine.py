"""Database URLs, engines and migrations: from the admin's URL to a ready, migrated engine."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, pool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")

# Execution option marking a connection that will write: SQLite then takes the write lock at
# BEGIN, so two writers queue on busy_timeout instead of deadlocking when a read upgrades.
WRITE = "junbridge_write"

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
_BUSY_TIMEOUT_MS = 30_000
# Alembic keeps the running migration in module globals: one at a time per process.
_ALEMBIC_LOCK = threading.Lock()


def dialect_of(url: str) -> str:
    """``'sqlite'`` or ``'postgresql'`` for an admin's URL; ValueError for anything else."""
    backend = make_url(url).get_backend_name()
    backend = "postgresql" if backend == "postgres" else backend
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(
            f"unsupported store URL {url!r}: use sqlite:///path.db or postgresql://user@host/db"
        )
    return backend


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    parsed = make_url(url).set(drivername=drivers[dialect_of(url)])
    return parsed.render_as_string(hide_password=False)


def to_async_url(url: str) -> str:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``; ``postgresql://`` -> psycopg 3."""
    return _with_driver(url, _ASYNC_DRIVERS)


def to_sync_url(url: str) -> str:
    """The synchronous driver URL Alembic uses: pysqlite or psycopg 3."""
    return _with_driver(url, _SYNC_DRIVERS)


def is_memory(url: str) -> bool:
    """Whether ``url`` names an in-memory SQLite database (gone when the last connection is)."""
    parsed = make_url(url)
    return dialect_of(url) == "sqlite" and parsed.database in (None, "", ":memory:")


def prepare_sqlite(engine: Engine, *, foreign_keys: bool = True) -> None:
    """Foreign keys, WAL and explicit BEGINs on every SQLite connection of ``engine``."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself: the sqlite3 module's own timing breaks isolation.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Off while migrating: batch mode's DROP TABLE would otherwise cascade to child rows.
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        # WAL is stored in the file: set it once. Switching needs a moment alone with the file,
        # which a connection opened while another writes may not get; the next one will.
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0] != "wal":
            with contextlib.suppress(sqlite3.OperationalError):
                cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE, False)
        # Straight to the driver's cursor: through exec_driver_sql, SQLAlchemy's execution
        # machinery made up a third of an empty write transaction's cost (141 -> 100 µs of
        # CPU here). The 'begin' event itself still fires, so BEGINs are still counted.
        cursor = connection.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        finally:
            cursor.close()


def create_engine_for(url: str) -> AsyncEngine:
    """An async engine for the admin's ``url``, with SQLite's pragmas set on each connection."""
    dialect = dialect_of(url)
    options: dict[str, Any] = {}
    if dialect == "postgresql":
        # Workers outlive database restarts; check a pooled connection before using it.
        options["pool_pre_ping"] = True
    engine = create_async_engine(to_async_url(url), **options)
    if dialect == "sqlite":
        prepare_sqlite(engine.sync_engine)
    return engine


def create_sync_engine_for(url: str) -> Engine:
    """A blocking engine for the admin's ``url``, for whole transactions run in a thread."""
    dialect = dialect_of(url)
    options: dict[str, Any] = {}
    if dialect == "postgresql":
        options["pool_pre_ping"] = True
    engine = create_engine(to_sync_url(url), **options)
    if dialect == "sqlite":
        prepare_sqlite(engine)
    return engine


def alembic_config(**attributes: Any) -> Config:
    """An Alembic Config built in code: no alembic.ini, scripts in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes.update(attributes)
    return config


def upgrade_connection(connection: Connection) -> None:
    """Migrate to the newest schema over an open connection (in-memory SQLite needs this)."""
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(connection=connection), "head")


def upgrade(url: str) -> None:
    """Migrate the database at the admin's ``url`` to the newest schema. Blocking."""
    engine = create_engine(
        to_sync_url(url), poolclass=pool.NullPool, execution_options={WRITE: True}
    )
    if engine.dialect.name == "sqlite":
        prepare_sqlite(engine, foreign_keys=False)
    try:
        with engine.connect() as connection:
            upgrade_connection(connection)
    finally:
        engine.dispose()
