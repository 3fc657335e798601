"""What Open311 clients send, read and checked: GET filters and the POST of a new report.

Every parameter is checked before anything is stored; a bad one is an ``Open311Error``
(400) that names it, as the spec's error documents do. Dates are W3C (ISO 8601); one
without an offset is read in the town's time zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from junbridge.model import Location
from junbridge.services import LISTS, Attribute, Service, in_language
from junbridge.store.open311 import Search
from junbridge.web.open311_format import Open311Error

# The spec: "a span of 90 days or first 1000 requests returned, whichever is smallest".
SPAN = timedelta(days=90)
PAGE_SIZE = 1000
# The spec limits a description to 4,000 characters; other text is held to the same.
MAX_TEXT = 4000
CONTACT = ("email", "phone", "first_name", "last_name", "device_id", "account_id")
_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")


def first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The (last) value of ``name``, stripped; None when absent or blank."""
    values = params.get(name)
    value = values[-1].strip() if values else ""
    if len(value) > MAX_TEXT:
        raise Open311Error(400, f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def _listed(value: str | None) -> tuple[str, ...]:
    """A comma-separated parameter as its items, blanks dropped."""
    return tuple(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))


def parse_datetime(value: str, name: str, tz: tzinfo) -> datetime:
    """A W3C datetime (``2026-11-30T09:15:00+01:00``, ``…Z``, or a day) as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Open311Error(
            400, f"{name} {value!r} is not a W3C datetime like 2026-11-30T09:15:00+01:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _whole(value: str | None, name: str, *, default: int, most: int | None = None) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise Open311Error(400, f"{name} must be a whole number from 1, got {value!r}")
    number = int(value)
    if most is not None and number > most:
        raise Open311Error(400, f"{name} is at most {most}, got {number}")
    return number


def search(params: Mapping[str, Sequence[str]], *, now: datetime, tz: tzinfo) -> Search:
    """The filters of ``GET requests``: ids, services, a range of dates, status, a page.

    Without dates, the last 90 days; a range may not span more than 90 days. ``page`` and
    ``page_size`` (at most 1000, the default) page through it, newest first.
    """
    start_text, end_text = first(params, "start_date"), first(params, "end_date")
    start = parse_datetime(start_text, "start_date", tz) if start_text else None
    end = parse_datetime(end_text, "end_date", tz) if end_text else None
    if start is None:
        end = end or now
        start = end - SPAN
    elif end is None:
        end = start + SPAN
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > SPAN:
        raise Open311Error(400, "start_date to end_date may not span more than 90 days")
    status = _listed(first(params, "status"))
    wrong = [s for s in status if s not in ("open", "closed")]
    if wrong:
        raise Open311Error(400, f"status {wrong[0]!r} is neither open nor closed")
    size = _whole(first(params, "page_size"), "page_size", default=PAGE_SIZE, most=PAGE_SIZE)
    page = _whole(first(params, "page"), "page", default=1)
    return Search(
        references=tuple(r.upper() for r in _listed(first(params, "service_request_id"))),
        service_codes=_listed(first(params, "service_code")),
        start=start,
        end=end,
        status=frozenset(status),
        limit=size,
        offset=(page - 1) * size,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A new report as an Open311 client POSTed it, checked against its service."""

    description: str | None = None
    location: Location | None = None
    address: str | None = None
    address_id: str | None = None
    media_url: str | None = None
    answers: Mapping[str, Any] = field(default_factory=dict)
    #: The person who reported, as the client knows them: private, never shown back.
    contact: Mapping[str, str] = field(default_factory=dict)


def _coordinate(value: str | None, name: str, bound: float) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{name} {value!r} is not a number") from None
    if not math.isfinite(number) or abs(number) > bound:
        raise Open311Error(400, f"{name} {value!r} is not between -{bound:g} and {bound:g}")
    return number


def _answer(attribute: Attribute, values: Sequence[str], tz: tzinfo) -> Any:
    """One attribute's answer as kept in details: a number, a W3C time, a key or keys."""
    name = f"attribute[{attribute.code}]"
    if attribute.datatype == "multivaluelist":
        chosen = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    else:
        chosen = [values[-1].strip()]
    for value in chosen if attribute.datatype in LISTS else ():
        if value not in attribute.values:
            keys = ", ".join(attribute.values)
            raise Open311Error(400, f"{name} {value!r} is not one of its keys: {keys}")
    if attribute.datatype == "multivaluelist":
        return chosen
    value = chosen[0]
    if len(value) > MAX_TEXT:
        raise Open311Error(400, f"{name} is longer than {MAX_TEXT} characters")
    if attribute.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            raise Open311Error(400, f"{name} {value!r} is not a number") from None
        if not math.isfinite(number):
            raise Open311Error(400, f"{name} {value!r} is not a number")
        return int(number) if number.is_integer() else number
    if attribute.datatype == "datetime":
        return parse_datetime(value, name, tz).isoformat()
    return value


def _answers(
    params: Mapping[str, Sequence[str]], service: Service, tz: tzinfo, language: str
) -> dict[str, Any]:
    """The answers to ``service``'s attributes; those it does not ask are left out (apps
    such as FixMyStreet send their own, e.g. ``attribute[report_url]``)."""
    given: dict[str, list[str]] = {}
    for key, values in params.items():
        found = _ATTRIBUTE.match(key)
        if found:
            given.setdefault(found[1], []).extend(values)
    answers: dict[str, Any] = {}
    for attribute in service.attributes:
        values = [v for v in given.get(attribute.code, ()) if v.strip()]
        if values:
            answers[attribute.code] = _answer(attribute, values, tz)
        elif attribute.required:
            question = in_language(attribute.description, language)
            raise Open311Error(400, f"attribute[{attribute.code}] is required: {question}")
    return answers


def report(
    params: Mapping[str, Sequence[str]], service: Service, *, tz: tzinfo, language: str
) -> Report:
    """A POSTed report, checked: a place (lat and long, address_string or address_id), the
    service's required attributes, a media_url that is a web address."""
    lat = _coordinate(first(params, "lat"), "lat", 90)
    long = _coordinate(first(params, "long"), "long", 180)
    if (lat is None) != (long is None):
        raise Open311Error(400, "lat and long go together: send both or neither")
    address, address_id = first(params, "address_string"), first(params, "address_id")
    if lat is None and address is None and address_id is None:
        raise Open311Error(400, "where is it? send lat and long, address_string or address_id")
    media_url = first(params, "media_url")
    if media_url is not None and not re.match(r"^https?://\S+$", media_url):
        raise Open311Error(400, f"media_url {media_url!r} is not an http(s) address")
    contact = {name: value for name in CONTACT if (value := first(params, name)) is not None}
    return Report(
        description=first(params, "description"),
        location=Location(lat=lat, long=long) if lat is not None and long is not None else None,
        address=address,
        address_id=address_id,
        media_url=media_url,
        answers=_answers(params, service, tz, language),
        contact=contact,
    )
