"""Alembic environment, run by ``Store.open()`` through ``junbridge.store.engine.upgrade``.

The Config is built in code: ``config.attributes["connection"]`` is an open connection to
migrate. Autogenerate compares against ``junbridge.store.schema.metadata``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from junbridge.store.schema import metadata

# Any fixed number: all junbridge workers sharing one PostgreSQL agree on it.
_MIGRATION_LOCK = 0x4A554E  # "JUN"


def run_migrations(connection: Connection) -> None:
    """Apply the pending migrations in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # With SQLAlchemy emitting BEGIN, SQLite's DDL is transactional too: all or nothing.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Workers started together: one migrates, the others wait here and find it done.
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("junbridge migrations run online, from Store.open()")
run_migrations(context.config.attributes["connection"])
