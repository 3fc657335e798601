"""When a request is due and how the public sees it: town business hours and Open311.

Business hours are counted on the town's own calendar (``town:`` in channels.yaml): opening
hours per weekday, holidays skipped, in the town's time zone. Every bound is turned into UTC
before any arithmetic, so a day on which the clocks change has its true length.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from junbridge.config.settings import WEEKDAYS, TownSettings
from junbridge.model import Public, state_notes
from junbridge.privacy import redact

# A calendar with opening hours has an opening within a week plus its holidays; this bounds
# the search so that a calendar of holidays only fails loudly instead of looping.
_SEARCH_DAYS = 3 * 366


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {value!r}")


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    # A wall time in the spring-forward gap does not exist; a round trip through UTC moves
    # it to the instant the clocks show after the jump (02:30 -> 03:30 in Madrid).
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _period(day: date, start: time, end: time, timezone: str) -> tuple[datetime, datetime]:
    """The opening period (UTC) of ``day`` from ``start`` to ``end``, town time.

    Kept once worked out: every report asks for the same few days.
    """
    tz = ZoneInfo(timezone)
    opens = _local(day, start, tz)
    # "08:00-00:00" closes at midnight; any other end before the start is a mistake.
    if end == time(0):
        return opens, _local(day + timedelta(days=1), time(0), tz)
    if end > start:
        return opens, _local(day, end, tz)
    raise ValueError(
        f"business hours {start:%H:%M}-{end:%H:%M} end before they start; hours past "
        "midnight are not supported"
    )


def _openings(after: datetime, town: TownSettings) -> Iterator[tuple[datetime, datetime]]:
    """The town's opening periods (UTC) that end after ``after``, in order."""
    _require_aware(after, "datetime")
    if not town.business_hours:
        raise ValueError("town.business_hours is empty: the town hall never opens")
    tz = ZoneInfo(town.timezone)
    holidays = set(town.holidays)
    day = after.astimezone(tz).date()
    for _ in range(_SEARCH_DAYS):
        hours = town.business_hours.get(WEEKDAYS[day.weekday()])
        if hours is not None and day not in holidays:
            opens, closes = _period(day, hours.start, hours.end, town.timezone)
            if closes > after:
                yield opens, closes
        day += timedelta(days=1)
    raise ValueError(f"the town hall does not open within {_SEARCH_DAYS} days of {after}")


def is_open(at: datetime, town: TownSettings) -> bool:
    """Whether ``at`` falls inside the town's business hours."""
    opens, _ = next(_openings(at, town))
    return opens <= at


def next_opening(at: datetime, town: TownSettings) -> datetime:
    """``at`` itself if the town hall is open then, else the next opening (UTC)."""
    opens, _ = next(_openings(at, town))
    return max(opens, at).astimezone(UTC)


def add_business_hours(start: datetime, hours: float, town: TownSettings) -> datetime:
    """The instant (UTC) after ``hours`` of business time counted from ``start``.

    A start outside business hours begins counting at the next opening; a result that lands
    exactly on a closing time stays there rather than moving to the next opening.
    """
    if hours < 0:
        raise ValueError(f"hours must be >= 0, got {hours}")
    remaining = timedelta(hours=hours)
    for opens, closes in _openings(start, town):
        begin = max(opens, start)
        if remaining <= closes - begin:
            return (begin + remaining).astimezone(UTC)
        remaining -= closes - begin
    raise AssertionError("unreachable: _openings raises when it runs out")  # pragma: no cover


def business_hours_between(a: datetime, b: datetime, town: TownSettings) -> float:
    """Business hours from ``a`` to ``b``; negative when ``b`` is before ``a``."""
    _require_aware(a, "a")
    _require_aware(b, "b")
    if b < a:
        return -business_hours_between(b, a, town)
    total = timedelta()
    for opens, closes in _openings(a, town):
        if opens >= b:
            break
        total += min(closes, b) - max(opens, a)
    return total / timedelta(hours=1)


def expected_datetime(
    start: datetime, hours: float, town: TownSettings, *, business_hours: bool
) -> datetime:
    """When a request started at ``start`` is due: in business hours, or wall-clock hours."""
    if business_hours:
        return add_business_hours(start, hours, town)
    _require_aware(start, "start")
    return (start + timedelta(hours=hours)).astimezone(UTC)


# -- Open311 GeoReport v2 ----------------------------------------------------------------

OPEN311_FIELDS: tuple[str, ...] = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)


def warning_time(
    start: datetime, expected: datetime, town: TownSettings, *, business_hours: bool
) -> datetime:
    """When 75% of the time promised between ``start`` and ``expected`` has gone."""
    if not business_hours:
        return start + (expected - start) * 0.75
    return add_business_hours(start, 0.75 * business_hours_between(start, expected, town), town)


def quiet_until(at: datetime, town: TownSettings) -> datetime | None:
    """The end of the town's quiet hours if ``at`` falls inside them, else None."""
    quiet = town.quiet_hours
    if quiet is None:
        return None
    tz = ZoneInfo(town.timezone)
    local = at.astimezone(tz)
    now = local.time()
    wraps = quiet.start > quiet.end  # e.g. 22:00-08:00 crosses midnight
    inside = (now >= quiet.start or now < quiet.end) if wraps else quiet.start <= now < quiet.end
    if not inside:
        return None
    day = local.date()
    if wraps and now >= quiet.start:
        day += timedelta(days=1)
    return _local(day, quiet.end, tz).astimezone(UTC)


def _w3c(value: datetime | None, tz: tzinfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def open311(request: Public, *, public_url: str, tz: tzinfo = UTC) -> dict[str, Any]:
    """The request as one Open311 GeoReport v2 ``service_request``, by its exact field names.

    Private requests never reach Open311: they raise :class:`ValueError`. Datetimes are
    ISO 8601 with an offset, in ``tz``; a relative ``media_url`` is resolved against
    ``public_url``. junbridge's own fields (assignee, resident, history) are left out, and
    personal data in the description and notes is redacted (:func:`junbridge.privacy.redact`).
    """
    if request.privacy == "private":
        raise ValueError(f"{request.reference} is private; private requests are not published")
    media_url = request.media_url
    if media_url is not None:
        media_url = urljoin(public_url.rstrip("/") + "/", media_url)
        if not media_url.startswith(("http://", "https://")):
            media_url = None  # a photo kept on this machine (file:) has no public address
    language = request.language or "es"
    return {
        "service_request_id": request.service_request_id,
        "status": request.status,
        "status_notes": redact(request.status_notes or state_notes(request), language=language),
        "service_name": request.service_name,
        "service_code": request.service_code,
        "description": redact(request.description, language=language),
        "agency_responsible": request.agency_responsible,
        "service_notice": request.service_notice,
        "requested_datetime": _w3c(request.requested_datetime, tz),
        "updated_datetime": _w3c(request.updated_datetime, tz),
        "expected_datetime": _w3c(request.expected_datetime, tz),
        "address": request.address,
        "address_id": request.address_id,
        "zipcode": None,  # junbridge keeps none
        "lat": request.lat,
        "long": request.long,
        "media_url": media_url,
    }
