"""The staff console's test town: a real bridge on real HTTP with the Telegram emulator.

Residents and staff write through the Telegram emulator to the real python-telegram-bot
channel in webhook mode, served by uvicorn with the app under test. Lighting's staff work in
one Telegram group, the doctor's in another; the police have no staff place.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from junbridge.bridge import Bridge
from junbridge.model import Status
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock
from junbridge.testing.emulators.telegram import PHOTO_BYTES, TelegramEmulator
from junbridge.web.app import create_app
from junbridge.web.server import RunningServer, serve

SECRET = "jun-console-Secret_01"
LIGHTING_GROUP = -1001234567890
DOCTOR_GROUP = -1009876543210
REPORT = "La farola de la calle Real 12 no funciona desde ayer"
DOCTOR = "Quiero cita con el médico, me duele mucho la rodilla izquierda"
LINK = re.compile(r"https?://[^\s<>\"]+/staff/login/[A-Za-z0-9_-]+")


def config(emulator: TelegramEmulator, public_url: str) -> dict[str, Any]:
    """Jun with lighting and the doctor (each with a Telegram staff group) and the police."""
    return {
        "town": {"name": "Jun", "languages": ["es", "en"]},
        "web": {"public_url": public_url},
        "channels": {
            "telegram": {
                "token": {"$env": "JUN_TEST_TELEGRAM_TOKEN"},
                "mode": "webhook",
                "api_url": emulator.api_url,
                "webhook_secret": {"$env": "JUN_TEST_TELEGRAM_SECRET"},
                "pace": "off",  # a card and the next answer in one group go at once
            }
        },
        "departments": {
            "lighting": {
                "staff_place": f"telegram:{LIGHTING_GROUP}",
                "staff": [
                    {"name": "electricista", "handles": {"telegram": "paco_luz"}},
                    {"name": "jefa de obras", "role": "lead", "handles": {"telegram": "obras"}},
                ],
                "on_duty": [{"staff": "electricista"}],
            },
            "doctor": {
                "require_verified": False,
                "staff_place": f"telegram:{DOCTOR_GROUP}",
                "staff": [{"name": "enfermera", "handles": {"telegram": "ana_salud"}}],
            },
            "police": {"staff": [{"name": "agente de guardia"}]},
        },
    }


@dataclass
class Town:
    """The bridge, its web server, the emulator, and an HTTP client on the server."""

    bridge: Bridge
    server: RunningServer
    emulator: TelegramEmulator
    client: httpx.AsyncClient
    clock: ManualClock
    workdir: Path

    async def settle(self) -> None:
        """Let the bridge handle what it took in, then send the replies."""
        await self.bridge.drain()
        await self.bridge.outbox.flush()

    def electrician(self) -> dict[str, Any]:
        return self.emulator.user(2002, "Paco", username="paco_luz")

    def lighting_group(self) -> dict[str, Any]:
        return self.emulator.group(id=LIGHTING_GROUP, title="Alumbrado")

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """What the bot sent to ``chat_id`` (messages and photos), in order."""
        return [
            dict(call.params)
            for call in self.emulator.calls
            if call.method in ("sendMessage", "sendPhoto")
            and str(call.params.get("chat_id")) == str(chat_id)
        ]

    def links(self, chat_id: int) -> list[str]:
        """The console sign-in links sent to ``chat_id``, oldest first."""
        found = []
        for params in self.sent_to(chat_id):
            found += LINK.findall(str(params.get("text") or params.get("caption") or ""))
        return found

    async def lamp(self) -> str:
        """A resident (Carmen, on Telegram) reports a dead lamp with a photo."""
        await self.emulator.resident_sends_photo(REPORT)
        await self.settle()
        [request] = await self.bridge.requests.all(department="lighting")
        return request.reference

    async def doctor(self) -> str:
        """A resident books the doctor: a private request."""
        offer = (await self.bridge.receive(make_message(DOCTOR, user="lucia"))).replies[0]
        booked = await self.bridge.receive(
            make_message(choice=offer.choices[0].value, user="lucia")
        )
        assert booked.request is not None and booked.request.privacy == "private"
        return booked.request.reference

    async def login_in_chat(self) -> str:
        """The electrician writes ``login`` in the lighting group; the link they get."""
        await self.emulator.resident_says(
            "login", user=self.electrician(), chat=self.lighting_group()
        )
        await self.settle()
        return self.links(LIGHTING_GROUP)[-1]

    async def state(self, reference: str) -> Status:
        found = await self.bridge.requests.get(reference)
        assert found is not None
        return found.state


@pytest.fixture
async def town(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Town]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    emulator = TelegramEmulator()
    await emulator.start()
    # The bot is a member of both staff groups: the cards of new requests go there.
    emulator.group(id=LIGHTING_GROUP, title="Alumbrado")
    emulator.group(id=DOCTOR_GROUP, title="Consultorio")
    monkeypatch.setenv("JUN_TEST_TELEGRAM_TOKEN", emulator.token)
    monkeypatch.setenv("JUN_TEST_TELEGRAM_SECRET", SECRET)
    # The server listens first, so that its address can be the webhook's and the links'.
    app: list[ASGIApp] = []

    async def late(scope: Scope, receive: Receive, send: Send) -> None:
        await app[0](scope, receive, send)

    server = await serve(late)
    clock = ManualClock()
    bridge = await make_bridge(config=config(emulator, server.url), workdir=tmp_path, clock=clock)
    try:
        await bridge.add_channel(bridge.channel("telegram"))
        app.append(create_app(bridge, figures_seconds=0))
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            yield Town(bridge, server, emulator, client, clock, tmp_path)
    finally:
        await server.stop()
        await bridge.stop_channels()
        await bridge.close()
        await emulator.stop()


__all__ = ["DOCTOR_GROUP", "LIGHTING_GROUP", "PHOTO_BYTES", "Town", "town"]
