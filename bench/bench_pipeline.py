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

Each store is fresh and warmed up before timing; then what start-up made is moved out of
the garbage collector's way, as ``junbridge run`` does (``junbridge.runner.settle``). The
Jun test town's clock starts on a Wednesday at 10:00 and moves a second per message, so the
electrician is on duty and every report is assigned, whatever the time of the run. After the
run the store is checked with SELECT COUNT: every message became a request with a reply.
SQL statements and transactions per message are counted afterwards, untimed, for a lamp
report and for a staff ``resolve`` command, one at a time, and per message for 64 reports
arriving together (group commit). Machines here are shared and noisy: compare the
ratios, not the microseconds.

    .venv/bin/python bench/bench_pipeline.py [--messages 300] [--rounds 3] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import json
import os
import statistics
import subprocess
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
from payloads import Delivery, morning
from ptb_api import InProcessBotApi
from results import percentile, top_functions, write
from rich.console import Console
from rich.table import Table
from sql_tally import Tally, tallying
from sqlalchemy import Select, distinct, func, select, text
from stores import DIALECTS, command_line, fresh_store_url, sync_engine
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from junbridge.channels.telegram_parse import parse_update
from junbridge.model import Message
from junbridge.runner import settle
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
# Lamp reports whose SQL is counted arriving together: two full batches (inbound.MAX_BATCH).
TOGETHER = 64


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


async def ptb_floor(
    updates: Sequence[dict[str, Any]], warmup: int
) -> tuple[float, float, list[str]]:
    """Wall and CPU seconds for ``updates[warmup:]`` through a bare Application; the Bot
    API calls made."""
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
        settle()  # as for junbridge below: the same process, the same collector
        start, cpu = time.perf_counter(), time.process_time()
        for data in updates[warmup:]:
            await application.process_update(Update.de_json(data, application.bot))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await application.shutdown()
    assert len(replies) == len(updates), f"ptb handled {len(replies)} of {len(updates)}"
    return elapsed, cpu, apis[0].calls + apis[1].calls


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
        settle()  # as junbridge run does once started
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
        settle()  # as junbridge run does once started
        start = time.perf_counter()
        await asyncio.gather(*(bridge.submit(parse_update(data)) for data in updates[warmup:]))
        await bridge.drain()
        return time.perf_counter() - start
    finally:
        await bridge.close()


@dataclass
class Mixed:
    """A town's morning on the three platforms: wall and CPU seconds, latencies."""

    seconds: float
    cpu: float
    latencies: list[float]


async def mixed(
    url: str, deliveries: Sequence[Delivery], warmup: int, workdir: Path, *, together: bool
) -> Mixed:
    """``deliveries[warmup:]`` parsed and handled one after another (``receive``), or all
    submitted at once (``submit``, then the worker's batches: group commit)."""
    clock = ManualClock()
    bridge = await make_bridge(config=CONFIG, store_url=url, workdir=workdir, clock=clock)
    latencies: list[float] = []
    try:
        for n, delivery in enumerate(deliveries[:warmup]):
            clock.now = WEDNESDAY_10 + timedelta(seconds=n)
            await bridge.receive(delivery.parse())
        clock.now = WEDNESDAY_10 + timedelta(seconds=warmup)
        settle()  # as junbridge run does once started
        start, cpu = time.perf_counter(), time.process_time()
        if together:
            await asyncio.gather(*(bridge.submit(d.parse()) for d in deliveries[warmup:]))
            await bridge.drain()
        else:
            for n, delivery in enumerate(deliveries[warmup:], start=warmup):
                clock.now = WEDNESDAY_10 + timedelta(seconds=n)
                begun = time.perf_counter()
                await bridge.receive(delivery.parse())
                latencies.append(time.perf_counter() - begun)
        return Mixed(time.perf_counter() - start, time.process_time() - cpu, latencies)
    finally:
        await bridge.close()


def check_mixed(url: str, deliveries: Sequence[Delivery]) -> str:
    """Assert that every distinct message was stored once and handled without error."""
    distinct = len({(d.platform, d.platform_id) for d in deliveries})
    with sync_engine(url) as engine, engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(inbound)).scalar_one()
        done = connection.execute(
            select(func.count())
            .select_from(inbound)
            .where(inbound.c.status == "done", inbound.c.error.is_(None))
        ).scalar_one()
        made = connection.execute(select(func.count()).select_from(requests)).scalar_one()
        replies = connection.execute(select(func.count()).select_from(outbox)).scalar_one()
    assert (stored, done) == (distinct, distinct), (stored, done, distinct)
    return f"{distinct} distinct messages of {len(deliveries)}: {made} requests, {replies} replies"


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
    # Under load: reports submitted at once, as webhooks arriving together are (group commit:
    # shared accepts, one read and one commit per batch). Counted per message.
    clock.now += timedelta(minutes=5)
    with tallying() as tally:
        together = telegram_updates(first + counted, TOGETHER)
        await asyncio.gather(*(bridge.submit(parse_update(data)) for data in together))
        await bridge.drain()
    tallies[f"lamp report, {TOGETHER} arriving together"] = [per_message(tally, TOGETHER)]
    return tallies


def per_message(tally: Tally, messages: int) -> Tally:
    """One message's share of a tally of ``messages`` handled together."""
    share = Tally(
        statements=Counter({k: v / messages for k, v in tally.statements.items()}),
        pools=tally.pools,
    )
    for name in ("begin_statements", "begins", "commits", "rollbacks", "checkouts"):
        setattr(share, name, getattr(tally, name) / messages)
    return share


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
    """Seconds per message for each, in one round (``*_cpu``: CPU seconds per message)."""

    ptb: float
    insert: float
    pipeline: float
    burst: float
    mixed: float
    mixed_burst: float
    ptb_cpu: float
    mixed_cpu: float
    mixed_burst_cpu: float


async def measure(
    dialect: str, n: int, rounds: int, warmup: int, counted: int, console: Console
) -> tuple[list[Round], list[float], list[float], dict[str, list[Tally]], str]:
    """``rounds`` rounds of ptb floor, bare insert and pipeline, each on fresh stores."""
    updates = telegram_updates(0, warmup + n)
    deliveries = morning(0, warmup + n, WEDNESDAY_10)
    results: list[Round] = []
    latencies: list[float] = []
    mixed_latencies: list[float] = []
    sql: dict[str, list[Tally]] = {}
    morning_checked = ""
    for number in range(rounds):
        ptb_seconds, ptb_cpu, calls = await ptb_floor(copy.deepcopy(updates), warmup)
        assert calls == ["getMe"], f"the ptb floor called the Bot API: {calls}"
        messages = [parse_update(data) for data in copy.deepcopy(updates)]
        extra = counted if number == 0 else 0
        counted_inserts = [parse_update(data) for data in telegram_updates(len(updates), extra)]
        with tempfile.TemporaryDirectory() as tmp:
            with fresh_store_url(dialect, Path(tmp), f"insert{number}") as url:
                insert_seconds, inserts = await bare_insert(url, messages, warmup, counted_inserts)
            with fresh_store_url(dialect, Path(tmp), f"pipeline{number}") as url:
                run = await pipeline(url, copy.deepcopy(updates), warmup, Path(tmp), extra)
                # The counted reports, and (if counted) those arriving together.
                together = TOGETHER if extra else 0
                checked = check_store(url, warmup + n + extra + together, extra)
            with fresh_store_url(dialect, Path(tmp), f"burst{number}") as url:
                burst_seconds = await pipeline_burst(url, copy.deepcopy(updates), warmup, Path(tmp))
                check_store(url, warmup + n, 0)
            with fresh_store_url(dialect, Path(tmp), f"mixed{number}") as url:
                serial = await mixed(url, deliveries, warmup, Path(tmp), together=False)
                morning_checked = check_mixed(url, deliveries)
            with fresh_store_url(dialect, Path(tmp), f"mixedburst{number}") as url:
                together = await mixed(url, deliveries, warmup, Path(tmp), together=True)
                check_mixed(url, deliveries)
        sql = sql or {"store bare insert": inserts, **run.sql}
        latencies += run.latencies
        mixed_latencies += serial.latencies
        results.append(
            Round(
                ptb_seconds / n,
                insert_seconds / n,
                run.seconds / n,
                burst_seconds / n,
                serial.seconds / n,
                together.seconds / n,
                ptb_cpu / n,
                serial.cpu / n,
                together.cpu / n,
            )
        )
        console.print(
            f"{dialect} round {number + 1}/{rounds}: pipeline "
            f"{results[-1].pipeline * 1e6:,.0f} µs/message, arriving together "
            f"{results[-1].burst * 1e6:,.0f} µs/message, town's morning "
            f"{results[-1].mixed * 1e6:,.0f} µs/message; {checked}"
        )
    return results, latencies, mixed_latencies, sql, morning_checked


def spread(values: Sequence[float], digits: int) -> str:
    """The median over rounds, and their range."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def cost_cells(
    results: Sequence[Round], latencies: Sequence[float], mixed_latencies: Sequence[float]
) -> dict[str, str]:
    """One dialect's column of the cost table."""
    per_message = {key: [getattr(r, key) * 1e6 for r in results] for key in vars(results[0])}
    return {
        "ptb floor (bare Application)": spread(per_message["ptb"], 0),
        "store bare insert (Store.accept)": spread(per_message["insert"], 0),
        "junbridge pipeline (parse + receive)": spread(per_message["pipeline"], 0),
        "junbridge, arriving together (parse + submit)": spread(per_message["burst"], 0),
        "town's morning, 3 platforms (parse + receive)": spread(per_message["mixed"], 0),
        "town's morning, arriving together": spread(per_message["mixed_burst"], 0),
        "CPU: ptb floor": spread(per_message["ptb_cpu"], 0),
        "CPU: town's morning": spread(per_message["mixed_cpu"], 0),
        "CPU: town's morning, arriving together": spread(per_message["mixed_burst_cpu"], 0),
        "ratio pipeline / ptb floor": spread([r.pipeline / r.ptb for r in results], 1),
        "ratio pipeline / bare insert": spread([r.pipeline / r.insert for r in results], 1),
        "ratio arriving together / ptb floor": spread([r.burst / r.ptb for r in results], 1),
        "ratio town's morning / ptb floor": spread([r.mixed / r.ptb for r in results], 1),
        "ratio morning together / ptb floor": spread([r.mixed_burst / r.ptb for r in results], 1),
        "pipeline latency p50": f"{percentile(latencies, 0.50) * 1e6:,.0f}",
        "pipeline latency p99": f"{percentile(latencies, 0.99) * 1e6:,.0f}",
        "town's morning latency p50": f"{percentile(mixed_latencies, 0.50) * 1e6:,.0f}",
        "town's morning latency p99": f"{percentile(mixed_latencies, 0.99) * 1e6:,.0f}",
    }


def figures(
    results: Sequence[Round], latencies: Sequence[float], mixed_latencies: Sequence[float]
) -> dict[str, Any]:
    """One dialect's figures for the runner: medians over rounds, in µs per message."""
    out: dict[str, Any] = {
        key: statistics.median(getattr(r, key) for r in results) * 1e6 for key in vars(results[0])
    }
    out["rounds"] = [{k: v * 1e6 for k, v in vars(r).items()} for r in results]
    for name, samples in (("pipeline", latencies), ("mixed", mixed_latencies)):
        out[f"{name}_p50"] = percentile(samples, 0.50) * 1e6
        out[f"{name}_p99"] = percentile(samples, 0.99) * 1e6
    return out


ERRBOT_PYTHON = ROOT / ".venv-errbot" / "bin" / "python"


def errbot_anchor(messages: int, warmup: int, console: Console) -> dict[str, Any]:
    """Errbot's test backend with one command, in its own virtualenv and process."""
    if not ERRBOT_PYTHON.exists():
        return {"error": f"{ERRBOT_PYTHON.relative_to(ROOT)} is missing (see docs/benchmarks.md)"}
    done = subprocess.run(
        [str(ERRBOT_PYTHON), str(ROOT / "bench" / "errbot" / "anchor.py"),
         "--messages", str(messages), "--warmup", str(warmup)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    console.print(
        f"Errbot {found['errbot']}: {found['serial_per_second']:,.0f} messages/s one at a time, "
        f"{found['together_per_second']:,.0f} arriving together"
    )
    return found


async def profiled(n: int, warmup: int) -> dict[str, Any]:
    """cProfile of the town's morning through the pipeline on SQLite, one at a time."""
    deliveries = morning(0, warmup + n, WEDNESDAY_10)
    profiler = cProfile.Profile()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_store_url("sqlite", Path(tmp), "profile") as url,
    ):
        clock = ManualClock()
        bridge = await make_bridge(config=CONFIG, store_url=url, workdir=tmp, clock=clock)
        try:
            for k, delivery in enumerate(deliveries[:warmup]):
                clock.now = WEDNESDAY_10 + timedelta(seconds=k)
                await bridge.receive(delivery.parse())
            profiler.enable()
            for k, delivery in enumerate(deliveries[warmup:], start=warmup):
                clock.now = WEDNESDAY_10 + timedelta(seconds=k)
                await bridge.receive(delivery.parse())
            profiler.disable()
        finally:
            await bridge.close()
    return top_functions(profiler)


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
    parser.add_argument("--no-errbot", action="store_true", help="skip the Errbot anchor")
    parser.add_argument("--profile", action="store_true", help="profile the pipeline too")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    console = Console(width=110)
    dialects = DIALECTS[:1] if args.no_postgres else DIALECTS
    columns: dict[str, dict[str, str]] = {}
    data: dict[str, Any] = {"messages": args.messages, "rounds": args.rounds, "dialects": {}}
    sql_rows: list[list[str]] = []
    statements: list[str] = []
    for dialect in dialects:
        results, latencies, mixed_latencies, sql, checked = asyncio.run(
            measure(dialect, args.messages, args.rounds, args.warmup, args.counted, console)
        )
        columns[dialect] = cost_cells(results, latencies, mixed_latencies)
        data["dialects"][dialect] = figures(results, latencies, mixed_latencies)
        data["dialects"][dialect]["morning_checked"] = checked
        data["dialects"][dialect]["sql"] = {}
        for kind, tallies in sql.items():
            means, which = sql_cells(tallies)
            sql_rows.append([kind, dialect, *means])
            statements.append(f"{kind}, {dialect}: {which}")
            data["dialects"][dialect]["sql"][kind] = {"counts": means, "statements": which}
    if not args.no_errbot:
        data["errbot"] = errbot_anchor(args.messages, args.warmup, console)
    if args.profile:
        console.print("profiling the town's morning on SQLite ...")
        data["profile"] = asyncio.run(profiled(args.messages, args.warmup))
    costs = Table(
        title=f"µs per message, {args.messages} messages after {args.warmup} "
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
        "town.limits; each store was checked to hold one request and one reply per report. "
        "The town's morning: Telegram, Slack and X payloads from the captured fixtures, "
        "four departments, triage, follow-ups and duplicates (bench/payloads.py)."
    )
    console.print("command: " + command_line())
    write(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
