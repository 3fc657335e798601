"""``junbridge staff password NAME``: a staff member's password for the staff console."""

from __future__ import annotations

from pathlib import Path

import click

from junbridge.cli.common import config_option, console, fail, open_bridge, run_async
from junbridge.store import staff_access
from junbridge.web.console import access


@click.group()
def staff() -> None:
    """The staff console's sign-in: passwords set by an admin."""


@staff.command()
@config_option
@click.argument("name")
@click.password_option(
    "--password",
    prompt="Password",
    confirmation_prompt="Again",
    help="Read from the terminal when not given (never put it in a shell's history).",
)
@run_async
async def password(config_path: Path, name: str, password: str) -> None:
    """Set NAME's console password (NAME as listed under departments.*.staff).

    The store keeps a salted scrypt hash; their open console sessions end.
    """
    if len(password) < access.MIN_PASSWORD:
        raise fail(f"error: a password needs at least {access.MIN_PASSWORD} characters")
    bridge = await open_bridge(config_path, recover=False)
    try:
        departments = access.departments_of(bridge.departments, name)
        if not departments:
            names = sorted({m.name for d in bridge.departments.values() for m in d.settings.staff})
            raise fail(
                f"error: nobody called {name!r} is staff in channels.yaml ({', '.join(names)})"
            )
        await staff_access.set_password(
            bridge.store, name, access.hash_password(password), now=bridge.clock()
        )
        ended = await staff_access.end_sessions_of(bridge.store, name)
    finally:
        await bridge.close()
    where = ", ".join(d.name for d in departments)
    console().print(
        f"{name} ({where}) can sign in to {bridge.config.web.public_url.rstrip('/')}/staff "
        f"with this password; {ended} open session(s) ended."
    )
