"""``junbridge run`` and ``junbridge normalize``: the bridge for real, and one payload checked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from junbridge.channels.base import InvalidPayload
from junbridge.cli.common import config_option, console, fail, run_async
from junbridge.cli.logs import log_json
from junbridge.plugins import PluginError, collect, get_plugin_manager
from junbridge.runner import run as run_service

PLATFORMS = ("telegram", "slack", "twitter")


@click.command()
@config_option
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object a line, for a log collector.",
)
@run_async
async def run(config_path: Path, log_format: str) -> None:
    """Run every enabled channel, the web server and the outbox until SIGTERM."""
    if not config_path.exists():  # noqa: ASYNC240 - once, before start-up
        raise fail(f"error: {config_path} not found (use --config PATH)")
    if log_format == "json":
        log_json()
    # An operator wants to see the bridge start, skip channels and stop.
    logging.getLogger("junbridge").setLevel(logging.INFO)
    await run_service(config_path)


@click.command()
@click.option("--channel", type=click.Choice(PLATFORMS), required=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def normalize(channel: str, file: Path) -> None:
    """Print the Message a platform payload FILE.json becomes (exit 1 if it is invalid)."""
    try:
        payload = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise fail(f"invalid: {file} is not JSON: {exc}") from None
    try:
        cls = collect(get_plugin_manager()).channels[channel]
    except PluginError as exc:
        raise fail(f"error: {exc}") from None
    # Parsing needs no secrets: an unconfigured channel parses like a configured one.
    parser = cls(cls.Settings.model_construct())
    try:
        message = parser.parse(payload)
    except InvalidPayload as exc:
        raise fail(f"invalid: {exc}") from None
    if message is None:
        console().print(f"ignored: this {channel} payload is not a resident's message")
        return
    data = message.to_json()
    data.pop("raw", None)
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
