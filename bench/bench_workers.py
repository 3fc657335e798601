"""Scale-out: 1, 2 and 3 ``junbridge run`` workers on one PostgreSQL, against one on SQLite.

As tests/test_workers.py runs them: each worker a ``junbridge run`` process in Slack events
mode, ``pace: off`` (the platform's pace would hide the workers'), the Slack emulator in a
process of its own. ``--reports`` signed reports from different residents in #plaza, each
POSTed to two workers at once (one worker: twice to it), as Slack's retries or a load
balancer that sends twice would, ``--in-flight`` reports at a time. Timed from the first
POST until every report is handled and its replies (the answer in the resident's thread,
the electricians' card) are sent. Then, from the store: exactly one request and one
stored message per report, every message handled without error, and exactly two replies
per request, each sent once.

    .venv/bin/python bench/bench_workers.py [--reports 600] [--in-flight 24] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from bench_webhook_load import BOT_TOKEN, IDENTITY, SIGNING_SECRET, SLACK_WORLD, free_port
from results import write
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from stores import command_line, fresh_store_url, sync_engine

from junbridge.channels.slack import EVENTS_PATH
from junbridge.store.schema import inbound, outbox, requests
from junbridge.testing.emulators import slack_link
from junbridge.testing.emulators import slack_payloads as payloads

JUNBRIDGE = Path(sys.executable).parent / "junbridge"
STAFF_PLACE = "C0LIGHTSTAFF"
# bench_webhook_load's Slack, with the electricians' channel the cards go to.
WORLD = SLACK_WORLD.replace(
    "    await slack.start(",
    f"    slack.workspace.add_channel('{STAFF_PLACE}', 'alumbrado')\n    await slack.start(",
)
SETUPS = (("1 × SQLite", "sqlite", 1), *((f"{n} × PostgreSQL", "postgresql", n) for n in (1, 2, 3)))


def config(url: str, port: int, slack_port: int) -> dict[str, Any]:
    return {
        "town": {"name": "Jun", "reference_prefix": "JUN"},
        "store": {"url": url},
        "web": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "slack": {
                "bot_token": {"$env": "BENCH_SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "BENCH_SLACK_SIGNING_SECRET"},
                "api_url": f"http://127.0.0.1:{slack_port}/api/",
                "pace": "off",
            }
        },
        "departments": {
            "lighting": {
                "staff_place": f"slack:{STAFF_PLACE}",
                "staff": [{"name": "electricista", "handles": {"slack": "U0ELECTRIC"}}],
                "on_duty": [{"staff": "electricista"}],
            }
        },
    }


def bodies(tag: str, count: int) -> list[str]:
    started = time.time()
    made = []
    for n in range(count):
        event = payloads.person_message(
            identity=IDENTITY,
            user=f"U{tag}{n:06d}",
            text=f"La farola {n} de la calle Real no va",
            ts=f"{started + n / 1000:.6f}",
            channel="C0PLAZA",
            channel_type="channel",
            thread_ts=None,
            parent_user_id=None,
        )
        made.append(json.dumps(payloads.event_callback(identity=IDENTITY, event=event)))
    return made


def settled(url: str, count: int) -> dict[str, int]:
    with sync_engine(url) as engine, engine.connect() as db:

        def n(query: Any) -> int:
            return int(db.execute(query).scalar_one())

        return {
            "stored": n(select(func.count()).select_from(inbound)),
            "handled": n(
                select(func.count())
                .select_from(inbound)
                .where(inbound.c.status == "done", inbound.c.error.is_(None))
            ),
            "requests": n(select(func.count()).select_from(requests)),
            "replies": n(select(func.count()).select_from(outbox)),
            "sent": n(select(func.count()).select_from(outbox).where(outbox.c.status == "sent")),
            "sent once": n(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.status == "sent", outbox.c.attempts == 1)
            ),
        }


async def one_setup(
    label: str, dialect: str, count: int, args: argparse.Namespace, folder: Path, slack_port: int
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env.update(BENCH_SLACK_BOT_TOKEN=BOT_TOKEN, BENCH_SLACK_SIGNING_SECRET=SIGNING_SECRET)
    tag = f"{dialect[0].upper()}{count}"
    with fresh_store_url(dialect, folder, f"w{tag.lower()}") as url:
        processes, ports = [], []
        for k in range(count):
            home = folder / f"{tag}-{k}"
            home.mkdir()
            port = free_port()
            (home / "channels.yaml").write_text(yaml.safe_dump(config(url, port, slack_port)))
            processes.append(
                subprocess.Popen(  # noqa: ASYNC220
                    [str(JUNBRIDGE), "run", "--config", str(home / "channels.yaml")],
                    env=env,
                    cwd=home,
                    stderr=(home / "stderr.log").open("wb"),
                )
            )
            ports.append(port)
        try:
            async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
                for port in ports:
                    for _ in range(300):
                        try:
                            if (await client.get(f"http://127.0.0.1:{port}/healthz")).is_success:
                                break
                        except httpx.TransportError:
                            await asyncio.sleep(0.1)
                reports = bodies(tag, args.reports)
                slots = asyncio.Semaphore(args.in_flight)
                statuses: dict[int, int] = {}

                async def post(body: str, port: int) -> None:
                    headers = {
                        **slack_link.signature(body, SIGNING_SECRET),
                        "Content-Type": "application/json",
                    }
                    answer = await client.post(
                        f"http://127.0.0.1:{port}{EVENTS_PATH}", content=body, headers=headers
                    )
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

                async def deliver(n: int, body: str) -> None:
                    async with slots:
                        await asyncio.gather(
                            post(body, ports[n % count]), post(body, ports[(n + 1) % count])
                        )

                began = time.perf_counter()
                await asyncio.gather(*(deliver(n, b) for n, b in enumerate(reports)))
                deadline = began + args.timeout
                while time.perf_counter() < deadline:
                    found = await asyncio.to_thread(settled, url, args.reports)
                    if found["handled"] >= args.reports and found["sent"] >= 2 * args.reports:
                        break
                    await asyncio.sleep(0.2)
                seconds = time.perf_counter() - began
                await asyncio.sleep(1.0)  # anything sent twice would show by now
                found = await asyncio.to_thread(settled, url, args.reports)
        finally:
            for process in processes:
                process.kill()
                process.wait()
    exactly_once = (
        found["stored"] == found["handled"] == found["requests"] == args.reports
        and found["replies"] == found["sent"] == found["sent once"] == 2 * args.reports
    )
    return {
        "label": label,
        "workers": count,
        "store": dialect,
        "reports": args.reports,
        "seconds": seconds,
        "per_second": args.reports / seconds,
        "requests": found["requests"],
        "answers": found["sent"],
        "duplicates": found["replies"] - 2 * args.reports + found["sent"] - found["sent once"],
        "exactly_once": exactly_once,
        "found": found,
        "statuses": statuses,
    }


async def measure(args: argparse.Namespace, console: Console) -> list[dict[str, Any]]:
    slack_port = free_port()
    users = [f"U{d[0].upper()}{n}{k:06d}" for _, d, n in SETUPS for k in range(args.reports)]
    # The members go in a file: SLACK_WORLD reads them from there (too many for argv).
    members = Path(tempfile.mkdtemp(prefix="junbridge-bench-")) / "members.txt"
    members.write_text("\n".join(users))
    slack = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-c", WORLD, str(slack_port), str(members)], stdout=subprocess.PIPE
    )
    assert slack.stdout is not None
    if slack.stdout.readline().strip() != b"ready":
        raise RuntimeError("the Slack emulator did not start")
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, dialect, count in SETUPS:
                run = await one_setup(label, dialect, count, args, Path(tmp), slack_port)
                console.print(
                    f"{label}: {run['per_second']:.1f} reports/s, exactly once: "
                    f"{run['exactly_once']} {run['found']}"
                )
                runs.append(run)
    finally:
        slack.kill()
        slack.wait()
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=600)
    parser.add_argument("--in-flight", type=int, default=24)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    console = Console(width=120)
    runs = asyncio.run(measure(args, console))
    table = Table(title=f"{args.reports} reports, each delivered twice: until handled and answered")
    for column in ("workers", "seconds", "reports/s", "× 1 SQLite", "exactly once"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            run["label"],
            f"{run['seconds']:.1f}",
            f"{run['per_second']:.1f}",
            f"{run['per_second'] / runs[0]['per_second']:.2f}",
            "yes" if run["exactly_once"] else "NO",
        )
    console.print(table)
    console.print(f"command: {command_line()}")
    write(
        args.json,
        {
            "runs": runs,
            "reports": args.reports,
            "in_flight": args.in_flight,
            "cores": os.cpu_count(),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
