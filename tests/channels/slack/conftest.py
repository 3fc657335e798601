"""A town on Slack: the real bridge and its web app, slack-bolt, and the Slack emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from slack_town import Clock, Town, slack_config

from junbridge.channels.slack import SlackChannel
from junbridge.testing import make_bridge
from junbridge.testing.emulators.slack import SlackEmulator
from junbridge.web.app import create_app
from junbridge.web.server import serve


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY: loopback must stay direct."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    """A started Slack emulator."""
    emulator = SlackEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_url() -> str | None:
    """The bridge's store: None for a SQLite file in tmp_path; a module may override it."""
    return None


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, slack: SlackEmulator) -> None:
    """The Slack secrets in the environment, as channels.yaml's {$env: ...} expects."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", slack.signing_secret)
    monkeypatch.setenv("SLACK_APP_TOKEN", slack.app_token)


@pytest.fixture
async def make_town(
    tmp_path: Path, slack: SlackEmulator, clock: Clock, secrets: None, store_url: str | None
) -> AsyncIterator[Callable[..., Awaitable[Town]]]:
    """Build the town in events mode (served web app) or socket mode (WebSocket)."""
    towns: list[Town] = []

    async def make(mode: str = "events") -> Town:
        bridge = await make_bridge(
            config=slack_config(slack, mode),
            workdir=tmp_path,
            clock=clock,
            store_url=store_url,
        )
        channel = bridge.channel("slack")
        assert isinstance(channel, SlackChannel)
        town = Town(bridge=bridge, slack=slack, channel=channel, clock=clock, workdir=tmp_path)
        towns.append(town)
        await bridge.add_channel(channel)
        slack.mode = "socket" if mode == "socket" else "events"
        if mode == "events":
            town.server = await serve(create_app(bridge))
            slack.deliver_to(town.server.url)
        else:
            await slack.connected()
        return town

    yield make
    for town in towns:
        if town.server is not None:
            await town.server.stop()
        await town.channel.stop()
        await town.bridge.close()


@pytest.fixture
async def town(make_town: Callable[..., Awaitable[Town]]) -> Town:
    """The town in events mode: Slack POSTs signed events to the bridge's web app."""
    return await make_town("events")
