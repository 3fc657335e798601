"""How fast the bridge answers a platform's webhook, against a bare HTTP round trip.

Slack gives an app 3 seconds to answer an event, or it retries. The bridge answers once the
message is stored (signature checked by slack-bolt, one insert), and works after. This
measures, on the same server in the same run:

- baseline: ``GET /healthz`` (HTTP round trip, no work);
- ack: a signed Slack ``message`` event posted to ``/webhooks/slack/events`` by the Slack
  emulator, until the bridge's 200.

It prints p50/p95 in milliseconds and the ratio ack/baseline. Shared, noisy machines:
compare the ratio, not the milliseconds.

    .venv/bin/python bench/bench_webhook_ack.py [--events 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from junbridge.channels.slack import SlackChannel
from junbridge.testing import make_bridge
from junbridge.testing.emulators import SlackEmulator
from junbridge.web.app import create_app
from junbridge.web.server import serve


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


async def measure(events: int) -> tuple[list[float], list[float]]:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        os.environ.pop(name, None)
    slack = SlackEmulator()
    await slack.start()
    os.environ["BENCH_SLACK_BOT_TOKEN"] = slack.bot_token
    os.environ["BENCH_SLACK_SIGNING_SECRET"] = slack.signing_secret
    config = {
        "town": {"name": "Jun"},
        "channels": {
            "slack": {
                "bot_token": {"$env": "BENCH_SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "BENCH_SLACK_SIGNING_SECRET"},
                "api_url": slack.api_url,
            }
        },
        "departments": {"lighting": {}},
    }
    with tempfile.TemporaryDirectory() as tmp:
        bridge = await make_bridge(config=config, workdir=tmp)
        server = None
        try:
            await bridge.add_channel(SlackChannel(bridge.config.channels["slack"]))
            server = await serve(create_app(bridge))
            slack.deliver_to(server.url)
            baseline, acks = [], []
            async with httpx.AsyncClient(trust_env=False) as client:
                for i in range(events):
                    start = time.perf_counter()
                    await client.get(f"{server.url}/healthz")
                    baseline.append((time.perf_counter() - start) * 1000)
                    start = time.perf_counter()
                    push = await slack.resident_says(f"La farola {i} no funciona", user=f"U0V{i}")
                    acks.append((time.perf_counter() - start) * 1000)
                    assert push.status == 200, push
            await bridge.drain()
            return baseline, acks
        finally:
            if server is not None:
                await server.stop()
            await bridge.stop_channels()
            await bridge.close()
            await slack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    baseline, acks = asyncio.run(measure(args.events))
    (b50, b95), (a50, a95) = percentiles(baseline), percentiles(acks)
    table = Table(title=f"{args.events} Slack events, one at a time")
    for column in ("", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    table.add_row("baseline GET /healthz", f"{b50:.1f}", f"{b95:.1f}")
    table.add_row("signed event → 200", f"{a50:.1f}", f"{a95:.1f}")
    table.add_row("ratio ack / baseline", f"{a50 / b50:.1f}", f"{a95 / b95:.1f}")
    console = Console()
    console.print(table)
    console.print(f"Slack's deadline is 3000 ms; p95 ack is {a95 / 3000:.1%} of it.")
    console.print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
