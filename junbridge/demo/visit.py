"""What ``junbridge demo --keep-running`` offers a newcomer's browser after the day.

The public page and a public request's page, the staff console (a one-time sign-in link
for the first department's first staff member, and a password for them too), Open311 in
JSON and XML over the demo's day, and the demo's Open311 API key to file a report with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from junbridge.demo.town import OPEN311_KEY, STAFF_PASSWORD, DemoTown
from junbridge.desk import sign_in
from junbridge.store import staff_access
from junbridge.web.console import access
from junbridge.web.paths import request_path


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """The addresses to open, and how to sign in to the console."""

    addresses: list[tuple[str, str]]
    staff: str
    password: str
    api_key: str
    service_code: str


async def visit(town: DemoTown) -> Visit:
    """Make a sign-in link and a password for a staff member, and list what to open."""
    bridge = town.bridge
    base = bridge.config.web.public_url.rstrip("/")
    department = next(d for d in bridge.departments.values() if d.settings.staff)
    member = department.settings.staff[0]
    link, made = sign_in.new_link(bridge, member, department)
    await staff_access.issue(bridge.store, made, now=bridge.clock())
    await staff_access.set_password(
        bridge.store, member.name, access.hash_password(STAFF_PASSWORD), now=bridge.clock()
    )
    public = [r for r in await bridge.requests.all() if r.privacy == "public"]
    with_photos = next((r for r in reversed(public) if r.attachments), None)
    day = (town.clock.start or town.clock.now).astimezone(town.tz).date()
    start = datetime.combine(day, time(0), town.tz).astimezone(UTC)
    # The day and the night after it, in UTC: readable, and nothing to escape in a URL.
    span = (
        f"start_date={start:%Y-%m-%dT%H:%M:%SZ}"
        f"&end_date={start + timedelta(days=2):%Y-%m-%dT%H:%M:%SZ}"
    )
    addresses = [("Transparency page", f"{base}/")]
    if with_photos is not None:
        addresses.append(
            (
                f"A public request ({with_photos.reference})",
                base + request_path(with_photos.reference),
            )
        )
    addresses += [
        ("Staff console", f"{base}/staff"),
        (f"Sign in as {member.name} (once, or ask again there)", link),
        ("Open311 requests, JSON", f"{base}/open311/v2/requests.json?{span}"),
        ("Open311 requests, XML", f"{base}/open311/v2/requests.xml?{span}"),
        ("Open311 services", f"{base}/open311/v2/services.json"),
        ("Open311 discovery", f"{base}/open311/v2/discovery.json"),
    ]
    return Visit(
        addresses=addresses,
        staff=member.name,
        password=STAFF_PASSWORD,
        api_key=OPEN311_KEY,
        service_code=with_photos.service_code if with_photos is not None else "SERVICE_CODE",
    )
