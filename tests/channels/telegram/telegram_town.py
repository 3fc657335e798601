"""The Telegram tests' town: channels.yaml, a clock the tests move, and small helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from junbridge.bridge import Bridge
from junbridge.channels.telegram import TelegramChannel
from junbridge.testing.clock import ManualClock
from junbridge.testing.emulators.telegram import TelegramEmulator
from junbridge.web.server import RunningServer

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "telegram"
WEBHOOK_SECRET = "jun-webhook-Secret_0123"
# Wednesday 25 November 2026, 10:00 in Jun: the town hall is open, the electrician on duty.
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


Clock = ManualClock


def town(emulator: TelegramEmulator, *, mode: str, public_url: str | None = None) -> dict[str, Any]:
    """channels.yaml as a dict: Jun with lighting, police and the doctor, on Telegram."""
    config: dict[str, Any] = {
        "town": {"name": "Jun", "reference_prefix": "JUN", "languages": ["es", "en"]},
        "channels": {
            "telegram": {
                "token": {"$env": "TELEGRAM_BOT_TOKEN"},
                "mode": mode,
                "api_url": emulator.api_url,
                "webhook_secret": {"$env": "TELEGRAM_WEBHOOK_SECRET"},
            }
        },
        "departments": {
            "lighting": {
                "staff": [{"name": "electricista"}],
                "on_duty": [{"staff": "electricista", "from": "07:00", "to": "22:00"}],
            },
            "police": {"staff": [{"name": "agente de guardia"}]},
            "doctor": {"require_verified": True},
        },
    }
    if public_url is not None:
        config["web"] = {"public_url": public_url}
    return config


@dataclass
class Webhook:
    """A bridge in webhook mode and the web server Telegram posts to."""

    bridge: Bridge
    server: RunningServer

    @property
    def channel(self) -> TelegramChannel:
        channel = self.bridge.channels["telegram"]
        assert isinstance(channel, TelegramChannel)
        return channel


async def settled(bridge: Bridge) -> int:
    """Let the bridge handle what it took in, then send the replies; how many were sent."""
    await bridge.drain()
    return await bridge.outbox.flush()
