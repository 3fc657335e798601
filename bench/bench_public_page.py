"""How long does the public transparency page take with 100,000 requests stored?

A store is filled directly in SQL from bench_scale.py's rows (each request with its history,
timers, inbound message and delivered reply), reshaped into a town that has run for a year:
requests spread over the last 365 days, six in ten to lighting, two to the school (both
public), one each to the doctor and the police (private); all but the newest ``--open``
answered, fixed and closed, some late (with their SLA breach line), some rated. Then the
bridge's web app is served by uvicorn, as ``junbridge run`` serves it, and ``/`` (Spanish
and English), a request's page and ``/metrics`` are fetched over HTTP, one after another,
``--repeat`` times each: p50, p95 and max. The app reads the figures again at most every
30 s; ``--no-cache`` makes every render read them from the store, the cost of a cold page.
Before timing, a sample of the generated figures rows is checked against what
``junbridge.store.measures`` makes of the same requests read back from the store.

    .venv/bin/python bench/bench_public_page.py [--size 100000] [--open 500] [--repeat 50]
        [--no-cache] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from bench_scale import TABLES, Rows, filled_rows, template_rows
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text
from stores import command_line, fresh_store_url, sync_engine

from junbridge.bridge import Bridge
from junbridge.model import HistoryEntry, Status, state_notes
from junbridge.store import totals
from junbridge.store.measures import figures_row
from junbridge.store.schema import request_figures, requests
from junbridge.testing import make_bridge
from junbridge.testing.clock import ManualClock
from junbridge.web.app import create_app
from junbridge.web.server import serve

ROOT = Path(__file__).parent.parent
CONFIG: dict[str, Any] = {
    "town": {"name": "Jun"},
    "departments": {
        "lighting": {"staff": [{"name": "Paco"}, {"name": "Lola"}]},
        "school": {},
        "doctor": {},
        "police": {},
    },
}
# Of every ten requests: six to lighting, two to the school, one each to doctor and police.
DEPARTMENTS = ("lighting",) * 6 + ("school",) * 2 + ("doctor", "police")
PRIVATE = frozenset({"doctor", "police"})
DAYS = 365
CHUNK = 2_000


def town_rows(
    template: Rows, first: int, last: int, *, size: int, open_count: int, now: datetime
) -> Rows:
    """bench_scale's rows for requests ``first``..``last``, reshaped into a year of a town."""
    rows = filled_rows(template, first, last)
    by_id = {row["id"]: row for row in rows["requests"]}
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in rows["history"]:
        lines.setdefault(line["request_id"], []).append(line)
    history = []
    for k, request in by_id.items():
        department = DEPARTMENTS[k % len(DEPARTMENTS)]
        at = now - timedelta(days=DAYS) + timedelta(seconds=(DAYS * 86_400) * (k - 1) / size)
        expected = at + timedelta(hours=48)
        request.update(
            department=department,
            privacy="private" if department in PRIVATE else "public",
            service_code=department,
            service_name=department,
            requested_datetime=at,
            expected_datetime=expected,
            lat=37.2218 + (k % 100) / 10_000,
            long=-3.5930 - (k % 100) / 10_000,
        )
        mine = lines[k]
        for line in mine:
            line["at"] = at
        answered = at + timedelta(minutes=15 + (k * 37) % 600)
        done = k <= size - open_count
        extra: list[tuple[datetime, str, str | None, str]] = []
        if done or k % 2:
            extra.append((answered, "acknowledged", None, "Paco"))
        # One in seven is fixed late: the breach line came first.
        late = k % 7 == 0
        fixed = expected + timedelta(hours=5) if late else answered + timedelta(hours=k % 40)
        if late and (done or now > expected):
            extra.append((expected, "sla_breach", None, "junbridge"))
        if done:
            extra.append((fixed, "resolved", "resolved", "Paco"))
            if k % 3 == 0:
                rating = 1 + k % 5
                request["details"] = {"rating": rating}
                extra.append((fixed + timedelta(hours=20), "rated", None, f"telegram:@fill{k}"))
            extra.append((fixed + timedelta(hours=24), "closed", "closed", "junbridge"))
            request["state"] = "closed"
            request["updated_datetime"] = fixed + timedelta(hours=24)
        rows.setdefault("request_figures", []).append(
            {
                "request_id": k,
                "requested_datetime": at,
                "expected_datetime": expected,
                "department": department,
                "privacy": request["privacy"],
                "state": "closed" if done else request["state"],
                "answer_seconds": round((answered - at).total_seconds()) if done or k % 2 else None,
                "fix_seconds": round((fixed - at).total_seconds()) if done else None,
                "closed_at": fixed + timedelta(hours=24) if done else None,
                "promise_kept": (not late)
                if done
                else (False if late and now > expected else None),
                "rating": request["details"].get("rating"),
            }
        )
        for number, (when, action, state, by) in enumerate(sorted(extra), start=len(mine)):
            mine.append(
                {
                    **mine[-1],
                    "position": number,
                    "at": when,
                    "by": by,
                    "action": action,
                    "state": state,
                    "note": None,
                }
            )
        history.extend(mine)
        # What every save writes beside the figures: Open311's notes, from the history made.
        figures = rows["request_figures"][-1]
        figures["state_notes"] = state_notes(
            SimpleNamespace(
                state=Status(figures["state"]),
                history=tuple(
                    HistoryEntry(
                        at=line["at"],
                        by=line["by"],
                        action=line["action"],
                        state=Status(line["state"]) if line["state"] else None,
                        note=line["note"],
                    )
                    for line in mine
                ),
            )
        )
    rows["history"] = history
    return rows


def fill(url: str, size: int, template: Rows, *, open_count: int, now: datetime) -> int:
    """Insert ``size`` requests and their rows; the number of requests stored."""
    with sync_engine(url) as engine, engine.begin() as db:
        for first in range(1, size + 1, CHUNK):
            last = min(size, first + CHUNK - 1)
            rows = town_rows(template, first, last, size=size, open_count=open_count, now=now)
            for name, table in (*TABLES.items(), ("request_figures", request_figures)):
                if rows[name]:
                    db.execute(table.insert(), rows[name])
        # The figures rows went in directly, not through a transaction of the store: count
        # them into the running totals as migration 0013 does for a store that had them.
        totals.rebuild(db)
        if engine.dialect.name == "postgresql":
            for table in ("residents", "requests", "outbox"):
                db.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    )
                )
    with sync_engine(url) as engine:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
                db.execute(text("ANALYZE"))
        with engine.connect() as db:
            return int(db.execute(select(func.count()).select_from(requests)).scalar_one())


async def check_sample(bridge: Bridge, size: int) -> None:
    """The generated figures rows say what measures.py says of the stored requests."""
    for k in sorted({1, 2, 7, 21, size // 2, size - 1, size}):
        request = await bridge.store.get_request(f"JUN-{k:04d}")
        assert request is not None
        wanted = figures_row(k, request)
        found = await bridge.store.read(
            lambda c, k=k: dict(
                c.execute(select(request_figures).where(request_figures.c.request_id == k))
                .one()
                ._mapping
            )
        )
        assert found == wanted, (k, found, wanted)


async def timed(client: httpx.AsyncClient, path: str, repeat: int) -> list[float]:
    """Seconds for each of ``repeat`` GETs of ``path``, one after another."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = await client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return times


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


async def measure(args: argparse.Namespace, console: Console) -> Table:
    dialect = "postgresql" if args.postgres else "sqlite"
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    table = Table(title=f"{dialect}, {args.size:,} requests: ms per page over HTTP")
    for column in ("page", "p50", "p95", "max", "first"):
        table.add_column(column, justify="right" if column != "page" else "left")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        (folder / "template").mkdir()
        template = await template_rows(folder / "template")
        url = stack.enter_context(fresh_store_url(dialect, folder, "town"))
        bridge = await make_bridge(
            config=CONFIG,
            store_url=url,
            workdir=folder,
            clock=ManualClock(now),
        )
        try:
            start = time.perf_counter()
            stored = await asyncio.to_thread(
                fill, url, args.size, template, open_count=args.open, now=now
            )
            console.print(f"filled {stored:,} requests in {time.perf_counter() - start:.1f} s")
            await check_sample(bridge, args.size)
            app = create_app(bridge, figures_seconds=0) if args.no_cache else create_app(bridge)
            server = await serve(app)
            try:
                async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
                    newest = f"JUN-{args.size - args.size % 10 + 1:04d}"
                    if args.size % 10 == 0:
                        newest = f"JUN-{args.size - 9:04d}"
                    for label, path in (
                        ("/ (es)", "/?lang=es"),
                        ("/ (en)", "/?lang=en"),
                        (f"/requests/{newest}", f"/requests/{newest}"),
                        ("/metrics", "/metrics"),
                    ):
                        times = await timed(client, path, args.repeat + 1)
                        first, rest = times[0], times[1:]
                        table.add_row(
                            label,
                            f"{statistics.median(rest) * 1000:.1f}",
                            f"{percentile(rest, 0.95) * 1000:.1f}",
                            f"{max(rest) * 1000:.1f}",
                            f"{first * 1000:.1f}",
                        )
            finally:
                await server.stop()
        finally:
            await bridge.close()
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=500, help="the newest requests still open")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--no-cache", action="store_true", help="read the figures from the store for every page"
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    console = Console(width=120)
    console.print(asyncio.run(measure(args, console)))
    console.print(
        "'first' is the first fetch of each page (cold caches); the others are the next "
        f"{args.repeat}. command: " + command_line()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
