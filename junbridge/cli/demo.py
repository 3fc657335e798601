"""``junbridge demo``: the whole bridge against local emulators, no accounts, no network."""

from __future__ import annotations

from pathlib import Path

import click

from junbridge.cli.check import load
from junbridge.cli.common import config_option, fail


@click.command()
@config_option
@click.option("--keep-running", is_flag=True, help="Leave the emulators and bridge up afterwards.")
def demo(config_path: Path, keep_running: bool) -> None:
    """Play a scripted day in Jun on emulated Telegram, Slack and X, and show the transcripts."""
    from junbridge.demo import main

    if not config_path.exists():
        raise fail(
            f"error: {config_path} not found: run the demo from the project folder "
            "or give --config PATH"
        )
    # The demo rewrites the channels for the emulators; the town's own file is checked first,
    # so a mistake is reported with its line in that file, as `junbridge check` reports it.
    load(config_path)
    raise click.exceptions.Exit(main(config_path, keep_running))
