"""``junbridge residents verify|show``: people, their linked identities, verification."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from junbridge.cli.common import config_option, console, fail, open_bridge, run_async
from junbridge.model import Sender


@click.group()
def residents() -> None:
    """Verify residents and see who they are across channels."""


@residents.command()
@config_option
@click.argument("identity", metavar="CHANNEL:ID")
@click.option("--by", "by", required=True, help="The staff member who checked the ID.")
@run_async
async def verify(config_path: Path, identity: str, by: str) -> None:
    """Mark the person behind CHANNEL:ID (e.g. telegram:123) as verified at the desk."""
    channel, _, platform_id = identity.partition(":")
    if not channel or not platform_id:
        raise fail("error: write the identity as CHANNEL:ID, e.g. telegram:123456")
    bridge = await open_bridge(config_path)
    try:
        if channel not in bridge.channel_classes:
            raise fail(
                f"error: unknown channel {channel!r} "
                f"(one of {', '.join(sorted(bridge.channel_classes))})"
            )
        await bridge.store.resident_for(channel, Sender(id=platform_id))
        resident = await bridge.store.verify_resident(identity, by=by, at=bridge.clock())
    finally:
        await bridge.close()
    console().print(f"{identity} is verified (resident #{resident.id}, by {by}).")


@residents.command()
@config_option
@run_async
async def show(config_path: Path) -> None:
    """A table of residents and their identities."""
    bridge = await open_bridge(config_path)
    try:
        people = await bridge.store.list_residents()
    finally:
        await bridge.close()
    table = Table(title=f"{len(people)} residents", title_justify="left")
    for column in ("#", "name", "identities", "language", "verified"):
        table.add_column(column)
    for r in people:
        verified = f"{r.verified_at:%Y-%m-%d} by {r.verified_by}" if r.verified_at else "no"
        table.add_row(
            str(r.id), r.name or "-", ", ".join(r.identities), r.language or "-", verified
        )
    console().print(table)
