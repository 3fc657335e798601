"""Shared fixtures. Databases: each test gets an empty SQLite file or PostgreSQL schema."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import time_machine
from psycopg import sql
from sqlalchemy import make_url

from junbridge.store import Store

PG_URL = os.environ.get("JUNBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--today",
        metavar="ISO",
        help="run the suite as if the clock read this moment (ISO 8601 with offset, "
        "e.g. 2028-02-29T23:30+00:00); the wall clock ticks on from there. Tests must "
        "pass whatever the date and TZ: .ci/run checks New Year's Eve and a leap day.",
    )


def pytest_configure(config: pytest.Config) -> None:
    today = config.getoption("--today")
    if today:
        moment = datetime.fromisoformat(today)
        if moment.tzinfo is None:
            raise pytest.UsageError("--today needs an offset, e.g. 2028-02-29T23:30+00:00")
        traveller = time_machine.travel(moment, tick=True)
        traveller.start()
        config.stash[_TRAVELLER] = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_TRAVELLER, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str:
    today = config.getoption("--today") or "today"
    return f"clock: {today}; TZ={os.environ.get('TZ', '(unset)')} ({time.tzname[0]})"


_TRAVELLER = pytest.StashKey[time_machine.travel]()


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


@pytest.fixture
def install_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Path]]:
    """Installs a throwaway distribution as pip would lay it out, in a folder put first on
    sys.path: ``install_package("junbridge-waste", "1.0.0", {"waste": "junbridge_waste"},
    junbridge_waste=SOURCE)`` writes the module and a dist-info folder with its version and
    ``junbridge`` entry points. The modules are forgotten after the test."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(site)
    modules: list[str] = []

    def install(dist: str, version: str, entry_points: dict[str, str], **sources: str) -> Path:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        points = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[junbridge]\n{points}")
        for module, source in sources.items():
            (site / f"{module}.py").write_text(source)
            modules.append(module)
        return site

    yield install
    for module in modules:
        sys.modules.pop(module, None)
