"""Fresh stores for the benchmarks, plain SQL to look into them, the command line to print.

A SQLite store is a new file (the store itself sets WAL on it); a PostgreSQL store is a
schema of its own in the ``test`` database, dropped when the benchmark is done with it.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import Engine, create_engine, make_url, pool

PG = "postgresql://postgres@127.0.0.1:5432/test"
DIALECTS = ("sqlite", "postgresql")


@contextmanager
def fresh_store_url(dialect: str, folder: Path, name: str) -> Iterator[str]:
    """The URL of an empty store: ``folder/name.db``, or a new PostgreSQL schema."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / name}.db"
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = make_url(PG).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def sync_engine(url: str) -> Iterator[Engine]:
    """A plain, blocking engine on a store's URL, apart from the bridge's own."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def command_line() -> str:
    """The command that is running, as typed from the repository's root."""
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), *sys.argv])
