"""The Telegram channel's test town: the real SDK, a real bridge, the local Bot API emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from telegram_town import WEBHOOK_SECRET, Clock, Webhook, town

from junbridge.bridge import Bridge
from junbridge.testing import make_bridge
from junbridge.testing.emulators.telegram import TelegramEmulator
from junbridge.web.app import create_app
from junbridge.web.server import serve


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback traffic must never go through a proxy configured on the machine.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_url() -> str | None:
    """The bridge's store: None for a SQLite file in tmp_path; a module may override it."""
    return None


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TelegramEmulator]:
    emulated = TelegramEmulator()
    await emulated.start()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", emulated.token)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    yield emulated
    await emulated.stop()


@pytest.fixture
async def polling(
    emulator: TelegramEmulator, tmp_path: Path, clock: Clock
) -> AsyncIterator[Bridge]:
    """A bridge whose Telegram channel long-polls the emulator."""
    bridge = await make_bridge(config=town(emulator, mode="polling"), workdir=tmp_path, clock=clock)
    try:
        await bridge.add_channel(bridge.channel("telegram"))
        yield bridge
    finally:
        await bridge.stop_channels()
        await bridge.close()


@pytest.fixture
async def webhook(
    emulator: TelegramEmulator, tmp_path: Path, clock: Clock, store_url: str | None
) -> AsyncIterator[Webhook]:
    """The bridge's web app served on a free port, that port being the public URL.

    The server listens first (port 0), so its URL can go in the config; the app it serves is
    created once the channel has started and so has routes to mount.
    """
    app: list[ASGIApp] = []

    async def late(scope: Scope, receive: Receive, send: Send) -> None:
        await app[0](scope, receive, send)

    server = await serve(late)
    bridge = await make_bridge(
        config=town(emulator, mode="webhook", public_url=server.url),
        workdir=tmp_path,
        clock=clock,
        store_url=store_url,
    )
    try:
        await bridge.add_channel(bridge.channel("telegram"))
        app.append(create_app(bridge))
        yield Webhook(bridge, server)
    finally:
        await server.stop()
        await bridge.stop_channels()
        await bridge.close()
