"""The webhook answer under load: Telegram updates and signed Slack events against `junbridge run`.

A load generator in this process posts webhooks over raw keep-alive HTTP/1.1 connections
(an HTTP client library costs more CPU per request than the server under test) to four
servers, each a process of its own, started once and warmed up first, untimed (2 s at 50
requests/s):

- ``junbridge run``, with Telegram in webhook mode and Slack in events mode, in one
  process. Telegram: updates derived from the captured fixture
  tests/fixtures/telegram/text_message.ptb22.json (bench_pipeline.telegram_updates: a new
  update and message id, resident and text each), posted to ``/webhooks/telegram`` with
  the ``X-Telegram-Bot-Api-Secret-Token`` header. Slack: signed ``message`` events built
  from the Slack emulator's captured-shape payloads, each from a different member of the
  workspace, all in the town's public channel. junbridge answers only once the message is
  stored. The Telegram Bot API and the Slack Web API it replies through are the emulators,
  each in a process of its own (so their work does not slow the load generator), knowing
  every resident who will write: members of the workspace before the bridge starts, so it
  knows their profiles from ``users.list`` (read at its start) rather than asking
  ``users.info`` for each. The workspace holds at most the profiles a bridge keeps
  (slack_people.PROFILES_KEPT, 10,000): the closed loop's Slack events come from the
  members left after the warm-up and the open loop, and a loop that runs out of them stops
  early and says so. The Slack emulator counts
  the ``users.info`` calls it was asked, printed with the figures.
- python-telegram-bot's own webhook server (bench/ptb_webhook_server.py: an Application
  with a no-op MessageHandler, ``Updater.start_webhook``), given the same Telegram load:
  the raw-SDK anchor. It answers once the update is parsed and queued; it keeps nothing.
- A bare Starlette endpoint in uvicorn, given the Slack load: it reads the body and answers
  200. The floor for this machine and this load generator.

Open loop: at each rate, each request leaves at its time whether or not earlier ones were
answered; printed are p50/p99/max time to the HTTP answer, how many took longer than
Slack's 3 s, and, for junbridge, how long its backlog took to drain (every accepted message
handled) after the load stopped. Closed loop (throughput): ``--connections`` keep-alive
connections each post the next request as soon as the previous answer arrives, for
``--busy-seconds``; requests answered per second, each server's CPU per request (for
junbridge until its backlog is drained: handling included) and the load generator's own
CPU (near 100 % of a core, the generator is the limit, not the server). Bodies are built
before each phase, untimed. Machines here are shared and noisy: compare with the anchors,
measured in the same run.

    .venv/bin/python bench/bench_webhook_load.py [--rates 50 200 500] [--seconds 4]
        [--connections 32] [--busy-seconds SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import yaml
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from bench_pipeline import telegram_updates
from results import write
from stores import command_line

from junbridge.channels.slack_people import PROFILES_KEPT
from junbridge.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from junbridge.testing.emulators import SlackEmulator, slack_link
from junbridge.testing.emulators import slack_payloads as payloads
from junbridge.testing.emulators.telegram_api import DEFAULT_TOKEN as TELEGRAM_TOKEN

BENCH = Path(__file__).parent
JUNBRIDGE = Path(sys.executable).parent / "junbridge"
SLACK_PATH = "/webhooks/slack/events"
BARE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
async def events(request):
    await request.body()
    return PlainTextResponse("")
async def health(request):
    return PlainTextResponse("ok")
app = Starlette(routes=[Route("/webhooks/slack/events", events, methods=["POST"]),
                        Route("/healthz", health)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""

# The Slack Web API, in a process of its own: it knows every member who will write (one
# user id a line in the file named).
SLACK_WORLD = """
import asyncio, sys
from pathlib import Path
from junbridge.testing.emulators import SlackEmulator
async def main():
    slack = SlackEmulator()
    for user in Path(sys.argv[2]).read_text().split():
        slack.workspace.add_user(user, name=user.lower(), real_name=f"Vecina {user}")
    await slack.start(port=int(sys.argv[1]))
    print("ready", flush=True)
    while True:  # how many profiles the bridge had to ask for, one by one
        Path(sys.argv[3]).write_text(str(len(slack.sent("users.info"))))
        await asyncio.sleep(0.5)
asyncio.run(main())
"""
# The Telegram Bot API, in a process of its own: every resident who will write has a
# private chat with the bot (a private chat's id is its user's), so the replies go through.
TELEGRAM_WORLD = """
import asyncio, sys
from junbridge.testing.emulators import TelegramEmulator
async def main():
    telegram = TelegramEmulator()
    first, count = int(sys.argv[2]), int(sys.argv[3])
    for chat in range(first, first + count):
        telegram.known_chat({"id": chat, "type": "private", "first_name": f"Vecino {chat}"})
    await telegram.start(port=int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
# The emulators' own identity and secrets (the processes above start them with defaults).
_WORKSPACE = SlackEmulator()
IDENTITY = _WORKSPACE.identity
SIGNING_SECRET = _WORKSPACE.signing_secret
BOT_TOKEN = _WORKSPACE.bot_token
TELEGRAM_SECRET = "jun-bench-Secret_0123"
# bench_pipeline.telegram_updates: update n comes from resident 5,000,000 + n (and their chat).
FIRST_RESIDENT = 5_000_000
WARM_UP_RATE, WARM_UP_SECONDS = 50, 2
# Requests built ahead for junbridge's closed loop, per second of it: more than it answers
# here (a loop that runs out stops early and says so). The anchors keep nothing, so they
# are sent the same ANCHOR_POOL requests over and over.
POOL_RATE, ANCHOR_POOL = 4000, 2000

JUNBRIDGE_TELEGRAM = "junbridge run, Telegram"
JUNBRIDGE_SLACK = "junbridge run, Slack"
PTB = "python-telegram-bot webhook server"
BARE_NAME = "bare Starlette endpoint"
ORDER = (BARE_NAME, JUNBRIDGE_SLACK, PTB, JUNBRIDGE_TELEGRAM)


class Post(NamedTuple):
    """One webhook delivery: where, what, and its headers."""

    path: str
    body: bytes
    headers: dict[str, str]


class Connections:
    """Keep-alive HTTP/1.1 connections to one server: a request is written as bytes and the
    answer read by its Content-Length, so the generator spends little CPU per request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def open(self, count: int) -> None:
        for _ in range(count):
            self._idle.append(await self._connect())

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._all.append(writer)
        return reader, writer

    async def post(self, post: Post) -> int:
        """POST and return the status (0 if the connection failed)."""
        connection = self._idle.pop() if self._idle else await self._connect()
        reader, writer = connection
        head = "".join(f"{k}: {v}\r\n" for k, v in post.headers.items())
        writer.write(
            f"POST {post.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
            f"Content-Length: {len(post.body)}\r\n\r\n".encode()
            + post.body
        )
        try:
            answer = await reader.readuntil(b"\r\n\r\n")
            status = int(answer.split(b" ", 2)[1])
            length = 0
            for line in answer.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            writer.close()
            return 0
        self._idle.append(connection)
        return status

    async def close(self) -> None:
        for writer in self._all:
            writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    """One rate against one server, open loop: answer times and statuses."""

    server: str
    rate: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    drain: float | None = None

    def p(self, share: float) -> float:
        """The answer time (ms) below which ``share`` of the requests were answered."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000

    def figures(self) -> dict[str, Any]:
        """The JSON row for bench/report.py."""
        return {
            "server": self.server,
            "rate": self.rate,
            "p50_ms": self.p(0.5),
            "p99_ms": self.p(0.99),
            "max_ms": max(self.latencies) * 1000,
            "over_3s": sum(x > 3 for x in self.latencies),
            "statuses": statuses(self.statuses),
            "drain": f"{self.drain:.1f} s" if self.drain is not None else "-",
        }


@dataclass
class Busy:
    """One server with its connections kept busy (closed loop): what it answered, at what cost."""

    server: str
    connections: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    exhausted: bool = False
    server_cpu: float = 0.0
    generator_cpu: float = 0.0
    drain: float | None = None

    @property
    def answered(self) -> int:
        """Requests answered 2xx."""
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def rate(self) -> float:
        """Requests answered 2xx per second."""
        return self.answered / self.seconds

    def figures(self) -> dict[str, Any]:
        """The JSON entry for bench/report.py."""
        ordered = sorted(self.latencies)
        total = self.seconds + (self.drain or 0.0)
        return {
            "connections": self.connections,
            "seconds": self.seconds,
            "answered": self.answered,
            "per_s": self.rate,
            "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
            "statuses": statuses(self.statuses),
            "ran_out": self.exhausted,
            "drain_s": self.drain,
            "handled_per_s": self.answered / total if self.drain is not None else None,
            "server_cpu_ms_per_request": self.server_cpu * 1000 / max(1, self.answered),
            "generator_cpu_share": self.generator_cpu / self.seconds,
        }


def statuses(counts: dict[int, int]) -> str:
    return " ".join(f"{s}×{n}" for s, n in sorted(counts.items()))


# -- the requests -------------------------------------------------------------------------------


def members(tag: str, count: int) -> list[str]:
    """The Slack user ids of ``count`` residents, one per event of a phase."""
    return [f"U{tag}{n:06d}" for n in range(count)]


def slack_posts(tag: str, count: int, spacing: float) -> list[Post]:
    """``count`` signed ``message`` events, each from member ``tag``/n, ``spacing`` s apart."""
    started = time.time()
    posts = []
    for n, user in enumerate(members(tag, count)):
        event = payloads.person_message(
            identity=IDENTITY,
            user=user,
            text=f"La farola {n} de la calle Real no funciona",
            ts=f"{started + n * spacing:.6f}",
            channel="C0PLAZA",
            channel_type="channel",
            thread_ts=None,
            parent_user_id=None,
        )
        body = json.dumps(payloads.event_callback(identity=IDENTITY, event=event))
        headers = {
            **slack_link.signature(body, SIGNING_SECRET),
            "Content-Type": "application/json",
        }
        posts.append(Post(SLACK_PATH, body.encode(), headers))
    return posts


class Residents:
    """Hands out Telegram residents: each update of the run comes from a new one."""

    def __init__(self) -> None:
        self.taken = 0

    def posts(self, count: int) -> list[Post]:
        """The next ``count`` updates, as Telegram posts them to a webhook with a secret."""
        headers = {"Content-Type": "application/json", SECRET_HEADER: TELEGRAM_SECRET}
        updates = telegram_updates(self.taken, count)
        self.taken += count
        return [Post(WEBHOOK_PATH, json.dumps(u).encode(), headers) for u in updates]


# -- the load -----------------------------------------------------------------------------------


async def open_loop(server: str, port: int, posts: Sequence[Post], rate: int) -> Run:
    """Post ``posts`` at ``rate`` a second, open loop: each leaves at its time."""
    run = Run(server=server, rate=rate)
    connections = Connections(port)
    await connections.open(min(200, rate))

    async def one(post: Post) -> None:
        begun = time.perf_counter()
        status = await connections.post(post)
        run.latencies.append(time.perf_counter() - begun)
        run.statuses[status] = run.statuses.get(status, 0) + 1

    tasks = []
    start = time.perf_counter()
    for n, post in enumerate(posts):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(post)))
    await asyncio.gather(*tasks)
    await connections.close()
    return run


async def closed_loop(
    server: str,
    port: int,
    posts: Iterable[Post],
    connections: int,
    seconds: float,
    pid: int,
    db: Path | None,
) -> Busy:
    """Keep ``connections`` busy for ``seconds``: each posts its next request once answered.

    The server's CPU is counted until what it took in is handled: for junbridge, until its
    store ``db`` holds no pending message (the replies it sends meanwhile count too: they
    go on at the platforms' pace); for the others, until the process is idle again.
    """
    busy = Busy(server=server, connections=connections)
    pool = Connections(port)
    await pool.open(connections)
    queue: Iterator[Post] = iter(posts)

    async def keep_busy(deadline: float) -> None:
        while time.perf_counter() < deadline:
            post = next(queue, None)
            if post is None:
                busy.exhausted = True
                return
            begun = time.perf_counter()
            status = await pool.post(post)
            busy.latencies.append(time.perf_counter() - begun)
            busy.statuses[status] = busy.statuses.get(status, 0) + 1

    cpu, server_cpu = time.process_time(), cpu_seconds(pid)
    start = time.perf_counter()
    await asyncio.gather(*(keep_busy(start + seconds) for _ in range(connections)))
    busy.seconds = time.perf_counter() - start
    busy.generator_cpu = time.process_time() - cpu
    await pool.close()
    if db is not None:
        busy.drain = await drained(db)
    else:
        await idle(pid)
    busy.server_cpu = cpu_seconds(pid) - server_cpu
    return busy


async def idle(pid: int) -> None:
    """Wait (at most 10 s) until process ``pid`` uses less than a fifth of a core."""
    for _ in range(100):
        before = cpu_seconds(pid)
        await asyncio.sleep(0.1)
        if cpu_seconds(pid) - before < 0.02:
            return


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pending(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        query = "SELECT count(*) FROM inbound WHERE status = 'pending'"
        return int(connection.execute(query).fetchone()[0])


async def drained(db: Path) -> float:
    """Seconds until every accepted message is handled (bounded at 120 s)."""
    start = time.perf_counter()
    # Another process's database: nothing to wait on but the rows themselves.
    while pending(db) and time.perf_counter() - start < 120:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return time.perf_counter() - start


# -- the processes ------------------------------------------------------------------------------


async def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never became healthy")


def ready(process: subprocess.Popen[bytes], what: str) -> None:
    """Wait for a helper process's ``ready`` line."""
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"{what} did not start (exit {process.poll()})")


def bridge_config(folder: Path, port: int, slack_port: int, telegram_port: int) -> Path:
    """channels.yaml for ``junbridge run``: Telegram by webhook, Slack by events, one store."""
    config = {
        "town": {"name": "Jun"},
        "store": {"url": f"sqlite:///{folder / 'jun.db'}"},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "telegram": {
                "token": {"$env": "BENCH_TELEGRAM_BOT_TOKEN"},
                "mode": "webhook",
                "webhook_secret": {"$env": "BENCH_TELEGRAM_WEBHOOK_SECRET"},
                "api_url": f"http://127.0.0.1:{telegram_port}/bot",
            },
            "slack": {
                "bot_token": {"$env": "BENCH_SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "BENCH_SLACK_SIGNING_SECRET"},
                "api_url": f"http://127.0.0.1:{slack_port}/api/",
            },
        },
        "departments": {"lighting": {"staff": [{"name": "electricista"}]}},
    }
    path = folder / "channels.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class Results:
    """Everything measured in one run."""

    runs: list[Run] = field(default_factory=list)
    busy: list[Busy] = field(default_factory=list)
    # users.info calls the Slack emulator answered: profiles the bridge did not know.
    users_info: int | None = None


def check(run: Run | Busy, log: Path) -> None:
    """Stop the benchmark if a server refused what it was sent (a wrong set-up, not load)."""
    wrong = {s: n for s, n in run.statuses.items() if s != 200}
    if wrong:
        tail = " / ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
        raise RuntimeError(f"{run.server} answered {statuses(wrong)}; bridge log: {tail}")


async def measure(
    rates: list[int],
    seconds: float,
    connections: int,
    busy_seconds: float,
    bridge_log: Path | None = None,
) -> Results:
    """Start every process, warm each server up, run the open and the closed loops."""
    results = Results()
    pool = math.ceil(busy_seconds * POOL_RATE)
    warm = WARM_UP_RATE * WARM_UP_SECONDS
    phases = [(f"R{rate}", int(rate * seconds)) for rate in rates]
    # Every Slack member who writes is one the bridge keeps the profile of (no users.info).
    slack_pool = min(pool, PROFILES_KEPT - warm - sum(n for _, n in phases))
    if slack_pool < POOL_RATE:
        raise SystemExit(
            f"the open loop's Slack events come from {warm + sum(n for _, n in phases):,} "
            f"members, too close to the {PROFILES_KEPT:,} profiles a bridge keeps: fewer "
            "--rates or --seconds"
        )
    everyone = [
        u for tag, n in [("WR", warm), *phases, ("TR", slack_pool)] for u in members(tag, n)
    ]
    residents = Residents()
    processes: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db, log = folder / "jun.db", folder / "bridge.log"
        (folder / "members").write_text("\n".join(everyone))
        port, bare_port, ptb_port = free_port(), free_port(), free_port()
        slack_port, telegram_port = free_port(), free_port()
        env = {
            **os.environ,
            "BENCH_SLACK_BOT_TOKEN": BOT_TOKEN,
            "BENCH_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "BENCH_TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "BENCH_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        }
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            env.pop(name, None)
        # Telegram residents: the warm-ups, each rate, the closed loops, for both servers.
        telegram_residents = 2 * (warm + sum(n for _, n in phases) + pool)
        try:
            # Started once, before anything is timed; every one is killed in `finally`.
            slack_world = [SLACK_WORLD, slack_port, folder / "members", folder / "users.info"]
            telegram_world = [TELEGRAM_WORLD, telegram_port, FIRST_RESIDENT, telegram_residents]
            worlds = {"the Slack emulator": slack_world, "the Telegram emulator": telegram_world}
            for what, world in worlds.items():
                processes.append(
                    subprocess.Popen(  # noqa: ASYNC220
                        [sys.executable, "-c", *map(str, world)],
                        stdout=subprocess.PIPE,
                        env=env,
                    )
                )
                ready(processes[-1], what)
            config = bridge_config(folder, port, slack_port, telegram_port)
            logged = stack.enter_context(log.open("wb"))
            bridge = subprocess.Popen(  # noqa: ASYNC220
                [str(JUNBRIDGE), "run", "--config", str(config)], env=env, stderr=logged
            )
            processes.append(bridge)
            bare = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-c", BARE, str(bare_port)], env=env
            )
            processes.append(bare)
            ptb = subprocess.Popen(  # noqa: ASYNC220
                [
                    sys.executable,
                    str(BENCH / "ptb_webhook_server.py"),
                    str(ptb_port),
                    WEBHOOK_PATH,
                    TELEGRAM_SECRET,
                ],
                stdout=subprocess.PIPE,
                env=env,
            )
            processes.append(ptb)
            ready(ptb, "python-telegram-bot's webhook server")
            await wait_healthy(f"http://127.0.0.1:{port}", bridge)
            await wait_healthy(f"http://127.0.0.1:{bare_port}", bare)
            servers = {
                BARE_NAME: (bare_port, bare.pid, False),
                JUNBRIDGE_SLACK: (port, bridge.pid, True),
                PTB: (ptb_port, ptb.pid, False),
                JUNBRIDGE_TELEGRAM: (port, bridge.pid, True),
            }

            def posts(server: str, tag: str, count: int, rate: float) -> list[Post]:
                if server in (PTB, JUNBRIDGE_TELEGRAM):
                    return residents.posts(count)
                return slack_posts(tag if server == JUNBRIDGE_SLACK else "B" + tag, count, 1 / rate)

            # The load generator's own start-up objects out of its collector's way, as
            # junbridge does for its own (junbridge.runner.settle).
            gc.collect()
            gc.freeze()
            # Warm-up, untimed: first connections, statement caches, the first batches.
            for server in ORDER:
                server_port, _, stores = servers[server]
                sent = posts(server, "WR", warm, WARM_UP_RATE)
                check(await open_loop(server, server_port, sent, WARM_UP_RATE), log)
                if stores:
                    await drained(db)
            for rate, (tag, count) in zip(rates, phases, strict=True):
                for server in ORDER:
                    server_port, _, stores = servers[server]
                    sent = posts(server, tag, count, rate)
                    run = await open_loop(server, server_port, sent, rate)
                    if stores:
                        run.drain = await drained(db)
                    results.runs.append(run)
            for server in ORDER:
                server_port, pid, stores = servers[server]
                if stores:
                    size = slack_pool if server == JUNBRIDGE_SLACK else pool
                    queue: Iterable[Post] = posts(server, "TR", size, POOL_RATE)
                else:
                    queue = itertools.cycle(posts(server, "TR", ANCHOR_POOL, POOL_RATE))
                results.busy.append(
                    await closed_loop(
                        server,
                        server_port,
                        queue,
                        connections,
                        busy_seconds,
                        pid,
                        db if stores else None,
                    )
                )
        finally:
            # Shutdown is not measured: SIGTERM would send every queued reply first, at the
            # platforms' pace, so the processes are killed once the figures are in.
            for process in processes:
                process.kill()
                process.wait(timeout=30)
            if bridge_log is not None and log.exists():
                shutil.copyfile(log, bridge_log)
            asked = folder / "users.info"
            results.users_info = int(asked.read_text()) if asked.exists() else None
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--seconds", type=float, default=4.0, help="of open loop per rate")
    parser.add_argument("--connections", type=int, default=32, help="kept busy in the closed loop")
    parser.add_argument(
        "--busy-seconds", type=float, help="of closed loop per server (default: --seconds)"
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--bridge-log", type=Path, help="keep junbridge run's log here")
    args = parser.parse_args()
    busy_seconds = args.busy_seconds or args.seconds
    results = asyncio.run(
        measure(args.rates, args.seconds, args.connections, busy_seconds, args.bridge_log)
    )
    console = Console()
    table = Table(title=f"Open loop, {args.seconds:g} s at each rate (ms to the answer)")
    for column in ("requests/s", "server", "p50", "p99", "max", "> 3 s", "statuses", "drained"):
        table.add_column(column, justify="right")
    for run in results.runs:
        row = run.figures()
        table.add_row(
            str(run.rate),
            run.server,
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            f"{row['max_ms']:.0f}",
            str(row["over_3s"]),
            row["statuses"],
            row["drain"],
        )
    console.print(table)
    table = Table(
        title=f"Closed loop, {args.connections} connections kept busy for {busy_seconds:g} s"
    )
    for column in (
        "server",
        "answered/s",
        "p50 ms",
        "p99 ms",
        "statuses",
        "drained",
        "handled/s",
        "server CPU ms/request",
        "generator CPU",
    ):
        table.add_column(column, justify="right")
    for busy in results.busy:
        row = busy.figures()
        table.add_row(
            busy.server,
            f"{row['per_s']:,.0f}" + (" (ran out)" if row["ran_out"] else ""),
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            row["statuses"],
            f"{row['drain_s']:.1f} s" if row["drain_s"] is not None else "-",
            f"{row['handled_per_s']:,.0f}" if row["handled_per_s"] is not None else "-",
            f"{row['server_cpu_ms_per_request']:.2f}",
            f"{row['generator_cpu_share']:.0%}",
        )
    console.print(table)
    console.print(
        "junbridge: Telegram updates and Slack events to one `junbridge run`; python-telegram-"
        "bot's server gets the Telegram load, the bare Starlette endpoint the Slack load. "
        "drained: after the load stopped, until every accepted message was handled; "
        "handled/s: answered / (closed loop + drain); server CPU: for junbridge until drained. "
        f"users.info asked by the bridge: {results.users_info} (every member who wrote was "
        f"read with users.list at the start). command: {command_line()}"
    )
    write(
        args.json,
        {
            "runs": [run.figures() for run in results.runs],
            "seconds": args.seconds,
            "throughput": {busy.server: busy.rate for busy in results.busy},
            "busy": {busy.server: busy.figures() for busy in results.busy},
            "users_info": results.users_info,
            "connections": args.connections,
            "busy_seconds": busy_seconds,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
