"""Finding and loading plugins: built-ins, the ``junbridge`` entry-point group, files by path.

``get_plugin_manager()`` is a factory: nothing is loaded at import time and each caller (each
test) gets a fresh manager. ``JUNBRIDGE_DISABLE_PLUGINS=name,name`` leaves plugins out by name
(a file's stem, an entry point's name or a built-in module's last part).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from junbridge import hookspecs
from junbridge.config import Config, load_config
from junbridge.config.errors import did_you_mean
from junbridge.model import JunbridgeError

if TYPE_CHECKING:
    from junbridge.channels.base import Channel
    from junbridge.departments import Department

DEFAULT_PLUGINS: tuple[str, ...] = (
    "junbridge.routing",
    "junbridge.desk.triage",
    "junbridge.channels.telegram",
    "junbridge.channels.slack",
    "junbridge.channels.twitter",
    "junbridge.channels.console",
)


class PluginError(JunbridgeError):
    """A plugin could not be loaded; the message names the file or entry point."""


def disabled_plugins() -> set[str]:
    """Names listed in ``JUNBRIDGE_DISABLE_PLUGINS``."""
    value = os.environ.get("JUNBRIDGE_DISABLE_PLUGINS", "")
    return {name.strip() for name in value.split(",") if name.strip()}


def _check_disabled(disabled: set[str], names: list[str]) -> None:
    unknown = sorted(disabled - set(names))
    if unknown:
        raise PluginError(
            "JUNBRIDGE_DISABLE_PLUGINS: "
            + "; ".join(f"no plugin is called {n!r}{did_you_mean(n, names)}" for n in unknown)
        )


def load_file(path: Path) -> ModuleType:
    """Import one plugin file by path, as module ``junbridge_plugins.<stem>``."""
    module_name = f"junbridge_plugins.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise PluginError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def _implements_a_hook(module: ModuleType) -> bool:
    return any(
        hasattr(getattr(module, name, None), "junbridge_impl") for name in hookspecs.HOOK_NAMES
    )


def plugin_files(plugins_dir: Path) -> list[Path]:
    """The plugin files in ``plugins_dir``: ``*.py`` not starting with an underscore."""
    if not plugins_dir.is_dir():
        raise PluginError(f"plugins_dir {plugins_dir} is not a folder")
    return sorted(p for p in plugins_dir.glob("*.py") if not p.name.startswith("_"))


def get_plugin_manager(
    plugins_dir: Path | None = None, *, extra: Iterable[Path] = (), town: bool = False
) -> pluggy.PluginManager:
    """A new plugin manager with built-ins, entry points and the files in ``plugins_dir``.

    ``town=True`` when these are all the plugins a town runs (``plugins_dir`` read from its
    channels.yaml): a ``JUNBRIDGE_DISABLE_PLUGINS`` name that matches none of them is then
    an error, not a plugin silently left running.
    """
    pm = pluggy.PluginManager("junbridge")
    pm.add_hookspecs(hookspecs)
    disabled = disabled_plugins()
    files = [*(plugin_files(plugins_dir) if plugins_dir else []), *extra]
    eps = list(entry_points(group="junbridge"))
    if town:
        _check_disabled(
            disabled,
            [m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS]
            + [ep.name for ep in eps]
            + [p.stem for p in files],
        )
    for module_name in DEFAULT_PLUGINS:
        short = module_name.rsplit(".", 1)[-1]
        if short not in disabled:
            pm.register(importlib.import_module(module_name), name=module_name)
    for ep in eps:
        if ep.name not in disabled:
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as exc:
                raise PluginError(f"entry point {ep.name} ({ep.value}): {exc}") from exc
    for path in files:
        if path.stem in disabled:
            continue
        module = load_file(path)
        if not _implements_a_hook(module):
            raise PluginError(f"{path} implements no hooks — is @junbridge.hookimpl missing?")
        pm.register(module, name=str(path))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    return pm


def hooks_by_plugin(pm: pluggy.PluginManager) -> list[tuple[str, list[str]]]:
    """(plugin name, hooks it implements) for every registered plugin, in load order."""
    rows = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
        rows.append((name, hooks))
    return rows


@dataclass(frozen=True, slots=True)
class Registry:
    """The Channel and Department classes that plugins registered, by name."""

    channels: dict[str, type[Channel]]
    departments: dict[str, type[Department]]

    def load_config(self, path: Path, *, every_department: bool = False) -> Config:
        """channels.yaml checked against these plugins' blocks and reply templates.

        ``junbridge check`` and every command that starts a bridge load it here, so they
        refuse the same mistakes with the same lines.
        """
        return load_config(
            path,
            channels={n: c.Settings for n, c in self.channels.items()},
            departments={n: d.Settings for n, d in self.departments.items()},
            templates={n: d.templates() for n, d in self.departments.items()},
            every_department=every_department,
        )


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call the ``register_*`` hooks; two classes under one name is a start-up error."""
    channels: dict[str, type[Channel]] = {}
    departments: dict[str, type[Department]] = {}

    def adder(kind: str, into: dict[str, Any]) -> Callable[[Any], None]:
        def register(cls: Any) -> None:
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"{kind} class {cls.__qualname__} has no name")
            if name in into and into[name] is not cls:
                raise PluginError(
                    f"two {kind}s are called {name!r}: {into[name].__module__} and {cls.__module__}"
                )
            into[name] = cls

        return register

    pm.hook.register_channels(register=adder("channel", channels))
    pm.hook.register_departments(register=adder("department", departments))
    return Registry(channels=channels, departments=departments)
