"""Finding and loading plugins: built-ins, the ``junbridge`` entry-point group, files by path.

``get_plugin_manager()`` is a factory: nothing is loaded at import time and each caller (each
test) gets a fresh manager. Plugins load in this order, each under a name:

1. the built-ins (:data:`DEFAULT_PLUGINS`), named by their module's last part (``telegram``);
2. the entry points of installed packages in the ``junbridge`` group, by entry-point name
   (Jun's departments are ``lighting``, ``police``, ``doctor`` and ``school``);
3. plugin files, by stem: the ``*.py`` in ``plugins_dir`` (channels.yaml), then any given.

A file named like an entry point (a town's own ``plugins/lighting.py``) replaces that
packaged plugin, whose module is then not imported. ``JUNBRIDGE_DISABLE_PLUGINS=name,name``
leaves plugins out by name. The manager keeps a :class:`Source` for every plugin it found,
loaded or not, so ``junbridge plugins`` and start-up errors can say where each came from.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

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
ENTRY_POINT_GROUP = "junbridge"
DISABLE_VARIABLE = "JUNBRIDGE_DISABLE_PLUGINS"


class PluginError(JunbridgeError):
    """A plugin could not be loaded; the message names the file or entry point."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where one plugin comes from, and why it was left out if it was."""

    #: What ``JUNBRIDGE_DISABLE_PLUGINS`` names it by: a built-in module's last part, an
    #: entry point's name, a file's stem.
    name: str
    kind: Literal["built-in", "package", "file"]
    #: ``built-in``, the distribution as ``name==version``, or the file's path.
    origin: str
    #: What is imported: a module path, an entry point's value, a file's path.
    target: str
    #: Left out by ``JUNBRIDGE_DISABLE_PLUGINS``.
    disabled: bool = False
    #: The file that replaces this packaged plugin (one of the same name).
    replaced_by: Path | None = None

    @property
    def skipped(self) -> str | None:
        """Why it is not loaded; ``None`` when it is."""
        if self.disabled:
            return f"disabled by {DISABLE_VARIABLE}"
        if self.replaced_by is not None:
            return f"replaced by {self.replaced_by}"
        return None

    @property
    def plugin(self) -> str:
        """The name it is registered under in pluggy (``hooks_by_plugin`` shows it)."""
        return self.name if self.kind == "package" else self.target

    def __str__(self) -> str:
        if self.kind == "package":
            return f"package {self.origin} (entry point {self.name} = {self.target})"
        if self.kind == "built-in":
            return f"built-in {self.target}"
        return self.origin


class PluginManager(pluggy.PluginManager):
    """pluggy's manager for junbridge's hooks, knowing where each plugin came from."""

    def __init__(self) -> None:
        super().__init__("junbridge")
        self.add_hookspecs(hookspecs)
        #: Every plugin found, in load order, loaded or not.
        self.sources: list[Source] = []

    def source(self, plugin: str) -> Source:
        """The source of the plugin registered as ``plugin``."""
        for source in self.sources:
            if source.plugin == plugin and source.skipped is None:
                return source
        # Registered by hand (a test's pm.register): it came from no file or package.
        return Source(name=plugin, kind="built-in", origin="built-in", target=plugin)


def disabled_plugins() -> set[str]:
    """Names listed in ``JUNBRIDGE_DISABLE_PLUGINS``."""
    value = os.environ.get(DISABLE_VARIABLE, "")
    return {name.strip() for name in value.split(",") if name.strip()}


def _check_disabled(disabled: set[str], names: list[str]) -> None:
    unknown = sorted(disabled - set(names))
    if unknown:
        raise PluginError(
            f"{DISABLE_VARIABLE}: "
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


def _implements_a_hook(plugin: object) -> bool:
    return any(
        hasattr(getattr(plugin, name, None), "junbridge_impl") for name in hookspecs.HOOK_NAMES
    )


def plugin_files(plugins_dir: Path) -> list[Path]:
    """The plugin files in ``plugins_dir``: ``*.py`` not starting with an underscore."""
    if not plugins_dir.is_dir():
        raise PluginError(f"plugins_dir {plugins_dir} is not a folder")
    return sorted(p for p in plugins_dir.glob("*.py") if not p.name.startswith("_"))


def _distribution(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name}=={dist.version}" if dist is not None else "an unknown package"


def _files(paths: Iterable[Path]) -> dict[str, Path]:
    """The plugin files by stem, each once; two different files with one stem are an error."""
    by_stem: dict[str, Path] = {}
    for path in paths:
        other = by_stem.setdefault(path.stem, path)
        if other != path and os.path.realpath(other) != os.path.realpath(path):
            raise PluginError(
                f"two plugin files are called {path.stem!r}: {other} and {path}; "
                "a plugin's name is its file's stem, so rename one"
            )
    return by_stem


def _sources(
    files: Mapping[str, Path], eps: list[EntryPoint], disabled: Collection[str]
) -> list[Source]:
    """Every plugin found, in load order, with why it is left out (if it is)."""
    sources = [
        Source(name=m.rsplit(".", 1)[-1], kind="built-in", origin="built-in", target=m)
        for m in DEFAULT_PLUGINS
    ]
    sources += [
        Source(
            name=ep.name,
            kind="package",
            origin=_distribution(ep),
            target=ep.value,
            replaced_by=files.get(ep.name),
        )
        for ep in eps
    ]
    sources += [
        Source(name=stem, kind="file", origin=str(path), target=str(path))
        for stem, path in files.items()
    ]
    return [replace(s, disabled=True) if s.name in disabled else s for s in sources]


def _check_packages(sources: list[Source]) -> None:
    """Two loaded entry points with one name would be one plugin twice: say which."""
    seen: dict[str, Source] = {}
    for source in sources:
        if source.kind != "package" or source.skipped:
            continue
        if source.name in seen:
            raise PluginError(
                f"two installed packages declare the plugin {source.name!r}: "
                f"{seen[source.name].origin} ({seen[source.name].target}) and "
                f"{source.origin} ({source.target}); uninstall one"
            )
        seen[source.name] = source


def get_plugin_manager(
    plugins_dir: Path | None = None, *, extra: Iterable[Path] = (), town: bool = False
) -> PluginManager:
    """A new plugin manager with built-ins, entry points and the files in ``plugins_dir``.

    ``extra`` are more plugin files (the test harness's). ``town=True`` when these are all the
    plugins a town runs (``plugins_dir`` read from its channels.yaml): a
    ``JUNBRIDGE_DISABLE_PLUGINS`` name that matches none of them is then an error, not a
    plugin silently left running.
    """
    pm = PluginManager()
    disabled = disabled_plugins()
    files = _files([*(plugin_files(plugins_dir) if plugins_dir else []), *extra])
    eps = sorted(
        entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (ep.name, _distribution(ep)),
    )
    pm.sources = _sources(files, eps, disabled)
    if town:
        _check_disabled(disabled, [s.name for s in pm.sources])
    _check_packages(pm.sources)
    loaders: dict[str, Callable[[], object]] = {ep.name: ep.load for ep in eps}
    for source in pm.sources:
        if source.skipped:
            continue
        if source.kind == "built-in":
            plugin: object = importlib.import_module(source.target)
        elif source.kind == "package":
            try:
                plugin = loaders[source.name]()
            except Exception as exc:
                raise PluginError(f"{source}: failed to load: {type(exc).__name__}: {exc}") from exc
        else:
            plugin = load_file(Path(source.target))
        if not _implements_a_hook(plugin):
            raise PluginError(f"{source} implements no hooks — is @junbridge.hookimpl missing?")
        pm.register(plugin, name=source.plugin)
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
    #: The plugin that registered each channel and each department.
    channel_sources: dict[str, Source] = field(default_factory=dict)
    department_sources: dict[str, Source] = field(default_factory=dict)

    def departments_from(self, files: Iterable[Path]) -> list[str]:
        """The departments that the plugin files at these paths registered."""
        paths = {os.path.realpath(path) for path in files}
        return [
            name
            for name, source in self.department_sources.items()
            if source.kind == "file" and os.path.realpath(source.target) in paths
        ]

    def load_config(self, path: Path, *, without_block: Collection[str] = ()) -> Config:
        """channels.yaml checked against these plugins' blocks and reply templates.

        ``junbridge check`` and every command that starts a bridge load it here, so they
        refuse the same mistakes with the same lines. ``without_block`` names departments
        that run with their defaults when channels.yaml has no block for them.
        """
        return load_config(
            path,
            channels={n: c.Settings for n, c in self.channels.items()},
            departments={n: d.Settings for n, d in self.departments.items()},
            templates={n: d.templates() for n, d in self.departments.items()},
            without_block=without_block,
        )


def collect(pm: PluginManager) -> Registry:
    """Call the ``register_*`` hooks; two classes under one name is a start-up error.

    Each plugin's hook is called on its own, in pluggy's order, so the registry knows which
    plugin registered what.
    """
    registry = Registry(channels={}, departments={})
    loaded = [source.plugin for source in pm.sources]

    def order(source: Source) -> int:
        return loaded.index(source.plugin) if source.plugin in loaded else len(loaded)

    def adder(
        kind: str, into: dict[str, Any], sources: dict[str, Source], source: Source
    ) -> Callable[[Any], None]:
        def register(cls: Any) -> None:
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"{kind} class {cls.__qualname__} has no name")
            if name in into and into[name] is not cls:
                # Named in load order, whatever order pluggy called them in.
                first, second = sorted((sources[name], source), key=order)
                raise PluginError(
                    f"two {kind}s are called {name!r}: {first} and {second}"
                    + _replace_hint(first, second)
                )
            into[name] = cls
            sources[name] = source

        return register

    hooks = (
        ("channel", pm.hook.register_channels, registry.channels, registry.channel_sources),
        (
            "department",
            pm.hook.register_departments,
            registry.departments,
            registry.department_sources,
        ),
    )
    for kind, caller, into, sources in hooks:
        # pluggy calls the last registered first: keep its order.
        for impl in reversed(caller.get_hookimpls()):
            register = adder(kind, into, sources, pm.source(impl.plugin_name))
            impl.function(**{arg: register for arg in impl.argnames})
    return registry


def _replace_hint(first: Source, second: Source) -> str:
    kinds = {first.kind: first, second.kind: second}
    if "package" in kinds and "file" in kinds:
        package = kinds["package"]
        return f" (to use the file instead of the package's, name it {package.name}.py)"
    return ""
