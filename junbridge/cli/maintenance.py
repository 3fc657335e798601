"""``junbridge maintenance``: the daily housekeeping, run from cron or a systemd timer."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import click
from rich.table import Table

from junbridge.cli.common import config_option, console, open_bridge, run_async
from junbridge.retention import RetentionAction, apply_retention, policies
from junbridge.store import totals


@click.command()
@config_option
@click.option(
    "--dry-run", is_flag=True, help="Show what would be anonymized or deleted; change nothing."
)
@click.option(
    "--recount-figures",
    is_flag=True,
    help="Count the public figures' running totals again from every request (after an "
    "upgrade during which workers of an older release changed requests), then stop.",
)
@run_async
async def maintenance(config_path: Path, dry_run: bool, recount_figures: bool) -> None:
    """Apply each department's retention to its closed requests."""
    # The audit lines are the only trace a deleted request leaves: never filtered out.
    logging.getLogger("junbridge.audit").setLevel(logging.INFO)
    if recount_figures and dry_run:
        raise click.UsageError("--recount-figures changes the totals: it has no --dry-run")
    bridge = await open_bridge(config_path, recover=False)
    try:
        if recount_figures:
            with console().status("Counting every request's figures again…"):
                await bridge.store.write(lambda tx: totals.rebuild(tx.connection))
        else:
            rules = policies(bridge)
            done = await apply_retention(bridge, now=bridge.clock(), dry_run=dry_run)
    finally:
        await bridge.close()
    out = console()
    if recount_figures:
        out.print("The public figures' running totals were counted again.")
        return
    if not rules:
        out.print("No department has a retention: nothing to do (see retention: in channels.yaml).")
        return
    by_department: defaultdict[str, list[RetentionAction]] = defaultdict(list)
    for action in done:
        by_department[action.department].append(action)
    if dry_run:
        title = f"Retention, dry run: {len(done)} requests would be let go (nothing changed)"
    else:
        title = f"Retention: {len(done)} requests let go"
    table = Table(title=title, title_justify="left")
    for column in ("department", "rule", "requests", "photos", "references"):
        table.add_column(column, overflow="fold")
    for department, rule in rules.items():
        actions = by_department.get(department, [])
        table.add_row(
            department,
            f"{rule.action} after {rule.after_days} days",
            str(len(actions)),
            str(sum(a.photos for a in actions)),
            ", ".join(a.reference for a in actions) or "-",
        )
    out.print(table)
