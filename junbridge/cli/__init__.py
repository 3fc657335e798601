"""The ``junbridge`` command line: check, plugins, simulate, requests, residents, staff."""

from __future__ import annotations

import logging

import click
from rich.logging import RichHandler

from junbridge.cli import (
    check,
    demo,
    maintenance,
    plugins,
    requests,
    residents,
    run,
    simulate,
    staff,
)
from junbridge.cli.common import console


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what the bridge does.")
# From the installed package's metadata, so it is the version pip installed, not a copy.
@click.version_option(package_name="junbridge", message="junbridge %(version)s")
def cli(verbose: bool) -> None:
    """junbridge: the town's services over Telegram, Slack and X."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console(stderr=True), show_path=False)],
    )


cli.add_command(check.check)
cli.add_command(plugins.plugins)
cli.add_command(check.schema)
cli.add_command(run.run)
cli.add_command(demo.demo)
cli.add_command(run.normalize)
cli.add_command(simulate.simulate)
cli.add_command(requests.requests)
cli.add_command(residents.residents)
cli.add_command(staff.staff)
cli.add_command(maintenance.maintenance)


def main() -> None:
    """Entry point of the ``junbridge`` console script; plugins may add commands."""
    from junbridge.plugins import get_plugin_manager

    try:
        pm = get_plugin_manager()
        pm.hook.register_commands(cli=cli)
    except Exception as exc:  # a broken plugin must not take --help down with it
        console(stderr=True).print(f"[yellow]warning:[/] plugin commands not loaded: {exc}")
    cli()
