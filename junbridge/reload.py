"""Taking a changed channels.yaml without a restart: the departments' settings, nothing else.

A department's block (keywords, staff, rota, SLA, reply texts) changes as the town hall's
people and promises change; the running department is rebuilt with the new block, and the
next message it handles sees it. Anything else (the town, the store, the web server, a
channel, which departments run, the plugins folder) holds connections or is read once at
start: a change there is reported as needing a restart, and nothing is applied. Plugin
code is never reloaded. Requests already promised keep the time they were promised.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from junbridge.config import TRIAGE, Config
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
