"""The demo town: three platform emulators and the real bridge wired to them.

Nothing leaves the machine: Telegram, Slack and X are local emulators on 127.0.0.1, and
the real SDKs (python-telegram-bot, slack-bolt, tweepy) talk to them over HTTP exactly as
they would to the platforms. The town's own channels.yaml supplies the departments; the
channels, store and web blocks are replaced by demo ones.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from starlette.types import ASGIApp, Receive, Scope, Send

from junbridge.bridge import Bridge
from junbridge.config import plugins_dir_of
from junbridge.config.settings import WEEKDAYS
from junbridge.runner import start_channels
from junbridge.testing.clock import ManualClock
from junbridge.testing.emulators.slack import SlackEmulator
from junbridge.testing.emulators.telegram import TelegramEmulator
from junbridge.testing.emulators.x import XEmulator
from junbridge.web.app import create_app
from junbridge.web.server import RunningServer, serve

TELEGRAM_TOKEN = "7000000001:AAdemo-jun-telegram-token"
# Known to every newcomer: the demo's store is a throwaway on this machine alone.
OPEN311_KEY = "jun-demo-open311-key"
STAFF_PASSWORD = "jun-demo-2026"
# Where ``junbridge demo --keep-running`` listens when the port is free (else any free one).
DEMO_PORT = 8080
# A Monday in the school year (the canteen is open) and in no holiday week.
DEMO_DATE = date(2026, 11, 30)


@dataclass
class DemoClock(ManualClock):
    """The town's clock in the demo: a working day, moved on by each scene."""

    start: datetime | None = None

    def at(self, day: int, hour: int, minute: int, tz: ZoneInfo) -> datetime:
        """``hour:minute`` town time, ``day`` days after the first, as UTC."""
        first = (self.start or self.now).astimezone(tz).date() + timedelta(days=day)
        return datetime.combine(first, time(hour, minute), tz).astimezone(UTC)

    def set(self, day: int, hour: int, minute: int, tz: ZoneInfo) -> None:
        """Move to ``hour:minute`` town time, ``day`` days after the first (never backwards)."""
        target = self.at(day, hour, minute, tz)
        if self.start is None:
            self.start = self.now
        self.now = max(self.now, target)

    def advance_to(self, moment: datetime) -> None:
        """Move on to ``moment`` (never backwards)."""
        if self.start is None:
            self.start = self.now
        self.now = max(self.now, moment)


def demo_day(tz: ZoneInfo, working_days: set[str], holidays: set[Any]) -> datetime:
    """08:00 town time on the first working day from ``DEMO_DATE``, as UTC.

    A fixed date, not today: every run of the demo tells the same story at the same times.
    """
    day = DEMO_DATE
    while WEEKDAYS[day.weekday()] not in working_days or day in holidays:
        day += timedelta(days=1)
    return datetime.combine(day, time(8, 0), tz).astimezone(UTC)


@dataclass
class DemoTown:
    """Everything the demo script talks to."""

    bridge: Bridge
    clock: DemoClock
    telegram: TelegramEmulator
    slack: SlackEmulator
    x: XEmulator
    server: RunningServer
    workdir: Path
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    outbox: asyncio.Task[None] | None = None

    @property
    def tz(self) -> ZoneInfo:
        """The town's time zone."""
        return ZoneInfo(self.bridge.config.town.timezone)

    def name_of(self, channel: str, place: str) -> str:
        """Who or where ``place`` (a chat, channel, post or user id) is, as people call it."""
        if channel == "telegram":
            user = self.telegram.users.get(int(place)) if place.lstrip("-").isdigit() else None
            return str(user["first_name"]) if user else place
        if channel == "slack":
            name = self.slack.workspace.channels.get(place)
            return f"#{name}" if name else place
        if channel == "twitter":
            world = self.x.world
            # A reply goes to the resident's post, a private message to the resident.
            tweet = world.tweets.get(place)
            user = world.users.get(tweet["author_id"] if tweet else place)
            return f"@{user['username']}" if user else place
        return place

    async def settle(self) -> None:
        """Let every message taken in be handled and every reply due be sent."""
        await self.bridge.drain()
        await self.bridge.outbox.settle()
        # The outbox running beside the scenes may hold a reply it is still sending: wait
        # for it, or the transcript shows that reply a scene late (and not every run alike).
        while True:
            undelivered = await self.bridge.store.undelivered()
            if not any(row.status == "sending" for row in undelivered):
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Stop as ``junbridge run`` does, then the emulators."""
        self.stop.set()
        if self.outbox is not None:
            await self.outbox
        await self.server.stop()
        await self.bridge.stop_channels()
        await self.bridge.close()
        for emulator in (self.telegram, self.slack, self.x):
            await emulator.stop()


def demo_config(
    town_config: Path,
    telegram: TelegramEmulator,
    slack: SlackEmulator,
    x: XEmulator,
    workdir: Path,
    public_url: str,
) -> Path:
    """The town's channels.yaml with its channels, store and web pointed at the demo: its
    public address is the one the demo's server listens on."""
    config = yaml.safe_load(town_config.read_text())
    plugins_dir = plugins_dir_of(town_config)
    if plugins_dir is not None:
        config["plugins_dir"] = str(plugins_dir)
    for block in config.get("departments", {}).values():
        if isinstance(block, dict) and "menu_file" in block:
            block["menu_file"] = str((town_config.parent / block["menu_file"]).resolve())
    config["store"] = {"url": f"sqlite:///{workdir / 'demo.db'}"}
    port = int(public_url.rsplit(":", 1)[1])
    config["web"] = {"host": "127.0.0.1", "port": port, "public_url": public_url}
    config["open311"] = {
        "api_keys": [{"name": "demo", "key": {"$env": "JUNBRIDGE_DEMO_OPEN311_KEY"}}],
        "contact": "the demo's own town hall",
    }
    slack_pins = config.get("channels", {}).get("slack", {}).get("pins", {})
    config["channels"] = {
        "telegram": {
            "token": {"$env": "JUNBRIDGE_DEMO_TELEGRAM_TOKEN"},
            "mode": "polling",
            "api_url": f"{telegram.url}/bot",
        },
        "slack": {
            "bot_token": {"$env": "JUNBRIDGE_DEMO_SLACK_BOT_TOKEN"},
            "signing_secret": {"$env": "JUNBRIDGE_DEMO_SLACK_SIGNING_SECRET"},
            "mode": "events",
            "api_url": slack.api_url,
            "pins": slack_pins,
        },
        "twitter": {
            "handle": x.handle,
            "user_id": x.user_id,
            "bearer_token": {"$env": "JUNBRIDGE_DEMO_X_BEARER_TOKEN"},
            "consumer_key": {"$env": "JUNBRIDGE_DEMO_X_CONSUMER_KEY"},
            "consumer_secret": {"$env": "JUNBRIDGE_DEMO_X_CONSUMER_SECRET"},
            "access_token": {"$env": "JUNBRIDGE_DEMO_X_ACCESS_TOKEN"},
            "access_token_secret": {"$env": "JUNBRIDGE_DEMO_X_ACCESS_TOKEN_SECRET"},
            "mode": "polling",
            "poll_seconds": 0.2,
            "api_url": x.url,
        },
    }
    path = workdir / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return path


async def open_town(town_config: Path, *, port: int = 0) -> DemoTown:
    """Start the emulators, the web server (on ``port``, 0 for any free one), then the
    bridge, its channels and outbox."""
    town = yaml.safe_load(town_config.read_text()).get("town", {})  # noqa: ASYNC240 - once, at start-up
    tz = ZoneInfo(town.get("timezone", "Europe/Madrid"))
    hours = town.get("business_hours") or {d: None for d in WEEKDAYS[:5]}
    holidays = set(town.get("holidays") or [])
    clock = DemoClock(demo_day(tz, set(hours), holidays))
    workdir = Path(tempfile.mkdtemp(prefix="junbridge-demo-"))
    telegram = TelegramEmulator(token=TELEGRAM_TOKEN)
    slack = SlackEmulator()
    x = XEmulator(clock=clock)
    for emulator in (telegram, slack, x):
        await emulator.start()
    os.environ.update(
        {
            "JUNBRIDGE_DEMO_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "JUNBRIDGE_DEMO_SLACK_BOT_TOKEN": slack.bot_token,
            "JUNBRIDGE_DEMO_SLACK_SIGNING_SECRET": slack.signing_secret,
            "JUNBRIDGE_DEMO_X_BEARER_TOKEN": x.bearer_token,
            "JUNBRIDGE_DEMO_X_CONSUMER_KEY": x.consumer_key,
            "JUNBRIDGE_DEMO_X_CONSUMER_SECRET": x.consumer_secret,
            "JUNBRIDGE_DEMO_X_ACCESS_TOKEN": x.access_token,
            "JUNBRIDGE_DEMO_X_ACCESS_TOKEN_SECRET": x.access_token_secret,
            "JUNBRIDGE_DEMO_OPEN311_KEY": OPEN311_KEY,
        }
    )
    # The server listens first, so that the links the bridge sends (X replies, staff
    # sign-in links) name the port it actually serves; the app comes once the bridge is up.
    app: list[ASGIApp] = []

    async def late(scope: Scope, receive: Receive, send: Send) -> None:
        await app[0](scope, receive, send)

    server = await serve(late, port=port)
    path = demo_config(town_config, telegram, slack, x, workdir, server.url)
    bridge = await Bridge.start(path, clock=clock)
    for department in bridge.departments.values():
        place = department.settings.staff_place
        if place and place.startswith("slack:"):
            slack.workspace.add_channel(place.removeprefix("slack:"), department.name)
        # The town's staff are members of its Slack workspace, under their names.
        for member in department.settings.staff:
            handle = member.handles.get("slack")
            if handle and handle not in slack.workspace.users:
                name = member.name.replace(" ", "_")
                slack.workspace.add_user(handle, name=name, real_name=member.name)
    warnings = await start_channels(bridge)
    if warnings:
        raise RuntimeError("demo channels did not start: " + "; ".join(warnings))
    app.append(create_app(bridge))
    slack.deliver_to(server.url)
    demo = DemoTown(
        bridge=bridge,
        clock=clock,
        telegram=telegram,
        slack=slack,
        x=x,
        server=server,
        workdir=workdir,
    )
    demo.outbox = asyncio.create_task(bridge.outbox.run(demo.stop, interval=0.1))
    return demo


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
