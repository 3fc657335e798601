"""The X test town's parts: its clock, config and the handles a test talks to."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from junbridge.bridge import Bridge
from junbridge.channels.twitter import TwitterChannel
from junbridge.testing.clock import ManualClock as Clock
from junbridge.testing.emulators.x import XEmulator
from junbridge.web.server import RunningServer

ROOT = Path(__file__).parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "x"
# Wednesday 25 November 2026, 10:00 in Jun: the town hall is open, the electrician on duty.
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SECRETS = {
    "X_BEARER_TOKEN": "bearer_token",
    "X_CONSUMER_KEY": "consumer_key",
    "X_CONSUMER_SECRET": "consumer_secret",
    "X_ACCESS_TOKEN": "access_token",
    "X_ACCESS_TOKEN_SECRET": "access_token_secret",
}


@dataclass
class Town:
    """Everything one test talks to."""

    bridge: Bridge
    x: XEmulator
    channel: TwitterChannel
    clock: Clock
    workdir: Path
    server: RunningServer | None = None
    closed: bool = False

    @property
    def webhook_url(self) -> str:
        assert self.server is not None
        return f"{self.server.url}/webhooks/twitter"

    async def poll(self) -> int:
        """One polling round, then everything it took in handled."""
        new = await self.channel.poll_once()
        await self.bridge.drain()
        return new

    async def close(self) -> None:
        """Stop as ``junbridge run`` does: web server, channels, then the bridge."""
        if self.closed:
            return
        self.closed = True
        if self.server is not None:
            await self.server.stop()
        await self.bridge.stop_channels()
        await self.bridge.close()

    def inbound(self) -> list[tuple[str, str]]:
        """What the store accepted: (platform_id, status) rows."""
        with contextlib.closing(sqlite3.connect(self.workdir / "junbridge.db")) as db:
            return list(db.execute("SELECT platform_id, status FROM inbound ORDER BY id"))


def x_config(emulator: XEmulator, **twitter: Any) -> dict[str, Any]:
    """channels.yaml for the test town, its X block pointing at the emulator."""
    block: dict[str, Any] = {"handle": "@AytoJun", "api_url": emulator.url}
    block.update({attribute: {"$env": env} for env, attribute in SECRETS.items()})
    for key, value in twitter.items():
        if value is None:
            block.pop(key, None)  # None leaves a key out, e.g. the OAuth secrets
        else:
            block[key] = value
    return {
        "town": {"name": "Jun", "reference_prefix": "JUN", "languages": ["es", "en"]},
        "channels": {"twitter": block},
        "departments": {
            "lighting": {
                "staff": [{"name": "electricista", "handles": {"twitter": "ElectricistaJun"}}],
                "on_duty": [{"staff": "electricista", "from": "07:00", "to": "22:00"}],
            },
            "police": {"staff": [{"name": "agente de guardia"}]},
            "doctor": {
                "require_verified": False,
                "schedule": [{"days": ["mon", "wed", "fri"], "from": "09:00", "to": "13:00"}],
            },
        },
    }
