"""Taking a changed channels.yaml without a restart: the departments' settings, nothing else.

A department's block (keywords, staff, rota, SLA, reply texts) changes as the town hall's
people and promises change; the running department is rebuilt with the new block, and the
next message it handles sees it. Anything else (the town, the store, the web server, a
channel, which departments run, the plugins folder) holds connections or is read once at
start: a change there is reported as needing a restart, and nothing is applied. Plugin
code is never reloaded. Requests already promised keep the time they were promised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from junbridge.config import TRIAGE, Config, ConfigError
from junbridge.model import JunbridgeError
from junbridge.plugins import PluginManager, collect

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)


class RestartNeeded(JunbridgeError):
    """channels.yaml changed where a running bridge cannot take it; ``changed`` says where."""

    def __init__(self, changed: list[str]) -> None:
        super().__init__("restart needed: " + ", ".join(changed))
        self.changed = changed


@dataclass(frozen=True, slots=True, kw_only=True)
class Reloaded:
    """The departments rebuilt with their new settings (none: the file had not changed)."""

    departments: tuple[str, ...]


def running_departments(config: Config) -> set[str]:
    """The departments a bridge runs with ``config`` (the town hall desk always)."""
    return {name for name, s in config.departments.items() if s.enabled or name == TRIAGE}


def changes_needing_restart(old: Config, new: Config) -> list[str]:
    """Where ``new`` differs from ``old`` outside the departments' settings."""
    changed = [
        section
        for section in ("town", "store", "web", "plugins_dir")
        if getattr(old, section) != getattr(new, section)
    ]
    for name in sorted({*old.channels, *new.channels}):
        if old.channels.get(name) != new.channels.get(name):
            changed.append(f"channels.{name}")
    was, now = running_departments(old), running_departments(new)
    changed += [f"departments.{name} (turned on)" for name in sorted(now - was)]
    changed += [f"departments.{name} (turned off)" for name in sorted(was - now)]
    return changed


def reload_departments(bridge: Bridge) -> Reloaded:
    """Read channels.yaml again and rebuild the departments whose block changed.

    Raises ConfigError (the file is wrong: nothing applied) or RestartNeeded.
    """
    pm = bridge.pm
    # Bridges are built by get_plugin_manager(), which makes junbridge's own manager.
    assert isinstance(pm, PluginManager)
    new = collect(pm).load_config(bridge.config.path)
    old = bridge.config
    changed = changes_needing_restart(old, new)
    if set(bridge.departments) != running_departments(old):
        # Started with every department (the test harness), not from the file alone.
        changed.append("departments (this bridge runs departments channels.yaml has no block for)")
    if changed:
        raise RestartNeeded(changed)
    rebuilt = []
    for name, department in list(bridge.departments.items()):
        settings = new.departments[name]
        if settings != old.departments.get(name):
            bridge.departments[name] = type(department)(settings, department.context)
            rebuilt.append(name)
    bridge.config = dataclasses.replace(
        old, departments=new.departments, lines=new.lines, unlisted=new.unlisted
    )
    if rebuilt:
        log.info("channels.yaml reloaded: %s", ", ".join(rebuilt))
    return Reloaded(departments=tuple(rebuilt))


def _signature(path: Path) -> tuple[int, int, bytes] | None:
    """What tells one version of the file from another (None: it cannot be read now)."""
    try:
        data = path.read_bytes()
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, hashlib.sha256(data).digest()


def reload_now(bridge: Bridge) -> None:
    """``reload_departments``, its outcome logged: a wrong file is refused line by line and
    the running configuration goes on; a change that needs a restart says so."""
    try:
        done = reload_departments(bridge)
    except ConfigError as exc:
        log.error("channels.yaml not reloaded, the running configuration goes on:\n%s", exc)
    except RestartNeeded as exc:
        log.warning("channels.yaml not reloaded: %s (restart junbridge run to take it)", exc)
    else:
        if not done.departments:
            log.info("channels.yaml reloaded: no department's settings changed")


async def watch(
    bridge: Bridge, stop: asyncio.Event, hangup: asyncio.Event, *, every: float = 2.0
) -> None:
    """Reload channels.yaml on SIGHUP (``hangup``) and whenever the file changes, until
    ``stop``. Checked every ``every`` seconds; an editor's half-written file that fails to
    load is simply reported, and the next save is read again."""
    path = bridge.config.path
    seen = _signature(path)
    while not stop.is_set():
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(hangup.wait())}
        try:
            await asyncio.wait(waiters, timeout=every, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if stop.is_set():
            return
        now = _signature(path)
        if hangup.is_set() or (now is not None and now != seen):
            hangup.clear()
            seen = now
            reload_now(bridge)
