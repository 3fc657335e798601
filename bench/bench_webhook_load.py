"""The webhook answer under load: signed Slack events at a steady rate against `junbridge run`.

A load generator in this process posts signed Slack ``message`` events (built from the Slack
emulator's captured-shape payloads, each from a different member of the workspace, all in
the town's public channel) at a fixed rate, open loop (each event leaves at its time whether
or not earlier ones were answered), over raw keep-alive HTTP/1.1 connections (an HTTP client
library costs more CPU per request than the server under test), to a real
``junbridge run`` subprocess in Slack events mode. The Slack emulator serving the Web API the
bridge answers through (users.info, chat.postMessage) runs in a process of its own, so its
work does not slow the load generator. In the same run, the same load goes to a bare
Starlette endpoint in its own uvicorn process (it reads the body and answers 200): the floor
for this machine and this load generator.

For each rate it prints p50/p99/max time to the HTTP answer (given only once the message is
stored), how many took longer than Slack's 3 s, and how long the backlog took to drain
(every accepted message handled) after the load stopped. Machines here are shared and
noisy: compare with the bare endpoint, measured in the same run. Both servers are warmed up
first, untimed (2 s at 50 events/s).

    .venv/bin/python bench/bench_webhook_load.py [--rates 50 200 500] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from results import write
from stores import command_line

from junbridge.testing.emulators import SlackEmulator, slack_link
from junbridge.testing.emulators import slack_payloads as payloads

JUNBRIDGE = Path(sys.executable).parent / "junbridge"
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

# The Slack Web API, in a process of its own: it knows every member who will write.
SLACK_WORLD = """
import asyncio, sys
from junbridge.testing.emulators import SlackEmulator
async def main():
    slack = SlackEmulator()
    for user in sys.argv[2:]:
        slack.workspace.add_user(user, name=user.lower(), real_name=f"Vecina {user}")
    await slack.start(port=int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""
# The emulator's own identity and secrets (the process above starts it with its defaults).
_WORKSPACE = SlackEmulator()
IDENTITY = _WORKSPACE.identity
SIGNING_SECRET = _WORKSPACE.signing_secret
BOT_TOKEN = _WORKSPACE.bot_token
WARM_UP_RATE, WARM_UP_SECONDS = 50, 2


def members(tag: str, count: int) -> list[str]:
    """The Slack user ids of ``count`` residents, one per event of a run."""
    return [f"U{tag}{n:06d}" for n in range(count)]


class Connections:
    """Keep-alive HTTP/1.1 connections to one server: a request is written as bytes and the
    answer read by its Content-Length, so the generator spends little CPU per event."""

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

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the status (0 if the connection failed)."""
        connection = self._idle.pop() if self._idle else await self._connect()
        reader, writer = connection
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
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
    """One rate against one server: answer times and statuses."""

    rate: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    drain: float | None = None

    def p(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000


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


async def load(port: int, rate: int, seconds: float, tag: str) -> Run:
    """Post ``rate`` signed events a second for ``seconds``, open loop."""
    run = Run(rate=rate)
    connections = Connections(port)
    await connections.open(min(200, rate))
    users = members(tag, int(rate * seconds))
    started = time.time()

    async def one(n: int) -> None:
        event = payloads.person_message(
            identity=IDENTITY,
            user=users[n],
            text=f"La farola {n} de la calle Real no funciona",
            ts=f"{started + n / rate:.6f}",
            channel="C0PLAZA",
            channel_type="channel",
            thread_ts=None,
            parent_user_id=None,
        )
        body = json.dumps(payloads.event_callback(identity=IDENTITY, event=event)).encode()
        headers = {
            **slack_link.signature(body.decode(), SIGNING_SECRET),
            "Content-Type": "application/json",
        }
        begun = time.perf_counter()
        status = await connections.post("/webhooks/slack/events", body, headers)
        run.latencies.append(time.perf_counter() - begun)
        run.statuses[status] = run.statuses.get(status, 0) + 1

    tasks = []
    start = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    await connections.close()
    return run


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


async def measure(rates: list[int], seconds: float) -> tuple[list[Run], list[Run]]:
    bridge_runs, bare_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port, bare_port, slack_port = free_port(), free_port(), free_port()
        everyone = members("WR", int(WARM_UP_RATE * WARM_UP_SECONDS)) + [
            u for rate in rates for u in members(f"R{rate}", int(rate * seconds))
        ]
        slack = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-c", SLACK_WORLD, str(slack_port), *everyone],
            stdout=subprocess.PIPE,
        )
        assert slack.stdout is not None
        if slack.stdout.readline().strip() != b"ready":
            raise RuntimeError("the Slack emulator did not start")
        config = {
            "town": {"name": "Jun"},
            "store": {"url": f"sqlite:///{folder / 'jun.db'}"},
            "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
            "channels": {
                "slack": {
                    "bot_token": {"$env": "BENCH_SLACK_BOT_TOKEN"},
                    "signing_secret": {"$env": "BENCH_SLACK_SIGNING_SECRET"},
                    "api_url": f"http://127.0.0.1:{slack_port}/api/",
                }
            },
            "departments": {"lighting": {"staff": [{"name": "electricista"}]}},
        }
        (folder / "channels.yaml").write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "BENCH_SLACK_BOT_TOKEN": BOT_TOKEN,
            "BENCH_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        }
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            env.pop(name, None)
        # Started once, before anything is timed.
        bridge = subprocess.Popen(  # noqa: ASYNC220
            [str(JUNBRIDGE), "run", "--config", str(folder / "channels.yaml")],
            env=env,
            stderr=(folder / "bridge.log").open("wb"),
        )
        bare = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-c", BARE, str(bare_port)], env=env
        )
        try:
            url, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
            await wait_healthy(url, bridge)
            await wait_healthy(bare_url, bare)
            # Warm-up, untimed: first connections, statement caches, the first batches.
            await load(bare_port, WARM_UP_RATE, WARM_UP_SECONDS, "WB")
            await load(port, WARM_UP_RATE, WARM_UP_SECONDS, "WR")
            await drained(folder / "jun.db")
            for rate in rates:
                bare_runs.append(await load(bare_port, rate, seconds, f"B{rate}"))
                run = await load(port, rate, seconds, f"R{rate}")
                run.drain = await drained(folder / "jun.db")
                bridge_runs.append(run)
        finally:
            # Shutdown is not measured: SIGTERM would send every queued reply first, at
            # Slack's pace, so the processes are killed once the figures are in.
            for process in (bridge, bare, slack):
                process.kill()
                process.wait(timeout=30)
    return bridge_runs, bare_runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    bridge_runs, bare_runs = asyncio.run(measure(args.rates, args.seconds))
    table = Table(title=f"Signed Slack events for {args.seconds:g} s at each rate (ms)")
    for column in ("events/s", "server", "p50", "p99", "max", "> 3 s", "statuses", "drained"):
        table.add_column(column, justify="right")
    for run, bare in zip(bridge_runs, bare_runs, strict=True):
        for name, r in (("bare Starlette", bare), ("junbridge run", run)):
            table.add_row(
                str(r.rate),
                name,
                f"{r.p(0.5):.1f}",
                f"{r.p(0.99):.1f}",
                f"{max(r.latencies) * 1000:.0f}",
                str(sum(x > 3 for x in r.latencies)),
                " ".join(f"{s}×{n}" for s, n in sorted(r.statuses.items())),
                f"{r.drain:.1f} s" if r.drain is not None else "-",
            )
    console = Console()
    console.print(table)
    console.print(
        "drained: after the load stopped, until every accepted message was handled. "
        f"command: {command_line()}"
    )
    runs = []
    for run, bare in zip(bridge_runs, bare_runs, strict=True):
        for name, r in (("bare Starlette", bare), ("junbridge run, Slack", run)):
            runs.append(
                {
                    "server": name,
                    "rate": r.rate,
                    "p50_ms": r.p(0.5),
                    "p99_ms": r.p(0.99),
                    "max_ms": max(r.latencies) * 1000,
                    "over_3s": sum(x > 3 for x in r.latencies),
                    "statuses": " ".join(f"{s}×{n}" for s, n in sorted(r.statuses.items())),
                    "drain": f"{r.drain:.1f} s" if r.drain is not None else "-",
                }
            )
    write(args.json, {"runs": runs, "seconds": args.seconds})
    return 0


if __name__ == "__main__":
    sys.exit(main())
