"""What the public pages read of requests themselves: the newest public ones, a line each.

Only public requests, only the columns a line shows (the description cut short, for the
page to redact), newest first through the primary key: the read stops after ``limit``
public rows, whatever the size of the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select

from junbridge.model import Status
from junbridge.store.schema import requests

if TYPE_CHECKING:
    from junbridge.store.store import Store

# Characters of the description a line carries, before redaction shortens it further.
LINE_LENGTH = 160


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicLine:
    """One public request as the list on the public page shows it (text not yet redacted)."""

    reference: str
    department: str
    state: Status
    requested_datetime: datetime
    description: str
    language: str | None


def read_latest(connection: Connection, *, limit: int) -> list[PublicLine]:
    """The newest ``limit`` public requests (blocking; see :func:`latest`)."""
    query = (
        select(
            requests.c.reference,
            requests.c.department,
            requests.c.state,
            requests.c.requested_datetime,
            func.substr(requests.c.description, 1, LINE_LENGTH).label("description"),
            requests.c.language,
        )
        .where(requests.c.privacy == "public")
        .order_by(requests.c.id.desc())
        .limit(limit)
    )
    return [
        PublicLine(
            reference=row.reference,
            department=row.department,
            state=Status(row.state),
            requested_datetime=row.requested_datetime,
            description=row.description,
            language=row.language,
        )
        for row in connection.execute(query)
    ]


async def latest(store: Store, *, limit: int = 20) -> list[PublicLine]:
    """The newest ``limit`` public requests, newest first."""
    return await store.read(lambda connection: read_latest(connection, limit=limit))
