"""The plugin contract: every hook junbridge calls, documented as an API reference.

Hooks collect objects; objects act. At start-up pluggy asks plugins for Channel and
Department classes; the per-message work then runs as typed async methods on those objects.
All hooks are called with keyword arguments, and only through typed :class:`Bridge` methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from junbridge.bridge import Bridge
    from junbridge.channels.base import Channel
    from junbridge.departments import Department
    from junbridge.model import Message, ServiceRequest
    from junbridge.routing import Route

hookspec = pluggy.HookspecMarker("junbridge")
hookimpl = pluggy.HookimplMarker("junbridge")


@hookspec
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register Channel classes.

    Called once at start-up. ``Channel.name`` is the channel's key under ``channels:`` in
    channels.yaml; that block is validated by ``Channel.Settings``.
    """


@hookspec
def register_departments(register: Callable[[type[Department]], None]) -> None:
    """Register Department classes.

    Called once at start-up. ``Department.name`` is the department's key under
    ``departments:`` in channels.yaml; that block is validated by ``Department.Settings``.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``junbridge`` command line.

    Called once when the CLI starts, before arguments are parsed.
    """


@hookspec
def startup(bridge: Bridge) -> None:
    """Called once the bridge is built and its store is ready, before any message.

    Use it to read settings or warm caches; do not send messages from here.
    """


@hookspec(firstresult=True)
def route(message: Message, departments: Mapping[str, Department], bridge: Bridge) -> Route | None:
    """Choose the department for a message that no open conversation claims.

    ``departments`` maps names to the enabled departments. Return a :class:`Route`: one
    department, candidates for the resident to choose between, or triage.
    Called synchronously for every new message. Stops at first non-None result.
    The built-in keyword router is a ``trylast`` implementation.
    """


@hookspec
def request_changed(request: ServiceRequest, change: str, bridge: Bridge) -> None:
    """Called after a service request was created or changed and the change was stored.

    ``change`` is the history action (``received``, ``assigned``, ``resolved``, ...).
    Use it for audit, metrics and integrations; the return value is ignored and an
    exception is logged, never propagated to the resident.
    """


HOOK_NAMES: tuple[str, ...] = (
    "register_channels",
    "register_departments",
    "register_commands",
    "startup",
    "route",
    "request_changed",
)
