"""``junbridge run``: every enabled channel, the web server and the outbox in one process."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

from junbridge import reload
from junbridge.bridge import Bridge
from junbridge.config import missing_secrets
from junbridge.requests import scheduler
from junbridge.web.app import create_app
from junbridge.web.server import serve

log = logging.getLogger(__name__)


def settle() -> None:
    """Move what start-up made out of the garbage collector's way, once it is running.

    Modules, plugins, the configuration, texts and each platform's SDK client live as long
    as the process: about 190,000 objects (with the locale and phone-number data they hold),
    which every full collection walked again, 100-130 ms each: under load, a fifth of what
    a message costs (bench/bench_pipeline.py).
    ``gc.freeze`` keeps them out of later collections; garbage made afterwards is collected
    as before.
    """
    gc.collect()
    gc.freeze()


# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).
SWITCH_SECONDS = 0.0005


def answer_first() -> None:
    """Let the event loop, which answers webhooks, take the GIL back from the store's
    worker threads every 0.5 ms instead of every 5 ms.

    A batch's commit runs in a thread (SQLAlchemy and the driver: plain Python); each time
    the loop wanted the GIL meanwhile it waited up to 5 ms, once per step of answering a
    webhook. Under load that wait made most of the answer's time: signed Slack events at
    500 a second, p50 106 -> 52 ms and p99 219 -> 149 ms, and 20% more webhooks answered
    with the same messages handled per second (bench/bench_webhook_load.py, same machine,
    two runs each).
    """
    sys.setswitchinterval(SWITCH_SECONDS)


async def start_channels(bridge: Bridge) -> list[str]:
    """Start each enabled channel whose secrets are set; return warnings for the others."""
    warnings = []
    unset = missing_secrets(bridge.config)
    for name, settings in bridge.config.channels.items():
        if not settings.enabled:
            continue
        missing = [p for p in unset if p.path.startswith(f"channels.{name}.")]
        if missing:
            warnings.append(f"{name} skipped: " + "; ".join(str(p) for p in missing))
            continue
        try:
            await bridge.add_channel(bridge.channel_classes[name](settings))
        except Exception as exc:  # one platform down or a wrong token must not stop the town
            warnings.append(f"{name} skipped: could not start: {type(exc).__name__}: {exc}")
    return warnings


async def run(config_path: Path, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``), then stop taking work and finish what is held."""
    stop = stop or asyncio.Event()
    hangup = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGHUP (or saving channels.yaml) reloads the departments' settings: see reload.py.
    loop.add_signal_handler(signal.SIGHUP, hangup.set)
    bridge = await Bridge.start(config_path)
    switch = sys.getswitchinterval()
    try:
        for warning in await start_channels(bridge):
            log.warning(warning)
        web = bridge.config.web
        server = await serve(create_app(bridge), host=web.host, port=web.port)
        settle()
        answer_first()
        log.info("junbridge for %s listening on %s", bridge.config.town.name, server.url)
        log.info(
            "public page: %s/ (metrics: /metrics, health: /healthz)", web.public_url.rstrip("/")
        )
        outbox = asyncio.create_task(bridge.outbox.run(stop), name="junbridge-outbox")
        timers = asyncio.create_task(scheduler.run(bridge, stop), name="junbridge-timers")
        sweep = asyncio.create_task(bridge.sweep(stop), name="junbridge-sweep")
        watching = asyncio.create_task(reload.watch(bridge, stop, hangup), name="junbridge-reload")
        await stop.wait()
        log.info("stopping: no new messages; finishing the ones in hand")
        await server.stop()
        await bridge.drain()
        await outbox
        await timers
        await sweep
        await watching
        await bridge.outbox.flush()  # the answers to what was just handled
        await bridge.stop_channels()
        await bridge.drain()  # anything a poller took in while stopping; else kept for restart
    finally:
        sys.setswitchinterval(switch)
        await bridge.close()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
