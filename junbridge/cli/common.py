"""What the CLI commands share: the --config option, starting a bridge, printing errors."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console

from junbridge.bridge import Bridge
from junbridge.config import ConfigError
from junbridge.model import JunbridgeError
from junbridge.plugins import PluginError

P = ParamSpec("P")
T = TypeVar("T")


def console(*, stderr: bool = False) -> Console:
    """A rich console; plain text when output is not a terminal."""
    return Console(stderr=stderr, highlight=False)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("channels.yaml"),
    show_default=True,
    help="The town's channels.yaml.",
)


def fail(message: str) -> click.exceptions.Exit:
    """Print ``message`` to stderr and return the exit to raise (status 1)."""
    console(stderr=True).print(message, markup=False, soft_wrap=True)
    return click.exceptions.Exit(1)


def run_async(func: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    """Run an async command body; junbridge's own errors become a clear message and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return asyncio.run(func(*args, **kwargs))  # type: ignore[arg-type]
        except ConfigError as exc:
            raise fail(str(exc)) from None
        except (PluginError, JunbridgeError, FileNotFoundError) as exc:
            raise fail(f"error: {exc}") from None

    return wrapper


async def open_bridge(config_path: Path, **kwargs: Any) -> Bridge:
    """Start a bridge from channels.yaml, with a clear error if the file is not there."""
    if not config_path.exists():  # noqa: ASYNC240 - one stat before start-up, not per message
        raise FileNotFoundError(f"{config_path} not found (use --config PATH)")
    return await Bridge.start(config_path, **kwargs)
