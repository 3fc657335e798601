"""A platform that stops answering (a revoked bot token): marked down, staff told on another
platform, a resident with a linked account reached there once, and all said when it is back.

Telegram and Slack through their real SDKs and local emulators; the bridge's clock is moved
by hand, so the five minutes before a channel counts as down take no time.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from junbridge.bridge import Bridge
from junbridge.model import Status
from junbridge.testing import make_bridge
from junbridge.testing.clock import WEDNESDAY_10, ManualClock
from junbridge.testing.emulators.slack import RESIDENT, SlackEmulator
from junbridge.testing.emulators.telegram import TelegramEmulator
from junbridge.web.app import create_app

STAFF_PLACE = "C0LIGHTSTAFF"
LAMP = "La farola 12 de la calle Real no funciona"


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback traffic must never go through a proxy configured on the machine.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Town:
    bridge: Bridge
    telegram: TelegramEmulator
    slack: SlackEmulator
    clock: ManualClock

    async def settle(self) -> None:
        await self.bridge.drain()
        await self.bridge.outbox.flush()

    def slack_texts(self, channel: str) -> list[str]:
        return [post.get("text", "") for post in self.slack.posts(channel)]

    def telegram_texts(self, chat_id: int) -> list[str]:
        return [
            c.params["text"]
            for c in self.telegram.sent("sendMessage")
            if int(c.params["chat_id"]) == chat_id
        ]

    async def health(self) -> Any:
        transport = httpx.ASGITransport(app=create_app(self.bridge))
        async with httpx.AsyncClient(transport=transport, base_url="http://jun") as client:
            health = (await client.get("/healthz")).json()
            metrics = (await client.get("/metrics")).text
        return health, metrics


@pytest.fixture
async def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> AsyncIterator[Town]:
    telegram, slack = TelegramEmulator(), SlackEmulator()
    slack.workspace.add_channel(STAFF_PLACE, "alumbrado-equipo")
    await telegram.start()
    await slack.start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram.token)
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", slack.signing_secret)
    monkeypatch.setenv("SLACK_APP_TOKEN", slack.app_token)
    config = {
        "town": {"name": "Jun", "reference_prefix": "JUN", "languages": ["es", "en"]},
        "channels": {
            "telegram": {
                "token": {"$env": "TELEGRAM_BOT_TOKEN"},
                "mode": "polling",
                "api_url": telegram.api_url,
            },
            "slack": {
                "bot_token": {"$env": "SLACK_BOT_TOKEN"},
                "signing_secret": {"$env": "SLACK_SIGNING_SECRET"},
                "app_token": {"$env": "SLACK_APP_TOKEN"},
                "mode": "socket",
                "api_url": slack.api_url,
            },
        },
        "departments": {
            "lighting": {
                "staff": [{"name": "electricista", "handles": {"slack": "U0ELECTRIC"}}],
                "on_duty": [{"staff": "electricista", "from": "07:00", "to": "22:00"}],
                "staff_place": f"slack:{STAFF_PLACE}",
            },
        },
    }
    clock = ManualClock(WEDNESDAY_10)
    bridge = await make_bridge(config=config, workdir=tmp_path, clock=clock, store_url=db_url)
    try:
        await bridge.add_channel(bridge.channel("telegram"))
        slack.mode = "socket"
        await bridge.add_channel(bridge.channel("slack"))
        await slack.connected()
        yield Town(bridge=bridge, telegram=telegram, slack=slack, clock=clock)
    finally:
        await bridge.stop_channels()
        await bridge.close()
        await slack.stop()
        await telegram.stop()


async def telegram_says(town: Town, text: str, user: dict[str, Any] | None = None) -> None:
    said = await town.telegram.resident_says(text, user=user)
    await town.telegram.wait_confirmed(said)
    await town.settle()


async def test_a_revoked_token_marks_telegram_down_and_linked_residents_hear_on_slack(
    town: Town,
) -> None:
    carmen = town.telegram.user()  # 1001, who also writes on Slack as U0VECINA
    luis = town.telegram.user(1002, "Luis")  # on Telegram only
    await telegram_says(town, LAMP, carmen)
    await telegram_says(town, "La farola 30 de la plaza parpadea", luis)
    [luiss, carmens] = [r.reference for r in await town.bridge.store.list()]  # newest first
    # Carmen links her Slack account: the code comes on Telegram, she sends it from Slack.
    await telegram_says(town, "/vincular", carmen)
    code = re.search(r"\*?\*?(\d{6})", town.telegram_texts(1001)[-1])
    assert code is not None
    await town.slack.resident_says(f"vincular {code.group(1)}", channel_type="im")
    await town.settle()
    person = await town.bridge.store.find_resident(f"slack:{RESIDENT}")
    assert person is not None and "telegram:1001" in person.identities

    # BotFather revokes the token: every Bot API call now answers 401 Unauthorized.
    token, town.telegram.token = town.telegram.token, "1234567:revoked"
    for reference in (carmens, luiss):
        await town.bridge.set_state(reference, Status.RESOLVED, by="electricista", note="Cambiada")
    before = len(town.slack_texts(STAFF_PLACE))
    await town.bridge.outbox.flush()
    town.clock.advance(30)
    await town.bridge.outbox.flush()
    health, metrics = await town.health()
    assert health["down"] == {} and 'junbridge_channel_up{channel="telegram"} 1.0' in metrics
    # Five minutes of nothing but failures: down (and the next pass sends what that says).
    town.clock.advance(300)
    await town.bridge.outbox.flush()
    await town.bridge.outbox.flush()

    health, metrics = await town.health()
    assert health["status"] == "degraded" and set(health["down"]) == {"telegram"}
    assert "Unauthorized" in health["down"]["telegram"]["last_error"]
    assert 'junbridge_channel_up{channel="telegram"} 0.0' in metrics
    # The electricians hear it where they work, once.
    told = town.slack_texts(STAFF_PLACE)[before:]
    assert [t for t in told if "Telegram no responde" in t] == [told[0]]
    # Carmen's answer goes to her Slack DM, saying why; Luis's waits for Telegram.
    dm = "D" + RESIDENT[1:]
    [elsewhere] = [t for t in town.slack_texts(dm) if carmens in t]
    assert (
        elsewhere.startswith("Ahora no podemos escribirte por Telegram") and "resuelto" in elsewhere
    )
    for row in await town.bridge.store.replies_for(carmens):
        if row.reply.channel == "telegram" and row.status != "sent":
            assert row.status == "failed" and "sent on slack instead" in (row.error or "")
    [waiting] = [r for r in await town.bridge.store.replies_for(luiss) if r.status == "pending"]
    assert waiting.reply.channel == "telegram"

    # The token is fixed: Luis's answer goes out, once, and staff hear Telegram is back.
    town.telegram.token = token
    town.clock.advance(600)
    await town.bridge.outbox.flush()
    await town.bridge.outbox.flush()
    assert [t for t in town.telegram_texts(1002) if luiss in t and "resuelto" in t]
    assert not [t for t in town.telegram_texts(1001) if carmens in t and "resuelto" in t]
    assert len([t for t in town.slack_texts(dm) if carmens in t and "resuelto" in t]) == 1
    assert [t for t in town.slack_texts(STAFF_PLACE) if "Telegram vuelve a funcionar" in t]
    health, _ = await town.health()
    assert health["status"] == "ok" and health["down"] == {}
