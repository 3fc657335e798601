"""What one resident's message costs the bridge, against two floors measured in the same run.

The input is the same for all three: Telegram text updates built from the captured fixture
tests/fixtures/telegram/text_message.ptb22.json, each from a different resident (so no
message meets ``town.limits``), reporting a dead lamp by its number.

- ptb floor: a bare python-telegram-bot ``Application`` whose one MessageHandler only builds
  a reply text, fed ``Update.de_json(data, bot)`` through ``process_update``. Its Bot API
  transport answers getMe in-process and refuses anything else: no network.
- store bare insert: ``Store.accept`` of the parsed message (one INSERT, one transaction):
  the least a bridge that keeps what residents send must do per message.
- pipeline: ``parse_update`` then ``Bridge.receive`` (dedupe, resident, limits, route,
  lighting plugin, request, history, timers, staff card, reply, all committed), one
  message after another.
- arriving together: the same messages submitted at once, as webhooks under load arrive
  (``Bridge.submit``: stored, answered, handled by the worker in batches: group commit).

Each store is fresh and warmed up before timing. The Jun test town's clock starts on a
Wednesday at 10:00 and moves a second per message, so the electrician is on duty and every
report is assigned, whatever the time of the run. After the
run the store is checked with SELECT COUNT: every message became a request with a reply.
SQL statements and transactions per message are counted afterwards, untimed, for a lamp
report and for a staff ``resolve`` command. Machines here are shared and noisy: compare the
ratios, not the microseconds.

    .venv/bin/python bench/bench_pipeline.py [--messages 300] [--rounds 3] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import telegram
from rich.console import Console
from rich.table import Table
from sql_tally import Tally, tallying
from sqlalchemy import Select, distinct, func, select, text
from stores import DIALECTS, command_line, fresh_store_url, sync_engine
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

from junbridge.channels.telegram_parse import parse_update
from junbridge.model import Message
from junbridge.store import Store
from junbridge.store.schema import inbound, outbox, requests
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import WEDNESDAY_10, ManualClock

ROOT = Path(__file__).parent.parent
CONFIG = ROOT / "tests" / "data" / "jun.yaml"
FIXTURE = ROOT / "tests" / "fixtures" / "telegram" / "text_message.ptb22.json"
TEXTS = ("La farola {n} de la calle Real no funciona", "farola {n} parpadea")
# Staff of lighting in the Jun test town (tests/data/jun.yaml): who resolves, and where.
ELECTRICIAN, STAFF_PLACE = "U0ELECTRIC", "C0LIGHTSTAFF"


def telegram_updates(first: int, count: int) -> list[dict[str, Any]]:
    """The fixture's update, varied: update and message ids, text, sender (and chat), date."""
    captured = json.loads(FIXTURE.read_text())
    updates = []
    for n in range(first, first + count):
        data = copy.deepcopy(captured)
        data["update_id"] = captured["update_id"] + n
        message = data["message"]
        message["message_id"] = n
        message["text"] = TEXTS[n % 2].format(n=n)
        message["date"] = int((WEDNESDAY_10 + timedelta(seconds=n)).timestamp())
        # One resident per message: a private chat's id is its user's id.
        message["from"]["id"] = message["chat"]["id"] = 5_000_000 + n
        message["from"]["username"] = message["chat"]["username"] = f"vecino{n}"
        updates.append(data)
    return updates


class InProcessBotApi(BaseRequest):
    """The ptb floor's Bot API: getMe answered here, any other call refused. No network."""

    ME = {"id": 123, "is_bot": True, "first_name": "Jun", "username": "jun_bench_bot"}

    def __init__(self) -> None:
        self.calls: list[str] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls.append(endpoint)
        if endpoint != "getMe":
            raise RuntimeError(f"the ptb floor must not call the Bot API ({endpoint})")
        return 200, json.dumps({"ok": True, "result": self.ME}).encode()


async def ptb_floor(updates: Sequence[dict[str, Any]], warmup: int) -> tuple[float, list[str]]:
    """Seconds for ``updates[warmup:]`` through a bare Application; the Bot API calls made."""
    apis = InProcessBotApi(), InProcessBotApi()
    application = (
        Application.builder()
        .token("123:bench")
        .request(apis[0])
        .get_updates_request(apis[1])
        .updater(None)
        .build()
    )
    replies: list[str] = []

    async def reply(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_message is not None
        replies.append(
            f"Gracias, {update.effective_user.first_name}. Hemos recibido tu aviso: "
            f"«{update.effective_message.text}»"
        )

    application.add_handler(MessageHandler(filters.TEXT, reply))
    await application.initialize()
    try:
        for data in updates[:warmup]:
            await application.process_update(Update.de_json(data, application.bot))
        start = time.perf_counter()
        for data in updates[warmup:]:
            await application.process_update(Update.de_json(data, application.bot))
        elapsed = time.perf_counter() - start
    finally:
        await application.shutdown()
    assert len(replies) == len(updates), f"ptb handled {len(replies)} of {len(updates)}"
    return elapsed, apis[0].calls + apis[1].calls


async def bare_insert(
    url: str, messages: Sequence[Message], warmup: int, counted: Sequence[Message]
) -> tuple[float, list[Tally]]:
    """Seconds to ``Store.accept`` ``messages[warmup:]`` into a fresh store; SQL of ``counted``.

    The counted inserts check the counting itself: one INSERT, one BEGIN, one COMMIT.
    """
    store = await Store.open(url)
    try:
        for message in messages[:warmup]:
            await store.accept(message)
        start = time.perf_counter()
        for message in messages[warmup:]:
            await store.accept(message)
        elapsed = time.perf_counter() - start
        tallies = []
        for message in counted:
            with tallying() as tally:
                await store.accept(message)
            tallies.append(tally)
        return elapsed, tallies
    finally:
        await store.close()


@dataclass
class PipelineRun:
    """The pipeline's timings in one round, and, in the first, its SQL per message."""

    seconds: float
    latencies: list[float]
    sql: dict[str, list[Tally]] = field(default_factory=dict)


async def pipeline(
    url: str, updates: Sequence[dict[str, Any]], warmup: int, workdir: Path, counted: int
) -> PipelineRun:
    """Time ``updates[warmup:]`` through the bridge; then count SQL of ``counted`` more."""
    clock = ManualClock()
    bridge = await make_bridge(config=CONFIG, store_url=url, workdir=workdir, clock=clock)
    latencies = []
    try:
        for data in updates[:warmup]:
            clock.now = WEDNESDAY_10 + timedelta(seconds=data["message"]["message_id"])
            await bridge.receive(parse_update(data))
        start = time.perf_counter()
        for data in updates[warmup:]:
            clock.now = WEDNESDAY_10 + timedelta(seconds=data["message"]["message_id"])
            begun = time.perf_counter()
            await bridge.receive(parse_update(data))
            latencies.append(time.perf_counter() - begun)
        run = PipelineRun(seconds=time.perf_counter() - start, latencies=latencies)
        if counted:
            run.sql = await count_sql(bridge, clock, len(updates), counted)
    finally:
        await bridge.close()
    return run


async def pipeline_burst(
    url: str, updates: Sequence[dict[str, Any]], warmup: int, workdir: Path
) -> float:
    """Seconds for ``updates[warmup:]`` arriving together, as webhooks under load do.

    Each is submitted the way a channel does (``Bridge.submit``: stored, then queued), all
    at once; the clock stops when the worker has handled the last one. This is where group
    commit (shared accepts, batched effects) applies.
    """
    clock = ManualClock()
    bridge = await make_bridge(config=CONFIG, store_url=url, workdir=workdir, clock=clock)
    try:
        for data in updates[:warmup]:
            clock.now = WEDNESDAY_10 + timedelta(seconds=data["message"]["message_id"])
            await bridge.receive(parse_update(data))
        clock.now = WEDNESDAY_10 + timedelta(hours=1)
        start = time.perf_counter()
        await asyncio.gather(*(bridge.submit(parse_update(data)) for data in updates[warmup:]))
        await bridge.drain()
        return time.perf_counter() - start
    finally:
        await bridge.close()


async def count_sql(
    bridge: Any, clock: ManualClock, first: int, counted: int
) -> dict[str, list[Tally]]:
    """One tally per message: ``counted`` new lamp reports, then staff resolving each."""
    tallies: dict[str, list[Tally]] = {"lamp report": [], "staff resolve": []}
    references = []
    for data in telegram_updates(first, counted):
        clock.now = WEDNESDAY_10 + timedelta(seconds=data["message"]["message_id"])
        with tallying() as tally:
            handled = await bridge.receive(parse_update(data))
        tallies["lamp report"].append(tally)
        references.append(handled.request.reference)
    for reference in references:
        command = make_message(
            f"resolve {reference} bombilla nueva",
            channel="slack",
            user="electricista",
            user_id=ELECTRICIAN,
            conversation=STAFF_PLACE,
            private=False,
            sent_at=clock.now,
        )
        with tallying() as tally:
            handled = await bridge.receive(command)
        assert handled.request is not None and handled.request.state.value == "resolved", handled
        tallies["staff resolve"].append(tally)
    return tallies


def check_store(url: str, reports: int, resolved: int) -> str:
    """Assert that every lamp report became a request with a reply; say what was counted."""
    with sync_engine(url) as engine, engine.connect() as connection:

        def count(query: Select[Any]) -> int:
            return int(connection.execute(query).scalar_one())

        made = count(select(func.count()).select_from(requests))
        handled = count(
            select(func.count())
            .select_from(inbound)
            .where(
                inbound.c.channel == "telegram",
                inbound.c.status == "done",
                inbound.c.error.is_(None),
                inbound.c.request_reference.is_not(None),
            )
        )
        answered = count(
            select(func.count(distinct(outbox.c.request_reference))).where(
                outbox.c.channel == "telegram"
            )
        )
        stopped = count(
            select(func.count()).select_from(inbound).where(inbound.c.error.is_not(None))
        )
        closed = count(
            select(func.count()).select_from(requests).where(requests.c.state == "resolved")
        )
        journal = ""
        if engine.dialect.name == "sqlite":
            journal = f", journal_mode={connection.execute(text('PRAGMA journal_mode')).scalar()}"
    found = (made, handled, answered, stopped, closed)
    wanted = (reports, reports, reports, 0, resolved)
    assert found == wanted, (
        f"requests, handled reports, requests answered on Telegram, messages stopped "
        f"(limits, errors), resolved: {found}, wanted {wanted}"
    )
    return (
        f"checked: {made} requests from {made} reports, {answered} answered, 0 stopped, "
        f"{closed} resolved{journal}"
    )


@dataclass
class Round:
    """Seconds per message for each of the three, in one round."""

    ptb: float
    insert: float
    pipeline: float
    burst: float


async def measure(
    dialect: str, n: int, rounds: int, warmup: int, counted: int, console: Console
) -> tuple[list[Round], list[float], dict[str, list[Tally]]]:
    """``rounds`` rounds of ptb floor, bare insert and pipeline, each on fresh stores."""
    updates = telegram_updates(0, warmup + n)
    results: list[Round] = []
    latencies: list[float] = []
    sql: dict[str, list[Tally]] = {}
    for number in range(rounds):
        ptb_seconds, calls = await ptb_floor(copy.deepcopy(updates), warmup)
        assert calls == ["getMe"], f"the ptb floor called the Bot API: {calls}"
        messages = [parse_update(data) for data in copy.deepcopy(updates)]
        extra = counted if number == 0 else 0
        counted_inserts = [parse_update(data) for data in telegram_updates(len(updates), extra)]
        with tempfile.TemporaryDirectory() as tmp:
            with fresh_store_url(dialect, Path(tmp), f"insert{number}") as url:
                insert_seconds, inserts = await bare_insert(url, messages, warmup, counted_inserts)
            with fresh_store_url(dialect, Path(tmp), f"pipeline{number}") as url:
                run = await pipeline(url, copy.deepcopy(updates), warmup, Path(tmp), extra)
                checked = check_store(url, warmup + n + extra, extra)
            with fresh_store_url(dialect, Path(tmp), f"burst{number}") as url:
                burst_seconds = await pipeline_burst(url, copy.deepcopy(updates), warmup, Path(tmp))
                check_store(url, warmup + n, 0)
        sql = sql or {"store bare insert": inserts, **run.sql}
        latencies += run.latencies
        results.append(
            Round(ptb_seconds / n, insert_seconds / n, run.seconds / n, burst_seconds / n)
        )
        console.print(
            f"{dialect} round {number + 1}/{rounds}: pipeline "
            f"{results[-1].pipeline * 1e6:,.0f} µs/message, arriving together "
            f"{results[-1].burst * 1e6:,.0f} µs/message; {checked}"
        )
    return results, latencies, sql


def percentile(samples: Sequence[float], share: float) -> float:
    """The sample below which ``share`` of them lie (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(values: Sequence[float], digits: int) -> str:
    """The median over rounds, and their range."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def cost_cells(results: Sequence[Round], latencies: Sequence[float]) -> dict[str, str]:
    """One dialect's column of the cost table."""
    per_message = {key: [getattr(r, key) * 1e6 for r in results] for key in vars(results[0])}
    return {
        "ptb floor (bare Application)": spread(per_message["ptb"], 0),
        "store bare insert (Store.accept)": spread(per_message["insert"], 0),
        "junbridge pipeline (parse + receive)": spread(per_message["pipeline"], 0),
        "junbridge, arriving together (parse + submit)": spread(per_message["burst"], 0),
        "ratio pipeline / ptb floor": spread([r.pipeline / r.ptb for r in results], 1),
        "ratio pipeline / bare insert": spread([r.pipeline / r.insert for r in results], 1),
        "ratio arriving together / ptb floor": spread([r.burst / r.ptb for r in results], 1),
        "pipeline latency p50": f"{percentile(latencies, 0.50) * 1e6:,.0f}",
        "pipeline latency p99": f"{percentile(latencies, 0.99) * 1e6:,.0f}",
    }


def sql_cells(tallies: Sequence[Tally]) -> tuple[list[str], str]:
    """Mean counts per message, and which statements (verb and table) they are."""
    pools = set().union(*(t.pools for t in tallies))
    # The store's two engines (whole hot-path transactions in a thread, the rest awaited).
    assert len(pools) <= 2, f"counted {len(pools)} connection pools, not the bridge's alone"
    keys = ("statement_count", "begins", "commits", "rollbacks", "checkouts")
    means = [f"{statistics.mean(getattr(t, key) for t in tallies):g}" for key in keys]
    labels: Counter[str] = Counter()
    for tally in tallies:
        labels.update(tally.by_label())
    which = ", ".join(f"{name} ×{n / len(tallies):g}" for name, n in sorted(labels.items()))
    return means, which


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=30, help="untimed messages first")
    parser.add_argument("--counted", type=int, default=20, help="messages whose SQL is counted")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    console = Console(width=110)
    dialects = DIALECTS[:1] if args.no_postgres else DIALECTS
    columns: dict[str, dict[str, str]] = {}
    sql_rows: list[list[str]] = []
    statements: list[str] = []
    for dialect in dialects:
        results, latencies, sql = asyncio.run(
            measure(dialect, args.messages, args.rounds, args.warmup, args.counted, console)
        )
        columns[dialect] = cost_cells(results, latencies)
        for kind, tallies in sql.items():
            means, which = sql_cells(tallies)
            sql_rows.append([kind, dialect, *means])
            statements.append(f"{kind}, {dialect}: {which}")
    costs = Table(
        title=f"µs per message, {args.messages} Telegram text updates after {args.warmup} "
        f"untimed: median of {args.rounds} rounds (range)"
    )
    for column in ("", *dialects):
        costs.add_column(column, justify="right")
    for name in columns[dialects[0]]:
        costs.add_row(name, *(columns[d][name] for d in dialects))
    counts = Table(title=f"SQL per message: mean of {args.counted} of each, counted untimed")
    for column in ("message", "store", "statements", "BEGIN", "COMMIT", "ROLLBACK", "checkouts"):
        counts.add_column(column, justify="right")
    for row in sql_rows:
        counts.add_row(*row)
    console.print(costs)
    console.print(counts)
    for line in statements:
        console.print(line)
    console.print(
        f"python-telegram-bot {telegram.__version__}; the ptb floor made no network call "
        "(getMe answered in-process). Each report came from its own resident, so none met "
        "town.limits; each store was checked to hold one request and one reply per report."
    )
    console.print("command: " + command_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
