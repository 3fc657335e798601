"""``junbridge simulate``: one message through the whole pipeline, shown as each platform would."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.panel import Panel
from rich.text import Text

from junbridge.bridge import Bridge
from junbridge.cli.common import config_option, console, open_bridge, run_async
from junbridge.cli.display import displayed
from junbridge.handled import Handled
from junbridge.model import Reply, ServiceRequest
from junbridge.testing.clock import ManualClock
from junbridge.testing.harness import make_message

CHANNELS = ("telegram", "slack", "twitter", "console")


def parse_location(value: str | None) -> tuple[float, float] | None:
    """``"37.2218,-3.5930"`` -> (37.2218, -3.593)."""
    if value is None:
        return None
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter("expected LAT,LON, e.g. 37.2218,-3.5930") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise click.BadParameter("latitude must be within ±90 and longitude within ±180")
    return lat, lon


@click.command()
@config_option
@click.option("--channel", type=click.Choice(CHANNELS), default="telegram", show_default=True)
@click.option("--user", default="vecina", show_default=True, help="The resident's handle (and id).")
@click.option("--lang", default=None, help="The language the platform reports, e.g. es or en.")
@click.option("--location", default=None, metavar="LAT,LON", help="A shared location.")
@click.option("--choice", default=None, metavar="VALUE", help="Press the button with this value.")
@click.option(
    "--public/--private",
    "public",
    default=None,
    help="A public post or a private chat (default: public on twitter only).",
)
@click.option(
    "--at",
    "at",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    default=None,
    help="Send it at this moment in town time (e.g. '2026-11-25 10:00'), to try the rota, "
    "off hours or holidays; default now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the request(s) and replies as JSON.")
@click.argument("text", required=False, default="")
@run_async
async def simulate(
    config_path: Path,
    channel: str,
    user: str,
    lang: str | None,
    location: str | None,
    choice: str | None,
    public: bool | None,
    at: datetime | None,
    as_json: bool,
    text: str,
) -> None:
    """Run one resident message TEXT through the bridge and print the replies."""
    if not text and choice is None and location is None:
        raise click.UsageError("give TEXT, --choice or --location")
    message = make_message(
        text,
        channel=channel,
        user=user,
        lang=lang,
        location=parse_location(location),
        choice=choice,
        private=None if public is None else not public,
    )
    clock = ManualClock(now=at.replace(tzinfo=UTC)) if at else None
    bridge = await open_bridge(config_path, **({"clock": clock} if clock else {}))
    if clock is not None and at is not None:
        # --at is in town time, known only once channels.yaml is read.
        clock.now = at.replace(tzinfo=ZoneInfo(bridge.config.town.timezone)).astimezone(UTC)
        message = replace(message, sent_at=clock.now)
    try:
        handled = await bridge.receive(message)
        await mark_simulated(bridge, handled)
    finally:
        await bridge.close()
    if as_json:
        click.echo(json.dumps(as_dict(handled), indent=2, ensure_ascii=False, default=str))
    else:
        show(bridge, handled)


async def mark_simulated(bridge: Bridge, handled: Handled) -> None:
    """The replies were shown here, so the outbox must not send them to a real resident."""
    for row in await bridge.store.claim_outbox(
        now=bridge.clock(), limit=100, channel=handled.message.channel
    ):
        await bridge.store.mark_sent(row.id, platform_ids=["simulated"], at=bridge.clock())


def as_dict(handled: Handled) -> dict[str, object]:
    """The JSON shape of ``simulate --json``."""
    return {
        "duplicate": handled.duplicate,
        "department": handled.department,
        "error": handled.error,
        "requests": [handled.request.to_json()] if handled.request else [],
        "replies": [reply.to_json() for reply in handled.replies],
    }


def show(bridge: Bridge, handled: Handled) -> None:
    """Each reply in a panel, rendered as its platform would show it, then the request."""
    out = console()
    if handled.duplicate:
        out.print("[yellow]This message was already received; nothing new happened.[/]")
    for reply in handled.replies:
        out.print(
            Panel(
                Text("\n\n").join(
                    displayed(reply.channel, part)
                    for part in bridge.channel(reply.channel).preview(reply)
                ),
                title=destination(reply),
                title_align="left",
                expand=False,
            )
        )
        for choice in reply.choices:
            out.print(f"  press [bold]{choice.label}[/] with: --choice {choice.value}", markup=True)
    if handled.request is not None:
        out.print(summary(bridge, handled.request))
    if handled.error:
        out.print(f"[red]department failed:[/] {handled.error} (kept in triage)")


def destination(reply: Reply) -> str:
    """Where a reply goes, as a panel title."""
    where = f"private message to {reply.recipient}" if reply.private else reply.conversation
    return f"{reply.channel} → {where}"


def summary(bridge: Bridge, request: ServiceRequest) -> str:
    """One line about the request: reference, department, state, assignee, expected time."""
    parts = [f"[bold]{request.reference}[/]", request.department, request.state.value]
    if request.assignee:
        parts.append(f"assigned to {request.assignee}")
    if request.expected_datetime:
        department = bridge.departments[request.department]
        parts.append(
            "expected "
            + department.format_time(
                request.expected_datetime, request.language or bridge.config.town.language
            )
        )
    return " · ".join(parts)
