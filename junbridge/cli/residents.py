"""``junbridge residents verify|block|unblock|show``: people, their identities, verification."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.table import Table

from junbridge.bridge import Bridge
from junbridge.cli.common import config_option, console, fail, open_bridge, run_async
from junbridge.model import Sender

log = logging.getLogger(__name__)


def split_identity(identity: str) -> tuple[str, str]:
    """``telegram:123`` -> ("telegram", "123"), or a clear error and exit 1."""
    channel, _, platform_id = identity.partition(":")
    if not channel or not platform_id:
        raise fail("error: write the identity as CHANNEL:ID, e.g. telegram:123456")
    return channel, platform_id


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
    channel, platform_id = split_identity(identity)
    bridge = await open_bridge(config_path, recover=False)
    try:
        await known_identity(bridge, channel, platform_id)
        resident = await bridge.store.verify_resident(identity, by=by, at=bridge.clock())
    finally:
        await bridge.close()
    console().print(f"{identity} is verified (resident #{resident.id}, by {by}).")


@residents.command()
@config_option
@click.argument("identity", metavar="CHANNEL:ID")
@click.option("--reason", required=True, help="Why, for the record (insults, spam...).")
@click.option("--by", "by", required=True, help="The staff member who decided it.")
@run_async
async def block(config_path: Path, identity: str, reason: str, by: str) -> None:
    """Block the person behind CHANNEL:ID: their messages are kept but never handled.

    The block holds on every account linked to them. An account that has not written yet
    can be blocked in advance.
    """
    channel, platform_id = split_identity(identity)
    bridge = await open_bridge(config_path, recover=False)
    try:
        await known_identity(bridge, channel, platform_id)
        # The residents table keeps no "blocked by" column: who decided goes with the reason.
        resident = await bridge.store.block_resident(
            identity, reason=f"{reason} (by {by})", at=bridge.clock()
        )
    finally:
        await bridge.close()
    log.warning("%s blocked by %s: %s", identity, by, reason)
    console().print(f"{identity} is blocked (resident #{resident.id}, by {by}): {reason}")


@residents.command()
@config_option
@click.argument("identity", metavar="CHANNEL:ID")
@run_async
async def unblock(config_path: Path, identity: str) -> None:
    """Lift the block on the person behind CHANNEL:ID."""
    split_identity(identity)
    bridge = await open_bridge(config_path, recover=False)
    try:
        resident = await bridge.store.unblock_resident(identity)
    except LookupError as exc:
        raise fail(f"error: {exc}") from None
    finally:
        await bridge.close()
    console().print(f"{identity} is no longer blocked (resident #{resident.id}).")


@residents.command()
@config_option
@run_async
async def show(config_path: Path) -> None:
    """A table of residents and their identities."""
    bridge = await open_bridge(config_path, recover=False)
    try:
        people = await bridge.store.list_residents()
    finally:
        await bridge.close()
    table = Table(title=f"{len(people)} residents", title_justify="left")
    for column in ("#", "name", "identities", "language", "verified", "blocked"):
        table.add_column(column)
    for r in people:
        verified = f"{r.verified_at:%Y-%m-%d} by {r.verified_by}" if r.verified_at else "no"
        blocked = f"{r.blocked_at:%Y-%m-%d}: {r.blocked_reason}" if r.blocked_at else "no"
        table.add_row(
            str(r.id), r.name or "-", ", ".join(r.identities), r.language or "-", verified, blocked
        )
    console().print(table)


async def known_identity(bridge: Bridge, channel: str, platform_id: str) -> None:
    """Make sure ``channel:platform_id`` is a resident (one who has not written yet is added).

    An unknown channel is a clear error, not a new identity nobody can ever write from.
    """
    if channel not in bridge.channel_classes:
        raise fail(
            f"error: unknown channel {channel!r} "
            f"(one of {', '.join(sorted(bridge.channel_classes))})"
        )
    await bridge.store.resident_for(channel, Sender(id=platform_id))
