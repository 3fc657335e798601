"""How much memory does ``junbridge run`` hold, idle, with every channel, as the store grows?

One process of the emulators (Telegram, Slack, X) runs apart. ``junbridge run`` is started
with all three channels connected to them (Telegram long polling, Slack events, X polling
every 5 s), on an empty SQLite store, then on one filled with ``--size`` requests the way
the scale curve fills it (town_fill.py, counted). Once it answers ``/healthz`` its resident
memory (VmRSS, /proc) is read every second for ``--seconds``, idle; then it is stopped.
Python's own floor is an interpreter that imported nothing, read the same way.

    .venv/bin/python bench/bench_footprint.py [--size 1000000] [--seconds 30] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from bench_public_page import CONFIG as TOWN
from bench_scale import template_rows
from results import write
from rich.console import Console
from rich.table import Table
from stores import command_line
from town_fill import fill_town

from junbridge.store import Store
from junbridge.testing.clock import WEDNESDAY_10
from junbridge.testing.emulators.x import XEmulator

JUNBRIDGE = Path(sys.executable).parent / "junbridge"
EMULATORS = """
import asyncio, sys
from junbridge.testing.emulators import SlackEmulator
from junbridge.testing.emulators.telegram import TelegramEmulator
from junbridge.testing.emulators.x import XEmulator
async def main():
    emulators = TelegramEmulator(), SlackEmulator(), XEmulator()
    urls = [await e.start() for e in emulators]
    print(" ".join(urls), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def channels_yaml(folder: Path, url: str, port: int, emulators: list[str]) -> Path:
    telegram, slack, x = emulators
    secrets = XEmulator()
    config: dict[str, Any] = {
        **TOWN,
        "store": {"url": url},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "telegram": {
                "token": {"$env": "B_TG"},
                "mode": "polling",
                "api_url": f"{telegram}/bot",
            },
            "slack": {
                "bot_token": {"$env": "B_SLACK"},
                "signing_secret": {"$env": "B_SLACK_SECRET"},
                "api_url": f"{slack}/api/",
            },
            "twitter": {
                "handle": "@AytoJun",
                "api_url": x,
                "poll_seconds": 5,
                **{k: {"$env": f"B_X_{k.upper()}"} for k in X_SECRETS},
            },
        },
    }
    os.environ.update(
        {f"B_X_{k.upper()}": getattr(secrets, k) for k in X_SECRETS}
        | {"B_TG": "7000000001:AAEmulatedTokenForJunbridgeTests_01"}
        | {"B_SLACK": "xoxb-jun-emulator", "B_SLACK_SECRET": "jun-emulator-signing-secret"}
    )
    path = folder / "channels.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


X_SECRETS = ("bearer_token", "consumer_key", "consumer_secret", "access_token",
             "access_token_secret")  # fmt: skip


async def sample(config: Path, port: int, seconds: float, log: Path) -> list[float]:
    process = subprocess.Popen(  # noqa: ASYNC220
        [str(JUNBRIDGE), "run", "--config", str(config)], stderr=log.open("wb")
    )
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            for _ in range(600):
                if process.poll() is not None:
                    raise RuntimeError(f"junbridge run exited; its log: {log}")
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        samples = []
        for _ in range(int(seconds)):
            samples.append(rss_mb(process.pid))
            await asyncio.sleep(1)
        return samples
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


async def measure(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        os.environ.pop(name, None)
    floor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])  # noqa: ASYNC220
    await asyncio.sleep(1)
    python_floor = rss_mb(floor.pid)
    floor.wait()
    emulators = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-c", EMULATORS], stdout=subprocess.PIPE, text=True
    )
    assert emulators.stdout is not None
    urls = emulators.stdout.readline().split()
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "template").mkdir()
            template = await template_rows(folder / "template")
            for size in (0, args.size):
                db = folder / f"jun{size}.db"
                url = f"sqlite:///{db}"
                await (await Store.open(url)).close()
                counted = {"requests": 0}
                if size:
                    now = datetime.fromisoformat(WEDNESDAY_10.isoformat())
                    counted = await asyncio.to_thread(
                        fill_town, url, size, template, open_count=500, now=now
                    )
                    console.print(f"filled {counted['requests']:,} requests")
                port = free_port()
                config = channels_yaml(folder, url, port, urls)
                began = time.perf_counter()
                samples = await sample(config, port, args.seconds, folder / f"run{size}.log")
                console.print(
                    f"{counted['requests']:,} requests: RSS {samples[0]:.1f} -> "
                    f"{samples[-1]:.1f} MB ({time.perf_counter() - began:.0f} s)"
                )
                runs.append(
                    {
                        "store": "empty" if not size else "filled",
                        "requests": counted["requests"],
                        "rss_mb": samples,
                        "seconds": list(range(len(samples))),
                        "first_mb": samples[0],
                        "last_mb": samples[-1],
                        "peak_mb": max(samples),
                    }
                )
    finally:
        emulators.kill()
        emulators.wait()
    return {"runs": runs, "seconds": args.seconds, "python_floor_mb": python_floor}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    console = Console(width=120)
    data = asyncio.run(measure(args, console))
    table = Table(title="junbridge run, Telegram + Slack + X, idle: resident memory (MB)")
    for column in ("store", "requests", "first", "last", "peak"):
        table.add_column(column, justify="right")
    for run in data["runs"]:
        table.add_row(
            run["store"],
            f"{run['requests']:,}",
            f"{run['first_mb']:.1f}",
            f"{run['last_mb']:.1f}",
            f"{run['peak_mb']:.1f}",
        )
    console.print(table)
    console.print(f"Python alone: {data['python_floor_mb']:.1f} MB. command: {command_line()}")
    write(args.json, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
