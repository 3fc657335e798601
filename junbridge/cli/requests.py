"""``junbridge requests list|show|set|stats|parked|retry``: the town hall's view of requests."""

from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from junbridge.bridge import Bridge
from junbridge.cli.common import config_option, console, fail, open_bridge, run_async
from junbridge.model import IllegalTransition, ServiceRequest, Status

STATES = [s.value for s in Status]


@click.group()
def requests() -> None:
    """List, inspect and change service requests."""


def when(bridge: Bridge, request: ServiceRequest, value: object) -> str:
    """A datetime in the town's time zone, short."""
    if not isinstance(value, datetime):
        return "-"
    return value.astimezone(bridge.departments[request.department].tz).strftime("%d %b %H:%M")


@requests.command("list")
@config_option
@click.option("--status", "state", type=click.Choice(STATES), help="Only requests in this state.")
@click.option("--department", help="Only this department's requests.")
@click.option("--open", "open_only", is_flag=True, help="Only requests not closed.")
@run_async
async def list_requests(
    config_path: Path, state: str | None, department: str | None, open_only: bool
) -> None:
    """A table of requests, newest first."""
    bridge = await open_bridge(config_path, recover=False)
    try:
        if open_only:
            found = await bridge.requests.open(department)
        else:
            found = await bridge.requests.all(
                department=department, state=Status(state) if state else None
            )
        parked = await bridge.store.parked()
    finally:
        await bridge.close()
    table = Table(title=f"{len(found)} requests", title_justify="left")
    for column in ("ref", "department", "state"):
        table.add_column(column, no_wrap=True)
    for column in ("assignee", "received", "expected", "SLA"):
        table.add_column(column, overflow="fold")
    table.add_column("summary", overflow="fold")
    now = bridge.clock()
    for r in found:
        summary = r.description if r.privacy == "public" else "(private)"
        table.add_row(
            r.reference,
            r.department,
            r.state.value,
            r.assignee or "-",
            when(bridge, r, r.requested_datetime),
            when(bridge, r, r.expected_datetime),
            sla_status(r, now, promised=promised(bridge, r)),
            summary[:60],
        )
    console().print(table)
    if parked:
        console().print(
            f"[yellow]{len(parked)} message(s) could not be handled and are parked:[/] "
            "junbridge requests parked"
        )


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
        ("expected", when(bridge, request, request.expected_datetime)),
        ("notice", request.service_notice),
    ):
        if value:
            out.print(f"  {label}: {value}", markup=False)
    history = Table(title="History", title_justify="left")
    for column in ("when", "who", "what", "note"):
        history.add_column(column)
    for entry in request.history:
        history.add_row(when(bridge, request, entry.at), entry.by, entry.action, entry.note or "")
    out.print(history)
    sent = Table(title="Replies", title_justify="left")
    for column in ("channel", "to", "status", "text"):
        sent.add_column(column, overflow="fold")
    for row in replies:
        to = f"DM {row.reply.recipient}" if row.reply.private else row.reply.conversation
        sent.add_row(row.reply.channel, to, row.status, row.reply.text)
    out.print(sent)


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


def sla_status(request: ServiceRequest, now: datetime, *, promised: bool = True) -> str:
    """How the request stands against its promise, as a table cell.

    ``promised`` is False for departments whose expected time is an appointment.
    """
    if not promised:
        return "-"
    actions = {h.action for h in request.history}
    if "sla_breach" in actions or (
        request.expected_datetime
        and request.state.is_open
        and request.state is not Status.RESOLVED
        and now > request.expected_datetime
    ):
        return "[red]breached[/]"
    if "sla_warning" in actions and request.state.is_open and request.state is not Status.RESOLVED:
        return "[yellow]75%[/]"
    return "on time" if request.expected_datetime else "-"


@requests.command("stats")
@config_option
@run_async
async def stats(config_path: Path) -> None:
    """Per department: requests, how many broke their promise, time to resolve, ratings."""
    bridge = await open_bridge(config_path, recover=False)
    try:
        found = await bridge.requests.all()
    finally:
        await bridge.close()
    now = bridge.clock()
    table = Table(title="Promises kept, per department", title_justify="left")
    for column in ("department", "requests", "open", "breached", "median to resolve", "rating"):
        table.add_column(column, justify="right" if column != "department" else "left")
    for department in sorted({r.department for r in found}):
        mine = [r for r in found if r.department == department]
        hours = [
            (first_resolved - r.requested_datetime).total_seconds() / 3600
            for r in mine
            if (first_resolved := next((h.at for h in r.history if h.action == "resolved"), None))
            is not None
        ]
        ratings = [int(r.details["rating"]) for r in mine if "rating" in r.details]
        breached = sum("breached" in sla_status(r, now, promised=promised(bridge, r)) for r in mine)
        average = sum(ratings) / len(ratings) if ratings else None
        stars = (
            f"{'★' * round(average)}{'☆' * (5 - round(average))} {average:.1f} ({len(ratings)})"
            if average
            else "-"
        )
        table.add_row(
            department,
            str(len(mine)),
            str(sum(r.state.is_open for r in mine)),
            str(breached),
            f"{statistics.median(hours):.1f} h" if hours else "-",
            stars,
        )
    console().print(table)


def promised(bridge: Bridge, request: ServiceRequest) -> bool:
    """Whether the request's department makes promises staff are held to (not appointments)."""
    department = bridge.departments.get(request.department)
    return department.sla_alerts if department is not None else True
