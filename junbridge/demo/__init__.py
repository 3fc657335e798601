"""``junbridge demo``: a day in Jun against local emulators of Telegram, Slack and X."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from junbridge.cli.display import displayed
from junbridge.demo.script import PLATFORM_TITLES, Day, SceneTimeout, Transcript, catch_up
from junbridge.demo.town import DEMO_PORT, DemoTown, open_town, port_free
from junbridge.demo.visit import visit


async def play(town: DemoTown, transcript: Transcript, console: Console) -> None:
    """Run every scene with a progress bar."""
    scenes = Day().scenes()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("A day in Jun", total=len(scenes))
        for scene in scenes:
            await catch_up(
                town, transcript, town.clock.at(scene.day, scene.hour, scene.minute, town.tz)
            )
            town.clock.set(scene.day, scene.hour, scene.minute, town.tz)
            when = f"day {scene.day + 1} {scene.hour:02d}:{scene.minute:02d}"
            progress.update(task, description=f"{when} {scene.title}")
            await scene.act(town, transcript)
            console.print(f"[green]✓[/] {when} {scene.title}")
            progress.advance(task)


def transcripts(town: DemoTown, transcript: Transcript) -> list[Panel]:
    """One panel per platform: who said what, in order."""
    # Slack shows a mention by the member's name: "@electricista", not "<@U0ELECTRIC>".
    members = {uid: user["name"] for uid, user in town.slack.workspace.users.items()}
    panels = []
    for platform, title in PLATFORM_TITLES.items():
        said: list[RenderableType] = []
        for line in transcript.lines:
            if line.platform != platform:
                continue
            when = line.at.astimezone(town.tz).strftime("%a %H:%M")
            said.append(Text(f"{when} {line.who}", style="cyan" if line.town else "bold"))
            shown = displayed(platform, line.text, members) if line.town else Text(line.text)
            # Indented as a whole, so a long line wraps under itself, not under the names.
            said.append(Padding(shown, (0, 0, 1, 4)))
        panels.append(Panel(Group(*said), title=title, title_align="left"))
    return panels


async def summary(town: DemoTown) -> Table:
    """The requests of the day."""
    table = Table(title="Requests of the day", title_justify="left", show_edge=False)
    for column in ("ref", "department", "state", "channel", "assignee", "expected"):
        # Only a name may wrap: a reference or a time broken over two lines reads wrong.
        table.add_column(column, no_wrap=column != "assignee")
    for request in reversed(await town.bridge.requests.all()):
        expected = request.expected_datetime
        table.add_row(
            request.reference,
            request.department,
            request.state.value,
            request.channel or "-",
            request.assignee or "-",
            expected.astimezone(town.tz).strftime("%d %b %H:%M") if expected else "-",
        )
    return table


async def run_demo(config_path: Path, *, keep_running: bool, console: Console) -> int:
    """Play the day; print transcripts and the requests; 0 when every scene was answered."""
    # Kept running, it listens where a newcomer expects it (8080) if it can.
    port = DEMO_PORT if keep_running and port_free(DEMO_PORT) else 0
    town = await open_town(config_path, port=port)
    transcript = Transcript()
    try:
        console.print(
            f"Emulators: Telegram {town.telegram.url} · Slack {town.slack.url}\n"
            f"           X {town.x.url}\n"
            f"Bridge: {town.server.url} · store {town.workdir / 'demo.db'}",
            soft_wrap=True,
        )
        await play(town, transcript, console)
        console.print(Group(*transcripts(town, transcript)))
        console.print(await summary(town))
        if keep_running:
            config = town.workdir / "channels.yaml"
            shown = await visit(town)
            # One address a line, never wrapped: they are copied into a browser.
            console.print("Open in a browser:")
            for what, address in shown.addresses:
                console.print(f"  {what}: {address}", soft_wrap=True, markup=False)
            example = town.server.url + "/open311/v2/requests.json"
            console.print(
                f"Console password for {shown.staff}: {shown.password}\n"
                f"Open311 API key (the demo's client): {shown.api_key}, e.g.\n"
                f"  curl -d api_key={shown.api_key} -d service_code={shown.service_code} "
                f"-d lat=37.2218 -d long=-3.593 "
                f'-d "description=Farola apagada" {example}\n'
                f"Still running: {town.server.url}/ — Ctrl-C to stop.\n"
                f"Explore the day's store from another terminal:\n"
                f"  junbridge requests list --config {config}\n"
                f"  junbridge requests show JUN-0001 --config {config}\n"
                f"  junbridge requests stats --config {config}",
                soft_wrap=True,
            )
            await town.stop.wait()
    except SceneTimeout as exc:
        console.print("[red]The bridge did not answer a scene in time.[/]")
        console.print(str(exc), markup=False)
        return 1
    finally:
        await town.close()
    return 0


def main(config_path: Path, keep_running: bool = False) -> int:
    """Entry point for the CLI."""
    console = Console(highlight=False)
    try:
        return asyncio.run(run_demo(config_path, keep_running=keep_running, console=console))
    except KeyboardInterrupt:
        return 0
