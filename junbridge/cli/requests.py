"""``junbridge requests list|show|set|stats|parked|retry``: the town hall's view of requests."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.table import Table
from rich.text import Text

from junbridge.bridge import Bridge
from junbridge.cli.common import config_option, console, fail, open_bridge, run_async
from junbridge.cli.display import from_markup
from junbridge.model import IllegalTransition, ServiceRequest, Status
from junbridge.store.figures import figures
from junbridge.store.pages import Summary

STATES = [s.value for s in Status]


@click.group()
def requests() -> None:
    """List, inspect and change service requests."""


DEFAULT_LIMIT = 50
LIST_COLUMNS = ("ref", "department", "state", "assignee", "received", "due", "SLA")
# Widest a department or assignee is shown, so that a request's line fits 80 columns.
NAME_WIDTH = 12


def when(bridge: Bridge, value: object, *, shape: str = "%d %b %H:%M") -> str:
    """A datetime in the town's time zone, short."""
    if not isinstance(value, datetime):
        return "-"
    return value.astimezone(ZoneInfo(bridge.config.town.timezone)).strftime(shape)


@requests.command("list")
@config_option
@click.option("--status", "state", type=click.Choice(STATES), help="Only requests in this state.")
@click.option("--department", help="Only this department's requests.")
@click.option("--open", "open_only", is_flag=True, help="Only requests not closed.")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Requests per page.",
)
@click.option("--before", metavar="REF", help="The next page: requests older than REF.")
@run_async
async def list_requests(
    config_path: Path,
    state: str | None,
    department: str | None,
    open_only: bool,
    limit: int,
    before: str | None,
) -> None:
    """A page of requests, newest first, with how many there are and how to see more."""
    bridge = await open_bridge(config_path, recover=False)
    try:
        found = await bridge.store.page(
            limit=limit,
            before=before.upper() if before else None,
            department=department,
            open_only=open_only,
            state=Status(state) if state else None,
        )
        parked = await bridge.store.parked()
    except LookupError as exc:
        raise fail(f"error: {exc}") from None
    finally:
        await bridge.close()
    out = console()
    filtered = bool(state or department or open_only)
    if not found.summaries:
        out.print(
            f"No requests older than {before.upper()}."
            if before
            else ("No requests match." if filtered else "No requests.")
        )
    for line in listing(bridge, found.summaries, width=out.width):
        out.print(line, soft_wrap=True)
    if found.summaries:
        which = "matching requests" if filtered else "requests"
        after = f", older than {before.upper()}" if before else ""
        out.print(f"\n{len(found.summaries):,} of {found.total:,} {which}, newest first{after}.")
    if found.more:
        older = [
            "junbridge",
            "requests",
            "list",
            *(["--config", str(config_path)] if config_path != Path("channels.yaml") else []),
            *(["--status", state] if state else []),
            *(["--department", department] if department else []),
            *(["--open"] if open_only else []),
            *(["--limit", str(limit)] if limit != DEFAULT_LIMIT else []),
            "--before",
            found.summaries[-1].reference,
        ]
        out.print(f"Older ones: {shlex.join(older)}", markup=False, soft_wrap=True)
    elif before and found.summaries:
        out.print("These are the oldest.")
    if parked:
        out.print(
            f"[yellow]{len(parked)} message(s) could not be handled and are parked:[/] "
            "junbridge requests parked"
        )


def listing(bridge: Bridge, summaries: Sequence[Summary], *, width: int) -> list[Text]:
    """A header and two lines per request: its facts in columns, then its summary.

    The summary has a line of its own so that the columns fit 80 characters.
    """
    if not summaries:
        return []
    now = bridge.clock()
    rows = [
        [
            Text(s.reference),
            _name(s.department),
            Text(s.state.value),
            _name(s.assignee or "-"),
            Text(when(bridge, s.requested_datetime)),
            # The promised day alone: the SLA column says how it stands.
            Text(when(bridge, s.expected_datetime, shape="%d %b")),
            Text.from_markup(
                sla_cell(
                    state=s.state,
                    expected=s.expected_datetime,
                    now=now,
                    warned=s.sla_warned,
                    breached=s.sla_breached,
                    promised=promised(bridge, s.department),
                )
            ),
        ]
        for s in summaries
    ]
    widths = [
        max(len(title), *(row[i].cell_len for row in rows)) for i, title in enumerate(LIST_COLUMNS)
    ]
    lines = [_line([Text(title, style="bold") for title in LIST_COLUMNS], widths)]
    for s, row in zip(summaries, rows, strict=True):
        lines.append(_line(row, widths))
        said = s.summary if s.privacy == "public" else "(private)"
        if s.reporters > 1:
            said = f"[reported by {s.reporters}] {said}"
        summary = Text("  " + said, style="dim")
        summary.truncate(width, overflow="ellipsis")
        lines.append(summary)
    return lines


def _line(cells: Sequence[Text], widths: Sequence[int]) -> Text:
    """Cells padded to their column's width, two spaces apart."""
    line = Text()
    for number, (cell, width) in enumerate(zip(cells, widths, strict=True)):
        line.append_text(cell)
        if number < len(cells) - 1:
            line.append(" " * (width - cell.cell_len + 2))
    return line


def _name(name: str) -> Text:
    cell = Text(name)
    cell.truncate(NAME_WIDTH, overflow="ellipsis")
    return cell


@requests.command("parked")
@config_option
@run_async
async def parked(config_path: Path) -> None:
    """Messages set aside after failing again and again, with the error of the last try."""
    bridge = await open_bridge(config_path, recover=False)
    try:
        found = await bridge.store.parked()
    finally:
        await bridge.close()
    if not found:
        console().print("No parked messages.")
        return
    tz = ZoneInfo(bridge.config.town.timezone)
    out = console()
    out.print(f"{len(found)} parked message(s):")
    for p in found:
        received = p.received_at.astimezone(tz).strftime("%d %b %H:%M")
        out.print(f"\n[bold]#{p.inbound_id}[/]  {p.channel}  {received}  {p.attempts} tries")
        out.print(f"  error: {p.error or '-'}", markup=False)
        out.print(f"  text:  {p.text[:200]}", markup=False)
    out.print("\nFix the cause (often a reply template), then: junbridge requests retry --all")


@requests.command("retry")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every parked message.")
@run_async
async def retry(config_path: Path, ids: tuple[int, ...], every: bool) -> None:
    """Queue parked messages IDS (or --all) again; a running bridge handles them in seconds."""
    if not ids and not every:
        raise click.UsageError("give the ids from 'junbridge requests parked', or --all")
    bridge = await open_bridge(config_path, recover=False)
    try:
        count = await bridge.store.retry_parked(None if every else list(ids))
    finally:
        await bridge.close()
    console().print(f"{count} message(s) queued again.")


@requests.command("show")
@config_option
@click.argument("reference")
@run_async
async def show(config_path: Path, reference: str) -> None:
    """One request: its fields, its history and the replies sent."""
    bridge = await open_bridge(config_path, recover=False)
    try:
        request = await bridge.requests.get(reference)
        if request is None:
            raise fail(f"error: no request {reference.upper()}")
        replies = await bridge.store.replies_for(request.reference)
    finally:
        await bridge.close()
    out = console()
    out.print(
        f"[bold]{request.reference}[/] {request.service_name} — {request.state.value} "
        f"(Open311: {request.status}, {request.privacy})"
    )
    for label, value in (
        ("description", request.description),
        ("assignee", request.assignee),
        ("address", request.address or request.address_id),
        ("location", f"{request.lat}, {request.long}" if request.lat else None),
        ("reported by", reporters(bridge, request)),
        ("expected", when(bridge, request.expected_datetime)),
        ("notice", request.service_notice),
        # The resident's photos, voice notes and documents, for staff to open.
        (
            "files",
            ", ".join(
                f"{a.name or a.mime_type or a.kind} <{a.url or a.platform_ref}>"
                for a in request.attachments
            ),
        ),
    ):
        if value:
            out.print(f"  {label}: {value}", markup=False)
    history = Table(title="History", title_justify="left")
    for column in ("when", "who", "what", "note"):
        history.add_column(column)
    for entry in request.history:
        history.add_row(when(bridge, entry.at), entry.by, entry.action, entry.note or "")
    out.print(history)
    sent = Table(title="Replies", title_justify="left")
    for column in ("channel", "to", "status", "text"):
        sent.add_column(column, overflow="fold")
    for row in replies:
        to = f"DM {row.reply.recipient}" if row.reply.private else row.reply.conversation
        sent.add_row(row.reply.channel, to, row.status, from_markup(row.reply.text))
    out.print(sent)


def reporters(bridge: Bridge, request: ServiceRequest) -> str | None:
    """How many residents reported it and where those after the first wrote, with when;
    None when one did."""
    if request.reporters <= 1:
        return None
    later = [
        f"{r.channel} ({r.language or '-'}) {when(bridge, r.added_at)}" for r in request.joined
    ]
    where = f": {request.channel or '-'} first, then {', '.join(later)}" if later else ""
    return f"{request.reporters} residents{where}"


@requests.command("set")
@config_option
@click.argument("reference")
@click.argument("state", type=click.Choice(STATES))
@click.option("--note", help="Why, for the history.")
@click.option("--by", "by", default="town hall", show_default=True, help="Who made the change.")
@run_async
async def set_state(
    config_path: Path, reference: str, state: str, note: str | None, by: str
) -> None:
    """Move REFERENCE to STATE, recorded in its history."""
    bridge = await open_bridge(config_path, recover=False)
    try:
        request = await bridge.set_state(reference, Status(state), by=by, note=note)
    except (IllegalTransition, LookupError) as exc:
        raise fail(f"error: {exc}") from None
    finally:
        await bridge.close()
    console().print(f"{request.reference} is now [bold]{request.state.value}[/].")


def sla_cell(
    *,
    state: Status,
    expected: datetime | None,
    now: datetime,
    warned: bool,
    breached: bool,
    promised: bool = True,
) -> str:
    """How a request stands against its promise, from its SLA history lines, as rich markup.

    ``promised`` is False for departments whose expected time is an appointment.
    """
    if not promised:
        return "-"
    working = state.is_open and state is not Status.RESOLVED
    if breached or (expected and working and now > expected):
        return "[red]breached[/]"
    if warned and working:
        return "[yellow]75%[/]"
    return "on time" if expected else "-"


@requests.command("stats")
@config_option
@run_async
async def stats(config_path: Path) -> None:
    """Per department: requests, promises kept and broken, time to answer and resolve, ratings.

    Every department, private ones too, over all time: the same figures the public page
    shows for public departments over its period (junbridge.store.figures).
    """
    bridge = await open_bridge(config_path, recover=False)
    try:
        found = await figures(bridge.store, since=None, now=bridge.clock(), public_only=False)
    finally:
        await bridge.close()
    table = Table(
        title="Per department: promises kept of those due, median hours to the first answer "
        "and to resolve, rating",
        title_justify="left",
    )
    columns = ("department", "requests", "open", "promises", "to answer", "to resolve", "rating")
    for column in columns:
        table.add_column(column, justify="right" if column != "department" else "left")
    for figure in found:
        keeps = promised(bridge, figure.department)
        table.add_row(
            figure.department,
            str(figure.received),
            str(figure.open_now),
            f"{figure.kept}/{figure.kept + figure.broken}" if keeps else "-",
            _hours(figure.answer_median),
            _hours(figure.fix_median),
            f"{figure.rating:.1f} ({figure.rated})" if figure.rating is not None else "-",
        )
    console().print(table)


def _hours(seconds: float | None) -> str:
    return f"{seconds / 3600:.1f}" if seconds is not None else "-"


def promised(bridge: Bridge, department: str) -> bool:
    """Whether ``department`` makes promises staff are held to (not appointments)."""
    known = bridge.departments.get(department)
    return known.sla_alerts if known is not None else True
