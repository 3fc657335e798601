"""Business hours on Jun's calendar and the Open311 projection of a request."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from junbridge.config.settings import Hours, TownSettings
from junbridge.model import ServiceRequest, Status
from junbridge.requests.lifecycle import (
    OPEN311_FIELDS,
    add_business_hours,
    business_hours_between,
    expected_datetime,
    is_open,
    next_opening,
    open311,
)

MADRID = ZoneInfo("Europe/Madrid")
# Weekdays 08:00-15:00, the Inmaculada (Tuesday 8 December 2026) off.
JUN = TownSettings(name="Jun", holidays=[date(2026, 12, 8)])


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MADRID)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_friday_afternoon_plus_three_hours_is_monday_ten() -> None:
    due = add_business_hours(local(2026, 12, 4, 14), 3, JUN)
    assert due == local(2026, 12, 7, 10)
    assert due.tzinfo is UTC
    assert due == utc(2026, 12, 7, 9)


def test_holiday_is_skipped() -> None:
    # Monday 14:00: one hour on Monday, Tuesday is the holiday, two hours on Wednesday.
    assert add_business_hours(local(2026, 12, 7, 14), 3, JUN) == utc(2026, 12, 9, 9)


def test_forty_eight_hours_span_a_weekend_and_a_holiday() -> None:
    # 5h Fri 4, 7h each on Mon 7, Wed 9, Thu 10, Fri 11, Mon 14, Tue 15 = 47h, 1h on Wed 16.
    due = add_business_hours(local(2026, 12, 4, 10), 48, JUN)
    assert due == local(2026, 12, 16, 9)
    assert business_hours_between(local(2026, 12, 4, 10), due, JUN) == 48.0


def test_start_on_saturday_counts_from_monday_opening() -> None:
    assert add_business_hours(local(2026, 12, 5, 11), 2, JUN) == local(2026, 12, 7, 10)
    assert add_business_hours(local(2026, 12, 5, 11), 0, JUN) == local(2026, 12, 7, 8)


def test_start_before_opening_and_after_closing() -> None:
    assert add_business_hours(local(2026, 12, 9, 6, 30), 1.5, JUN) == local(2026, 12, 9, 9, 30)
    assert add_business_hours(local(2026, 12, 9, 18), 1, JUN) == local(2026, 12, 10, 9)


def test_ending_on_closing_time_stays_there() -> None:
    assert add_business_hours(local(2026, 12, 4, 14), 1, JUN) == local(2026, 12, 4, 15)


def test_across_october_dst_change() -> None:
    # Clocks go back on Sunday 25 October 2026: Friday is UTC+2, Monday UTC+1.
    start = local(2026, 10, 23, 14)
    assert start == utc(2026, 10, 23, 12)
    due = add_business_hours(start, 3, JUN)
    assert due == utc(2026, 10, 26, 9) == local(2026, 10, 26, 10)
    assert business_hours_between(start, due, JUN) == 3.0


def test_dst_days_have_their_true_length() -> None:
    always_sunday = TownSettings(
        name="Jun", business_hours={"sun": Hours(start=time(0), end=time(0))}
    )
    autumn = business_hours_between(local(2026, 10, 25), local(2026, 10, 26), always_sunday)
    spring = business_hours_between(local(2026, 3, 29), local(2026, 3, 30), always_sunday)
    assert (autumn, spring) == (25.0, 23.0)
    assert add_business_hours(local(2026, 10, 25), 24, always_sunday) == utc(2026, 10, 25, 22)


def test_between_is_partial_and_signed() -> None:
    a, b = local(2026, 12, 4, 13, 30), local(2026, 12, 7, 9)
    assert business_hours_between(a, b, JUN) == 2.5
    assert business_hours_between(b, a, JUN) == -2.5
    assert business_hours_between(local(2026, 12, 5), local(2026, 12, 6), JUN) == 0.0


def test_is_open_and_next_opening() -> None:
    assert is_open(local(2026, 12, 4, 8), JUN)
    assert is_open(local(2026, 12, 4, 14, 59), JUN)
    assert not is_open(local(2026, 12, 4, 15), JUN)
    assert not is_open(local(2026, 12, 8, 10), JUN)
    inside = local(2026, 12, 9, 11, 15)
    assert next_opening(inside, JUN) == inside
    assert next_opening(local(2026, 12, 4, 15), JUN) == local(2026, 12, 7, 8)
    assert next_opening(local(2026, 12, 7, 16), JUN) == local(2026, 12, 9, 8)


def test_expected_datetime_business_or_wall_clock() -> None:
    start = local(2026, 12, 4, 14)
    assert expected_datetime(start, 3, JUN, business_hours=True) == local(2026, 12, 7, 10)
    assert expected_datetime(start, 3, JUN, business_hours=False) == utc(2026, 12, 4, 16)


def test_naive_datetimes_and_bad_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_hours(datetime(2026, 12, 4, 14), 3, JUN)
    with pytest.raises(ValueError, match=">= 0"):
        add_business_hours(local(2026, 12, 4, 14), -1, JUN)
    with pytest.raises(ValueError, match="never opens"):
        add_business_hours(local(2026, 12, 4, 14), 1, TownSettings(name="X", business_hours={}))
    overnight = TownSettings(name="X", business_hours={"mon": Hours(start=time(22), end=time(6))})
    with pytest.raises(ValueError, match="past midnight"):
        is_open(local(2026, 12, 7, 23), overnight)


# -- Open311 -----------------------------------------------------------------------------


def make_request(**changes: object) -> ServiceRequest:
    fields: dict[str, object] = {
        "service_request_id": "142",
        "service_code": "streetlight",
        "service_name": "Alumbrado público",
        "description": "La farola de la calle Real no funciona",
        "requested_datetime": utc(2026, 12, 4, 13),
        "updated_datetime": utc(2026, 12, 4, 13),
        "expected_datetime": utc(2026, 12, 7, 9),
        "address": "Calle Real 3, Jun",
        "lat": 37.2216,
        "long": -3.5951,
        "media_url": "/media/JUN-0142/1.jpg",
        "reference": "JUN-0142",
        "department": "lighting",
        "agency_responsible": "Ayuntamiento de Jun",
    }
    fields.update(changes)
    return ServiceRequest(**fields)  # type: ignore[arg-type]


def test_open311_has_exactly_the_georeport_fields() -> None:
    data = open311(make_request(), public_url="https://jun.example/")
    assert tuple(data) == OPEN311_FIELDS
    assert data == {
        "service_request_id": "142",
        "status": "open",
        "status_notes": "received",
        "service_name": "Alumbrado público",
        "service_code": "streetlight",
        "description": "La farola de la calle Real no funciona",
        "agency_responsible": "Ayuntamiento de Jun",
        "service_notice": None,
        "requested_datetime": "2026-12-04T13:00:00+00:00",
        "updated_datetime": "2026-12-04T13:00:00+00:00",
        "expected_datetime": "2026-12-07T09:00:00+00:00",
        "address": "Calle Real 3, Jun",
        "address_id": None,
        "zipcode": None,
        "lat": 37.2216,
        "long": -3.5951,
        "media_url": "https://jun.example/media/JUN-0142/1.jpg",
    }


def test_open311_datetimes_in_town_time() -> None:
    data = open311(make_request(), public_url="https://jun.example", tz=MADRID)
    assert data["requested_datetime"] == "2026-12-04T14:00:00+01:00"
    assert data["expected_datetime"] == "2026-12-07T10:00:00+01:00"


def test_private_requests_never_reach_open311() -> None:
    with pytest.raises(ValueError, match="JUN-0142 is private"):
        open311(make_request(privacy="private"), public_url="https://jun.example")


def test_closed_is_not_fixed_status_notes_say_which() -> None:
    at = utc(2026, 12, 5, 9)
    rejected = make_request().transition(
        Status.REJECTED, by="alcaldia", at=at, note="not a municipal matter"
    )
    data = open311(rejected, public_url="https://jun.example")
    assert (data["status"], data["status_notes"]) == ("closed", "rejected: not a municipal matter")
    assert data["updated_datetime"] == "2026-12-05T09:00:00+00:00"

    resolved = make_request().transition(Status.RESOLVED, by="electricista", at=at)
    assert open311(resolved, public_url="https://jun.example")["status_notes"] == "resolved"
    closed = resolved.transition(Status.CLOSED, by="jun", at=at)
    data = open311(closed, public_url="https://jun.example")
    assert (data["status"], data["status_notes"]) == ("closed", "resolved, closed")

    working = make_request().transition(Status.IN_PROGRESS, by="electricista", at=at)
    assert open311(working, public_url="https://x")["status_notes"] == "in progress"


def test_explicit_status_notes_and_absolute_media_url_are_kept() -> None:
    request = make_request(status_notes="Bombilla pedida", media_url="https://cdn.example/a.jpg")
    data = open311(request, public_url="https://jun.example")
    assert data["status_notes"] == "Bombilla pedida"
    assert data["media_url"] == "https://cdn.example/a.jpg"
