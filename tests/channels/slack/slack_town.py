"""The Slack test town: paths, a clock the test moves, and what one test talks to."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from junbridge.bridge import Bridge
from junbridge.channels.slack import SlackChannel
from junbridge.testing.clock import ManualClock as Clock
from junbridge.testing.emulators.slack import SlackEmulator
from junbridge.web.server import RunningServer

ROOT = Path(__file__).parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "slack"
# Wednesday 25 November 2026, 10:00 in Jun: the town hall is open, the electrician on duty.
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@dataclass
class Town:
    """Everything one test talks to."""

    bridge: Bridge
    slack: SlackEmulator
    channel: SlackChannel
    clock: Clock
    workdir: Path
    server: RunningServer | None = None

    def inbound(self) -> list[tuple[str, str]]:
        """What the store accepted: (platform_id, status) rows."""
        with contextlib.closing(sqlite3.connect(self.workdir / "junbridge.db")) as db:
            return list(db.execute("SELECT platform_id, status FROM inbound ORDER BY id"))


def slack_config(emulator: SlackEmulator, mode: str = "events") -> dict[str, Any]:
    """channels.yaml for the test town, its Slack block pointing at the emulator."""
    return {
        "town": {"name": "Jun", "reference_prefix": "JUN", "languages": ["es", "en"]},
        "channels": {
            "slack": {
                "bot_token": {"$env": "SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "SLACK_SIGNING_SECRET"},
                "app_token": {"$env": "SLACK_APP_TOKEN"},
                "mode": mode,
                "api_url": emulator.api_url,
            }
        },
        "departments": {
            "lighting": {
                "staff": [{"name": "electricista", "handles": {"slack": "U0ELECTRIC"}}],
                "on_duty": [{"staff": "electricista", "from": "07:00", "to": "22:00"}],
            },
            "police": {"staff": [{"name": "agente de guardia"}]},
        },
    }
