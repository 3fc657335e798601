"""``junbridge plugins``: each department and channel, where it comes from, whether it runs."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from junbridge.cli.common import config_option, console, fail
from junbridge.config import Config, ConfigError, plugins_dir_of
from junbridge.plugins import (
    DISABLE_VARIABLE,
    PluginError,
    PluginManager,
    Registry,
    Source,
    collect,
    disabled_plugins,
    get_plugin_manager,
    hooks_by_plugin,
)

NO_BLOCK = "off: no block in channels.yaml"
# What a table's borders and padding take at four columns.
FRAME = 13


def shown(path: str | Path) -> str:
    """A path as short as it reads: relative to the current folder when it is inside it."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def origin(source: Source) -> str:
    """``built-in``, the package as ``name==version``, or the file."""
    return shown(source.origin) if source.kind == "file" else source.origin


def department_status(name: str, config: Config | None) -> str:
    """Whether ``junbridge run`` runs the department, and if not, why."""
    if config is None:
        return "-"
    if name in config.unlisted:
        return NO_BLOCK
    settings = config.departments.get(name)
    if settings is None:
        return "-"
    return "on" if settings.enabled or name == "triage" else "off: enabled: false"


def channel_status(name: str, config: Config | None) -> str:
    """Whether ``junbridge run`` starts the channel, and if not, why."""
    if config is None:
        return "-"
    settings = config.channels.get(name)
    if settings is None:
        return NO_BLOCK
    return "on" if settings.enabled else "off: enabled: false"


def parts(pm: PluginManager, registry: Registry, config: Config | None) -> list[list[str]]:
    """One row per department and channel, then per plugin left out: name, kind, source
    and whether it runs (if not, why)."""
    replacing = {s.replaced_by for s in pm.sources if s.replaced_by and not s.disabled}
    found: list[tuple[str, str, Source, str]] = [
        (name, "department", source, department_status(name, config))
        for name, source in sorted(registry.department_sources.items())
    ]
    found += [
        (name, "channel", source, channel_status(name, config))
        for name, source in sorted(registry.channel_sources.items())
    ]
    cells = []
    for name, kind, source, status in found:
        if source.kind == "file" and Path(source.target) in replacing and status == "on":
            status = "on (replaces the package)"
        cells.append([name, kind, origin(source), status])
    # A plugin left out registers nothing, so what it would have is not known.
    for source in pm.sources:
        if source.disabled:
            cells.append([source.name, "plugin", origin(source), "off: disabled by env"])
        elif source.replaced_by is not None:
            why = f"off: replaced by {shown(source.replaced_by)}"
            cells.append([source.name, "plugin", origin(source), why])
    return cells


def parts_table(rows: list[list[str]], width: int) -> Table:
    """The rows of :func:`parts` as a table that reads at ``width`` columns: a name, kind or
    package==version stays whole where it can, and the status wraps between words."""
    columns = ("name", "kind", "source", "status")
    widths = [max(len(row[n]) for row in [list(columns), *rows]) for n in range(4)]
    room = width - FRAME
    if sum(widths) > room:
        # The status gets what is left, never less than its longest word ("channels.yaml").
        status = max(room - sum(widths[:3]), len("channels.yaml"))
        widths[2] = max(room - status - sum(widths[:2]), len("source"))
        widths[3] = max(room - sum(widths[:3]), 1)
    table = Table(title="Departments and channels", title_justify="left")
    for column, wide in zip(columns, widths, strict=True):
        table.add_column(column, width=wide, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def hooks_table(pm: PluginManager) -> Table:
    """Each loaded plugin, the module or file it is, and the hooks it implements."""
    table = Table(title="Hooks", title_justify="left")
    table.add_column("plugin")
    table.add_column("module", overflow="fold")
    table.add_column("hooks")
    for name, hooks in hooks_by_plugin(pm):
        source = pm.source(name)
        module = shown(source.target) if source.kind == "file" else source.target
        table.add_row(source.name, module, "\n".join(hooks))
    return table


@click.command()
@config_option
def plugins(config_path: Path) -> None:
    """List each department and channel: where it comes from, and whether it runs."""
    found = config_path.exists()
    try:
        pm = get_plugin_manager(plugins_dir_of(config_path) if found else None)
        registry = collect(pm)
    except (PluginError, ConfigError) as exc:
        raise fail(f"error: {exc}") from None
    config = None
    notes = []
    if not found:
        notes.append(f"{config_path} not found: which of these run depends on it (--config PATH)")
    else:
        try:
            config = registry.load_config(config_path)
        except ConfigError:
            notes.append(f"{config_path} has problems, so what runs is not known: junbridge check")
    disabled = disabled_plugins()
    if disabled:
        names = {s.name for s in pm.sources}
        notes.append(f"disabled by env: {DISABLE_VARIABLE}={','.join(sorted(disabled))}")
        if unknown := sorted(disabled - names):
            notes.append(f"{DISABLE_VARIABLE} names no plugin: {', '.join(unknown)}")
    out = console()
    out.print(parts_table(parts(pm, registry, config), out.width))
    out.print(hooks_table(pm))
    for note in notes:
        out.print(note, markup=False, soft_wrap=True)
