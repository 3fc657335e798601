"""``/healthz``: is this process able to work, and when did each channel last hear or speak.

The store answers ``SELECT 1`` within ``STORE_TIMEOUT`` seconds, or the answer is 503: a
load balancer then sends webhooks to another worker. Each running channel's last inbound
message and last delivered reply are this process's (``junbridge.activity``), as seconds
ago: an operator's alert decides how long a channel may stay quiet.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

STORE_TIMEOUT = 2.0


class StoreProbe:
    """``SELECT 1`` on the store, one at a time: while the store hangs, health checks share
    the probe in flight instead of each holding a worker thread the pipeline needs."""

    def __init__(self, bridge: Bridge, *, timeout: float = STORE_TIMEOUT) -> None:
        self.bridge = bridge
        self.timeout = timeout
        self._running: asyncio.Task[object] | None = None

    async def problem(self) -> str | None:
        """None if the store answers in time, else what went wrong."""
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(
                self.bridge.store.read(lambda connection: connection.scalar(text("SELECT 1")))
            )
        try:
            await asyncio.wait_for(asyncio.shield(self._running), self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as exc:  # any failure to reach it is the answer
            return f"{type(exc).__name__}: {exc}"
        return None


def _ago(moment: float | None, now: float) -> float | None:
    return None if moment is None else round(now - moment, 3)


def health(bridge: Bridge) -> Any:
    """The ``/healthz`` endpoint of ``bridge``."""

    probe = StoreProbe(bridge)

    async def healthz(request: Request) -> JSONResponse:
        problem = await probe.problem()
        now = time.time()
        activity = bridge.activity
        channels = {
            name: {
                "last_received_seconds_ago": _ago(activity.last_received.get(name), now),
                "last_sent_seconds_ago": _ago(activity.last_sent.get(name), now),
            }
            for name in sorted(bridge.channels)
        }
        # A platform down is not this process failing (restarting it would not help): the
        # answer stays 200, and says which channel and since when.
        down = {
            name: {
                "since": outage.since.isoformat(),
                "failures": outage.failures,
                "last_error": outage.error,
            }
            for name, outage in bridge.outbox.outages.down().items()
        }
        body: dict[str, Any] = {
            "status": "unavailable" if problem is not None else "degraded" if down else "ok",
            "town": bridge.config.town.name,
            "store": "ok" if problem is None else problem,
            "channels": sorted(bridge.channels),
            "last_contact": channels,
            "down": down,
            "uptime_seconds": round(now - activity.started, 3),
        }
        return JSONResponse(body, status_code=200 if problem is None else 503)

    return healthz
