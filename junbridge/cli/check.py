"""``junbridge check`` and ``junbridge schema``: is channels.yaml right, and what it may hold."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import click
from rich.table import Table

from junbridge.bridge import utcnow
from junbridge.cli.common import config_option, console, fail
from junbridge.config import (
    Config,
    ConfigError,
    config_schema,
    missing_secrets,
    plugins_dir_of,
    unset_variables,
)
from junbridge.departments import DepartmentContext
from junbridge.model import ServiceRequest
from junbridge.plugins import PluginError, Registry, collect, get_plugin_manager
from junbridge.web.admin import token_problem


class _NoStore:
    """``check`` reads no requests; a department that asks is told so."""

    async def list(
        self, *, department: str | None = None, open_only: bool = False
    ) -> Sequence[ServiceRequest]:
        raise RuntimeError("junbridge check does not open the store")

    async def open_load(self, department: str) -> Mapping[str, int]:
        raise RuntimeError("junbridge check does not open the store")


def load(config_path: Path) -> tuple[Registry, Config]:
    """Plugins first (they define the blocks), then channels.yaml."""
    if not config_path.exists():
        raise fail(f"error: {config_path} not found (use --config PATH)")
    try:
        registry = collect(get_plugin_manager(plugins_dir_of(config_path), town=True))
        config = registry.load_config(config_path)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except PluginError as exc:
        raise fail(f"error: {exc}") from None
    return registry, config


def channel_table(config: Config) -> Table:
    """Each configured channel, its mode, and whether ``junbridge run`` will start it."""
    table = Table(title="Channels", title_justify="left")
    for column in ("channel", "mode", "status"):
        table.add_column(column)
    for name, settings in config.channels.items():
        names = unset_variables(settings)
        if not settings.enabled:
            status = "off: enabled: false"
        elif names:
            status = f"[yellow]skipped: {', '.join(names)} not set[/]"
        else:
            status = "[green]will run[/]"
        table.add_row(name, str(getattr(settings, "mode", "-")), status)
    return table


def department_table(registry: Registry, config: Config) -> tuple[Table, list[str]]:
    """Each department with its staff, rota and SLA; and the texts missing a translation."""
    context = DepartmentContext(
        town=config.town, clock=utcnow, requests=_NoStore(), config_dir=config.config_dir
    )
    rows: list[tuple[str, ...]] = []
    untranslated: list[str] = []
    for name, settings in config.departments.items():
        department = registry.departments[name](settings, context)
        # One person a line, the lead marked: at 80 columns a name wraps, never a list.
        staff = [s.name + (" (lead)" if s.role == "lead" else "") for s in settings.staff]
        rota = sorted({s.staff for s in settings.on_duty})
        hours = f"{settings.sla_hours:g} h"
        rows.append(
            (
                name if settings.enabled else f"{name} (disabled)",
                department.privacy,
                "\n".join(staff) or "-",
                "\n".join(rota) or "-",
                f"{hours} working" if settings.business_hours else hours,
            )
        )
        untranslated += [
            f"{name}: {key} has no {lang} text" for lang, key in department.missing_translations()
        ]
    table = Table(title="Departments", title_justify="left")
    for number, column in enumerate(("department", "privacy", "staff", "on duty", "SLA")):
        # Narrow terminals wrap between words, and only cut a word longer than this.
        cells = [column, *(row[number] for row in rows)]
        longest = max(len(word) for cell in cells for word in cell.split())
        table.add_column(column, min_width=min(longest, 16), overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table, untranslated


@click.command()
@config_option
@click.option("--strict", is_flag=True, help="Treat unset secrets as errors (for production).")
def check(config_path: Path, strict: bool) -> None:
    """Validate channels.yaml; print a summary (exit 0) or every problem (exit 1)."""
    registry, config = load(config_path)
    out = console()
    secrets = missing_secrets(config)
    out.print(channel_table(config))
    departments, untranslated = department_table(registry, config)
    out.print(departments)
    for problem in secrets:
        out.print("[yellow]warning:[/] ", end="")
        # An Open311 key without its secret refuses every report sent with it.
        api_key = problem.path.startswith("open311.")
        effect = "the key is refused" if api_key else "the channel will be skipped"
        out.print(f"{problem} — {effect}", markup=False, soft_wrap=True)
    for line in untranslated:
        out.print(f"[yellow]untranslated:[/] {line} (falls back to {config.town.language})")
    if config.unlisted:
        out.print(
            f"off: {', '.join(config.unlisted)} (installed, but channels.yaml has no block for "
            "them under departments:; add one, even empty, to turn a department on)",
            soft_wrap=True,
        )
    open311 = config.open311
    if open311.enabled:
        keys = ", ".join(k.name for k in open311.api_keys) or "none: reading only"
        out.print(f"Open311: /open311/v2/, API keys: {keys}", soft_wrap=True)
    # Set but unusable (unset or too short): the admin API stays off; --strict refuses it.
    admin = token_problem(config)
    if admin is not None:
        out.print("[yellow]warning:[/] ", end="")
        out.print(str(admin), markup=False, soft_wrap=True)
    if strict and (secrets or admin is not None):
        raise click.exceptions.Exit(1)
    staff = sum(len(s.staff) for s in config.departments.values())
    out.print(
        f"[green]{config_path} is valid[/]: {len(config.channels)} channels, "
        f"{len(config.departments)} departments, {staff} staff.",
        soft_wrap=True,
    )


@click.command()
@config_option
def schema(config_path: Path) -> None:
    """Print the JSON Schema of channels.yaml (with the loaded plugins' blocks) for editors."""
    try:
        registry = collect(
            get_plugin_manager(plugins_dir_of(config_path) if config_path.exists() else None)
        )
    except PluginError as exc:
        raise fail(f"error: {exc}") from None
    document = config_schema(
        {n: c.Settings for n, c in registry.channels.items()},
        {n: d.Settings for n, d in registry.departments.items()},
    )
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))
