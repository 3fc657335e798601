"""How fast the bridge handles residents' messages, against the store's bare insert speed.

Each run measures, on the same machine in the same process:

- baseline: ``Store.accept`` alone (one insert: the least any pipeline must do per message);
- pipeline: ``Bridge.receive`` of a dead-lamp report (dedupe, route, lighting plugin, request,
  history, conversation and outbox rows in one transaction).

It prints messages per second and the ratio pipeline/baseline for SQLite and PostgreSQL.
Machines here are shared and noisy: compare ratios, not absolute figures.

    .venv/bin/python bench/bench_pipeline.py [--messages 300] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url

from junbridge.store import Store
from junbridge.testing import make_bridge, make_message

ROOT = Path(__file__).parent.parent
PG = "postgresql://postgres@127.0.0.1:5432/test"
TEXTS = ["La farola {n} de la calle Real no funciona", "farola {n} parpadea"]


def pg_schema_url() -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = make_url(PG).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(schema: str) -> None:
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


async def baseline(url: str, n: int) -> float:
    store = await Store.open(url)
    try:
        start = time.perf_counter()
        for i in range(n):
            await store.accept(make_message(TEXTS[i % 2].format(n=i), user=f"v{i % 50}"))
        return n / (time.perf_counter() - start)
    finally:
        await store.close()


async def pipeline(url: str, n: int, workdir: Path) -> float:
    bridge = await make_bridge(
        config=ROOT / "tests" / "data" / "jun.yaml", store_url=url, workdir=workdir
    )
    try:
        start = time.perf_counter()
        for i in range(n):
            await bridge.receive(make_message(TEXTS[i % 2].format(n=i), user=f"v{i % 50}"))
        return n / (time.perf_counter() - start)
    finally:
        await bridge.close()


async def measure(dialect: str, n: int, rounds: int) -> tuple[float, float]:
    base, full = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            for kind, results in (("baseline", base), ("pipeline", full)):
                if dialect == "sqlite":
                    url, schema = f"sqlite:///{tmp}/{kind}.db", None
                else:
                    url, schema = pg_schema_url()
                try:
                    if kind == "baseline":
                        results.append(await baseline(url, n))
                    else:
                        results.append(await pipeline(url, n, Path(tmp)))
                finally:
                    if schema:
                        drop_schema(schema)
    return statistics.median(base), statistics.median(full)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"{args.messages} messages, median of {args.rounds} rounds")
    for column in ("store", "baseline accept/s", "pipeline receive/s", "pipeline / baseline"):
        table.add_column(column, justify="right")
    dialects = ["sqlite"] if args.no_postgres else ["sqlite", "postgresql"]
    for dialect in dialects:
        base, full = asyncio.run(measure(dialect, args.messages, args.rounds))
        table.add_row(dialect, f"{base:,.0f}", f"{full:,.0f}", f"{full / base:.2f}")
    console.print(table)
    console.print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
