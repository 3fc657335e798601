"""Who is on duty: shifts by weekday and hour in town time, holidays off unless stated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from junbridge.config.settings import WEEKDAYS, Shift, Staff, TownSettings

# How far ahead to look for the next shift before saying there is none.
HORIZON_DAYS = 21


def _covers(shift: Shift, local: datetime, town: TownSettings) -> bool:
    if local.date() in town.holidays and not shift.holidays:
        return False
    return WEEKDAYS[local.weekday()] in shift.days and shift.start <= local.time() <= shift.end


def on_duty(
    shifts: Sequence[Shift], staff: Sequence[Staff], at: datetime, town: TownSettings
) -> list[Staff]:
    """Everyone whose shift covers ``at``, in rota order, each once."""
    local = at.astimezone(ZoneInfo(town.timezone))
    by_name = {s.name: s for s in staff}
    found: list[Staff] = []
    for shift in shifts:
        member = by_name.get(shift.staff)
        if member is not None and member not in found and _covers(shift, local, town):
            found.append(member)
    return found


def next_shift(
    shifts: Sequence[Shift], staff: Sequence[Staff], at: datetime, town: TownSettings
) -> tuple[Staff, datetime] | None:
    """The first shift to start after ``at``: who, and when (UTC); None if none is planned."""
    tz = ZoneInfo(town.timezone)
    local = at.astimezone(tz)
    by_name = {s.name: s for s in staff}
    best: tuple[Staff, datetime] | None = None
    for offset in range(HORIZON_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        for shift in shifts:
            member = by_name.get(shift.staff)
            start = datetime.combine(day, shift.start, tz)
            if member is None or start <= local or not _covers(shift, start, town):
                continue
            if best is None or start < best[1]:
                best = (member, start)
        if best is not None:
            return best[0], best[1].astimezone(at.tzinfo)
    return None
