"""Does a resident's message cost more as the store fills up? A scale curve.

For each size N, a fresh store is filled directly in SQL, through junbridge.store.schema,
with N lighting requests copied from one the pipeline made: each with its history, timers,
inbound message and delivered reply, from residents who made three each. As in a town
that has run for a while, the newest ``--open`` of them (500) are still open (assigned)
and the older ones were closed; ``--open -1`` keeps all N open, the worst case for
anything that counts open requests. SELECT COUNT then checks that it holds exactly N.
Every store's bridge is warmed up, then batches of lamp reports from new residents are
timed, going round all sizes in turn so that a noisy moment on this shared machine hits
every size alike. The baseline is the smallest size, in the same run. Last, untimed, each
SQL statement is timed on every store: the statements whose time grows most with the store
are listed.

Two electricians are on duty, so each report is assigned to the one with fewer open
requests (Department.assignee asks the store for each one's open load: the least-loaded
assignment runs on every report); the clock is fixed on a Wednesday at 10:00. Compare
ratios, not milliseconds.

With ``--town`` each store is a year of a town made in SQL (town_fill.py: Jun's four
departments, a fifth private, all but the newest ``--open`` closed), and at each size the
public page (its figures read from the store on every view) and Open311's ``GET
requests`` of one service over the last day are also fetched over HTTP: p50/p95.

    .venv/bin/python bench/bench_scale.py [--sizes 0 1000 10000 100000] [--open 500]
        [--batch 50] [--rounds 3] [--no-postgres] [--town] [--repeat 40] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from results import percentile, write
from rich.console import Console
from rich.table import Table
from sql_tally import Tally, label, tallying
from sqlalchemy import Connection, func, select, text
from sqlalchemy import Table as SqlTable
from stores import DIALECTS, command_line, fresh_store_url, sync_engine

from junbridge.bridge import Bridge
from junbridge.runner import settle
from junbridge.store.schema import (
    history,
    identities,
    inbound,
    outbox,
    requests,
    residents,
    threads,
    timers,
)
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock
from junbridge.web.app import create_app
from junbridge.web.server import serve

STAFF = ("Paco", "Lola")
CONFIG = {
    "town": {"name": "Jun"},
    "departments": {
        "lighting": {
            # Two electricians on duty: assignment weighs their open requests.
            "staff": [{"name": name} for name in STAFF],
            "on_duty": [{"staff": name} for name in STAFF],
        }
    },
}
# With --town: Jun's four departments, as the filled year of a town has them.
TOWN_CONFIG = {
    "town": CONFIG["town"],
    "departments": {**CONFIG["departments"], "school": {}, "doctor": {}, "police": {}},
}
OPEN311_DAYS = 1
REQUESTS_PER_RESIDENT = 3
CHUNK = 2_000
# For the statement column: "requests.state" -> "state", "%(state_1)s::VARCHAR" -> "?".
QUALIFIED = re.compile(r"\b\w+\.(?=\w)")
PARAMETER = re.compile(r"%\(\w+\)s(?:::\w+(?: WITH(?:OUT)? TIME ZONE)?)?")


# -- filling a store in SQL ---------------------------------------------------------------


Rows = dict[str, list[dict[str, Any]]]


async def template_rows(folder: Path) -> Rows:
    """The rows the pipeline writes for one lamp report, read back from a scratch store."""
    bridge = await make_bridge(config=CONFIG, workdir=folder, clock=ManualClock())
    try:
        handled = await bridge.receive(make_message("farola 1 apagada", user="fill1"))
        assert handled.request is not None and handled.replies, handled
        reference = handled.request.reference
    finally:
        await bridge.close()
    with sync_engine(f"sqlite:///{folder / 'junbridge.db'}") as engine, engine.connect() as db:

        def rows(table: SqlTable, *where: Any) -> list[dict[str, Any]]:
            return [dict(row._mapping) for row in db.execute(select(table).where(*where))]

        [request] = rows(requests, requests.c.reference == reference)
        return {
            "requests": [request],
            "residents": rows(residents, residents.c.id == request["resident_id"]),
            "identities": rows(identities, identities.c.resident_id == request["resident_id"]),
            "history": rows(history, history.c.request_id == request["id"]),
            "timers": rows(timers, timers.c.request_reference == reference),
            "inbound": rows(inbound, inbound.c.request_reference == reference),
            "outbox": rows(outbox, outbox.c.request_reference == reference),
        }


def filled_rows(template: Rows, first: int, last: int, *, closed_up_to: int = 0) -> Rows:
    """Rows of requests ``first``..``last`` (ids and JUN-references), made like the template.

    Those up to ``closed_up_to`` were closed by their assignee: a history line, no timers due.
    """
    [request] = template["requests"]
    was_ref, was_assignee = request["reference"], request["assignee"]
    out: Rows = {name: [] for name in TABLES}
    for k in range(first, last + 1):
        ref, assignee = f"JUN-{k:04d}", STAFF[k % len(STAFF)]
        resident_id = (k - 1) // REQUESTS_PER_RESIDENT + 1
        user = f"fill{resident_id}"

        def swap(value: Any, ref: str = ref, assignee: str = assignee) -> Any:
            if isinstance(value, str):
                return value.replace(was_ref, ref).replace(was_assignee, assignee)
            return value

        if (k - 1) % REQUESTS_PER_RESIDENT == 0:
            for row in template["residents"]:
                out["residents"].append({**row, "id": resident_id, "name": user.title()})
            for row in template["identities"]:
                out["identities"].append(
                    {**_no_id(row), "platform_user_id": user, "handle": user}
                    | {"resident_id": resident_id}
                )
        description = f"farola {k} apagada"
        closed = k <= closed_up_to
        out["requests"].append(
            {
                **request,
                "state": "closed" if closed else request["state"],
                "id": k,
                "reference": ref,
                "service_request_id": ref,
                "description": description,
                "address_id": f"lamp-{k}",
                "assignee": assignee,
                "resident_id": resident_id,
                "conversation": user,
                "recipient": user,
            }
        )
        for row in template["history"]:
            out["history"].append(
                {
                    **_no_id(row),
                    "request_id": k,
                    "by": f"telegram:@{user}",
                    "note": swap(row["note"]),
                }
            )
        if closed:
            last_line = template["history"][-1]
            out["history"].append(
                {
                    **_no_id(last_line),
                    "request_id": k,
                    "position": last_line["position"] + 1,
                    "by": assignee,
                    "action": "closed",
                    "state": "closed",
                    "note": None,
                    "channel": None,
                }
            )
        for row in template["timers"]:
            done = row["due_at"] if closed else row["done_at"]
            out["timers"].append({**_no_id(row), "request_reference": ref, "done_at": done})
        for row in template["inbound"]:
            message = dict(row["message"])
            sender = {**message["sender"], "id": user, "handle": user, "name": user.title()}
            message.update(
                platform_id=f"fill-{k}", conversation=user, sender=sender, text=description
            )
            out["inbound"].append(
                {
                    **_no_id(row),
                    "platform_id": f"fill-{k}",
                    "message": message,
                    "request_reference": ref,
                }
            )
        for number, row in enumerate(template["outbox"]):
            reply = {key: swap(value) for key, value in row["reply"].items()}
            reply.update(conversation=user, recipient=user)
            outbox_id = (k - 1) * len(template["outbox"]) + number + 1
            out["outbox"].append(
                {
                    **_no_id(row),
                    "id": outbox_id,
                    "request_reference": ref,
                    "reply": reply,
                    # Delivered long ago: the outbox worker has nothing left of them.
                    "status": "sent",
                    "attempts": 1,
                    "sent_at": row["created_at"],
                    "platform_ids": [str(k)],
                }
            )
            # What Store.mark_sent notes of a delivered reply: the request its id is about.
            out["threads"].append(
                {
                    "channel": row["channel"],
                    "conversation": user,
                    "thread": str(k),
                    "request_reference": ref,
                    "outbox_id": outbox_id,
                }
            )
    return out


def _no_id(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "id"}


# Parents first: requests and identities refer to residents, history to requests.
TABLES: dict[str, SqlTable] = {
    "residents": residents,
    "identities": identities,
    "requests": requests,
    "history": history,
    "timers": timers,
    "inbound": inbound,
    "outbox": outbox,
    "threads": threads,
}


def fill(url: str, size: int, template: Rows, *, open_count: int = -1) -> dict[str, int]:
    """Insert ``size`` requests and their rows, the newest ``open_count`` open (-1: all);
    the row count of each table afterwards."""
    closed_up_to = 0 if open_count < 0 else max(0, size - open_count)
    with sync_engine(url) as engine, engine.begin() as db:
        for first in range(1, size + 1, CHUNK):
            last = min(size, first + CHUNK - 1)
            rows = filled_rows(template, first, last, closed_up_to=closed_up_to)
            for name, table in TABLES.items():
                if rows[name]:
                    db.execute(table.insert(), rows[name])
        if engine.dialect.name == "postgresql":
            # Ids were given explicitly: move the sequences past them, as the pipeline would.
            for table in (residents, requests, outbox):
                db.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                    )
                )
    with sync_engine(url) as engine:
        if engine.dialect.name == "postgresql":
            # What autovacuum would soon do on a live server after this many new rows.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
                db.execute(text("ANALYZE"))
        with engine.connect() as db:
            counted = {name: count(db, table) for name, table in TABLES.items()}
            counted["open requests"] = int(
                db.execute(
                    select(func.count()).select_from(requests).where(requests.c.state != "closed")
                ).scalar_one()
            )
            return counted


def count(db: Connection, table: SqlTable) -> int:
    """SELECT COUNT(*) FROM ``table``."""
    return int(db.execute(select(func.count()).select_from(table)).scalar_one())


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Point:
    """One store size: its bridge, and what was measured on it."""

    size: int
    url: str
    bridge: Bridge
    clock: ManualClock
    counted: dict[str, int]
    fill_seconds: float
    sent: int = 0
    batches: list[float] = field(default_factory=list)
    tally: Tally | None = None
    pages: dict[str, list[float]] = field(default_factory=dict)

    async def send(self, count: int) -> float:
        """Seconds for ``count`` lamp reports, each from a new resident."""
        start = time.perf_counter()
        for _ in range(count):
            self.sent += 1
            self.clock.advance(1)
            handled = await self.bridge.receive(
                make_message(f"farola {self.sent} parpadea", user=f"m{self.sent}")
            )
            assert handled.request is not None and handled.replies, handled
        return time.perf_counter() - start


async def pages(point: Point, repeat: int) -> None:
    """The public page (its figures read from the store on every view) and Open311's GET
    requests of one service over the last OPEN311_DAYS days, over HTTP: seconds each, and
    how many requests Open311 answered with."""
    server = await serve(create_app(point.bridge, figures_seconds=0))
    settle()  # as junbridge run does once it serves: start-up objects out of the collector's way
    now = point.clock()
    start = (now - timedelta(days=OPEN311_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    paths = {
        "public page": "/?lang=es",
        "open311 requests": f"/open311/v2/requests.json?service_code=lighting"
        f"&start_date={start}&end_date={end}",
    }
    try:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=120) as client:
            for name, path in paths.items():
                times = point.pages.setdefault(name, [])
                for number in range(repeat + 1):
                    begun = time.perf_counter()
                    response = await client.get(path)
                    if number:  # the first warms the caches
                        times.append(time.perf_counter() - begun)
                    assert response.status_code == 200, (path, response.text[:300])
                if name.startswith("open311"):
                    point.counted["open311 answered"] = len(response.json())
    finally:
        await server.stop()


async def measure(
    dialect: str, sizes: Sequence[int], args: argparse.Namespace, console: Console
) -> list[Point]:
    """Fill a store per size, warm each up, time batches round the sizes, then profile."""
    from town_fill import fill_town  # imports bench_public_page, which imports this module

    now = ManualClock().now
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        (folder / "template").mkdir()
        template = await template_rows(folder / "template")
        points = []
        try:
            for size in sizes:
                url = stack.enter_context(fresh_store_url(dialect, folder, f"size{size}"))
                workdir = folder / f"size{size}"
                workdir.mkdir()
                clock = ManualClock()
                # The bridge first: opening the store creates its tables.
                bridge = await make_bridge(
                    config=TOWN_CONFIG if args.town else CONFIG,
                    store_url=url,
                    workdir=workdir,
                    clock=clock,
                )
                points.append(Point(size, url, bridge, clock, {}, 0.0))
                start = time.perf_counter()
                if args.town:
                    counted = await asyncio.to_thread(
                        fill_town, url, size, template, open_count=args.open, now=now
                    )
                else:
                    counted = await asyncio.to_thread(
                        fill, url, size, template, open_count=args.open
                    )
                points[-1].counted, points[-1].fill_seconds = counted, time.perf_counter() - start
                assert counted["requests"] == size, f"filled {counted['requests']}, not {size}"
                console.print(
                    f"{dialect} {size:>7,}: filled in {points[-1].fill_seconds:.1f} s; SELECT "
                    "COUNT: " + ", ".join(f"{n:,} {name}" for name, n in counted.items())
                )
            for point in points:
                await point.send(args.warmup)
            for number in range(args.rounds):
                # Smallest first, then largest first: what comes first gains or loses alike.
                for point in points if number % 2 == 0 else reversed(points):
                    point.batches.append(await point.send(args.batch) / args.batch)
            for point in points:
                with tallying() as point.tally:
                    await point.send(args.profiled)
            if args.town:
                for point in points:
                    await pages(point, args.repeat)
                    console.print(f"{dialect} {point.size:>9,}: pages timed")
        finally:
            for point in points:
                await point.bridge.close()
        for point in points:
            expected = point.size + args.warmup + args.rounds * args.batch + args.profiled
            with sync_engine(point.url) as engine, engine.connect() as db:
                made = count(db, requests)
                stopped = db.execute(
                    select(func.count()).select_from(inbound).where(inbound.c.error.is_not(None))
                ).scalar_one()
            assert (made, stopped) == (expected, 0), (
                f"{dialect} {point.size}: {made} requests and {stopped} messages stopped, "
                f"wanted {expected} and 0"
            )
        return points


# -- reporting ----------------------------------------------------------------------------


def curve(dialect: str, points: Sequence[Point], args: argparse.Namespace) -> Table:
    """Per-message cost at each size and its ratio to the smallest, median over rounds."""
    table = Table(
        title=f"{dialect}: ms per lamp report, batches of {args.batch} after {args.warmup} "
        f"untimed; median of {args.rounds} rounds (range of ratios)"
    )
    for column in (
        "filled (COUNT)",
        "at first batch",
        "ms / message",
        f"ratio to {points[0].size:,}",
        "",
    ):
        table.add_column(column, justify="right")
    base = points[0]
    for point in points:
        ratios = [mine / theirs for mine, theirs in zip(point.batches, base.batches, strict=True)]
        ratio = statistics.median(ratios)
        table.add_row(
            f"{point.counted['requests']:,}",
            f"{point.size + args.warmup:,}",
            f"{statistics.median(point.batches) * 1000:.2f}",
            f"{ratio:.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
            "█" * max(1, round(5 * ratio)),
        )
    return table


def growing(dialect: str, points: Sequence[Point], args: argparse.Namespace) -> Table:
    """The statements that add most time per report from the smallest store to the largest."""
    tallies = [point.tally for point in points]
    assert all(tallies)
    small, large = tallies[0], tallies[-1]
    assert small is not None and large is not None
    table = Table(
        title=f"{dialect}: statements that grow most, µs per call ({args.profiled} reports per "
        f"size, untimed pass), and µs per report they add from {points[0].size:,} to "
        f"{points[-1].size:,}"
    )
    table.add_column("statement", justify="left", max_width=46)
    table.add_column("calls / report", justify="right")
    for point in points:
        table.add_column(f"{point.size:,}", justify="right")
    table.add_column("µs / report added", justify="right")

    def per_report(tally: Tally | None, statement: str) -> float:
        assert tally is not None
        return tally.seconds.get(statement, 0.0) * 1e6 / int(args.profiled)

    def per_call(tally: Tally | None, statement: str) -> str:
        assert tally is not None
        calls = tally.statements.get(statement, 0)
        return f"{tally.seconds[statement] / calls * 1e6:,.0f}" if calls else "-"

    def added(statement: str) -> float:
        return per_report(large, statement) - per_report(small, statement)

    for statement in sorted(large.statements, key=added, reverse=True)[: args.top]:
        table.add_row(
            short(statement),
            f"{large.statements[statement] / args.profiled:g}",
            *(per_call(tally, statement) for tally in tallies),
            f"{added(statement):+,.0f}",
        )
    totals = [sum(t.seconds.values()) * 1e6 / args.profiled for t in tallies if t is not None]
    table.add_row(
        "all statements, µs per report (no COMMIT)",
        "",
        *(f"{us:,.0f}" for us in totals),
        f"{totals[-1] - totals[0]:+,.0f}",
    )
    return table


def page_table(dialect: str, points: Sequence[Point]) -> Table:
    """p50/p95 ms of each page at each size."""
    table = Table(title=f"{dialect}: ms per page over HTTP (figures read on every view)")
    table.add_column("page")
    for point in points:
        table.add_column(f"{point.size:,} p50", justify="right")
        table.add_column("p95", justify="right")
    for name in points[0].pages:
        cells = []
        for point in points:
            times = point.pages[name]
            cells += [
                f"{percentile(times, 0.5) * 1000:.1f}",
                f"{percentile(times, 0.95) * 1000:.1f}",
            ]
        table.add_row(name, *cells)
    return table


def point_figures(point: Point, base: Point) -> dict[str, Any]:
    """One size's figures for the runner."""
    ratios = [mine / theirs for mine, theirs in zip(point.batches, base.batches, strict=True)]
    out: dict[str, Any] = {
        "size": point.size,
        "counted": point.counted,
        "fill_seconds": point.fill_seconds,
        "ingest_ms": statistics.median(point.batches) * 1000,
        "ingest_ratio": statistics.median(ratios),
        "ingest_ratios": ratios,
        "pages": {
            name: {
                "p50_ms": percentile(times, 0.5) * 1000,
                "p95_ms": percentile(times, 0.95) * 1000,
                "max_ms": max(times) * 1000,
            }
            for name, times in point.pages.items()
        },
    }
    return out


def short(statement: str) -> str:
    """``SELECT requests … WHERE state = ?``: enough of a statement to recognise it."""
    where = statement.find(" WHERE ")
    if where < 0:
        return label(statement)
    tail = PARAMETER.sub("?", QUALIFIED.sub("", statement[where:]))
    return f"{label(statement)} …{tail[:150]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1_000, 10_000, 100_000])
    parser.add_argument(
        "--open", type=int, default=500, help="stored requests still open, the newest (-1: all)"
    )
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20, help="untimed reports per store")
    parser.add_argument("--profiled", type=int, default=20, help="reports timed per statement")
    parser.add_argument("--top", type=int, default=4, help="growing statements to list")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--town",
        action="store_true",
        help="fill a year of a town in SQL (town_fill.py) and time the public page and Open311",
    )
    parser.add_argument("--repeat", type=int, default=40, help="fetches of each page (--town)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    data: dict[str, Any] = {"sizes": sizes, "dialects": {}}
    console = Console(width=120)
    dialects = DIALECTS[:1] if args.no_postgres else DIALECTS
    for dialect in dialects:
        points = asyncio.run(measure(dialect, sizes, args, console))
        console.print(curve(dialect, points, args))
        console.print(growing(dialect, points, args))
        if args.town:
            console.print(page_table(dialect, points))
        data["dialects"][dialect] = [point_figures(point, points[0]) for point in points]
    backlog = "all open (assigned)" if args.open < 0 else f"closed but the newest {args.open:,}"
    console.print(
        f"Stored requests are {backlog}, {REQUESTS_PER_RESIDENT} per resident. Two "
        f"electricians ({' and '.join(STAFF)}) are on duty, so every report runs the "
        "least-loaded assignment (open requests per assignee). The "
        "stores were checked afterwards to hold one request per report and none stopped. "
        "PostgreSQL tables are ANALYZEd after filling (autovacuum would); SQLite's are not "
        "(junbridge never runs ANALYZE)."
    )
    console.print("command: " + command_line())
    write(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
