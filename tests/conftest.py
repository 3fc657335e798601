"""Shared fixtures. Databases: each test gets an empty SQLite file or PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from junbridge.store import Store

PG_URL = os.environ.get("JUNBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        # Fail, never skip: the PostgreSQL path is what several workers run in production.
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_URL}: {error}\n"
            "Start it (pg_ctlcluster --skip-systemctl-redirect <version> main start) "
            "or point JUNBRIDGE_TEST_PG_URL at one.",
            pytrace=False,
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def make_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of URLs to new, empty databases of the parametrized dialect."""
    schemas: list[str] = []

    def make() -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / f'junbridge-{uuid.uuid4().hex[:8]}.db'}"
        # A schema per database, so tests running side by side on one server never meet.
        schema = f"test_{uuid.uuid4().hex[:12]}"
        with _pg_admin() as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        schemas.append(schema)
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    yield make
    if schemas:
        with _pg_admin() as admin:
            for schema in schemas:
                admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def db_url(make_db_url: Callable[[], str]) -> str:
    """The URL of an empty database: SQLite file or PostgreSQL schema (parametrized)."""
    return make_db_url()


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """An open, migrated Store on an empty database, closed after the test."""
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()
