"""A town on X: the real bridge, tweepy's AsyncClient, and the X emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from x_town import SECRETS, Clock, Town, x_config

from junbridge.channels.twitter import TwitterChannel
from junbridge.testing import make_bridge
from junbridge.testing.emulators.x import XEmulator
from junbridge.web.app import create_app
from junbridge.web.server import serve


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_url() -> str | None:
    """The bridge's store: None for a SQLite file in tmp_path; a module may override it."""
    return None


@pytest.fixture
async def x(clock: Clock) -> AsyncIterator[XEmulator]:
    """A started X emulator on the test's clock."""
    emulator = XEmulator(clock=clock)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, x: XEmulator) -> None:
    """The X secrets in the environment, as channels.yaml's {$env: ...} expects."""
    for env, attribute in SECRETS.items():
        monkeypatch.setenv(env, getattr(x, attribute))


@pytest.fixture
async def make_town(
    tmp_path: Path, x: XEmulator, clock: Clock, secrets: None, store_url: str | None
) -> AsyncIterator[Callable[..., Awaitable[Town]]]:
    """Build the town: polling by explicit ``poll()`` calls, or webhooks on a served app.

    ``twitter`` overrides keys of channels.twitter (None removes one). Calling it again
    builds a new bridge on the same store, as a restart would.
    """
    towns: list[Town] = []

    async def make(*, background: bool = False, **twitter: Any) -> Town:
        bridge = await make_bridge(
            config=x_config(x, **twitter),
            workdir=tmp_path,
            clock=clock,
            store_url=store_url,
        )
        channel = TwitterChannel(bridge.config.channels["twitter"], poll_in_background=background)
        try:
            await bridge.add_channel(channel)
        except BaseException:
            await bridge.close()
            raise
        town = Town(bridge=bridge, x=x, channel=channel, clock=clock, workdir=tmp_path)
        towns.append(town)
        if twitter.get("mode") == "webhook":
            town.server = await serve(create_app(bridge))
        return town

    yield make
    for town in towns:
        await town.close()


@pytest.fixture
async def town(make_town: Callable[..., Awaitable[Town]]) -> Town:
    """The town polling X."""
    return await make_town()
