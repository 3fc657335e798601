"""One worker at a time for work that must not run twice in parallel (polling X's mentions).

Leadership is a lease kept in the ``cursors`` table (``leader:<role>`` = ``holder|until``):
the leader renews it each time it works; when it dies, the lease runs out and the next
worker to ask takes over. Taken in a write transaction (the row locked on PostgreSQL), so
two workers never both lead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from junbridge.store.schema import cursors


def lead(connection: Connection, role: str, *, holder: str, until: datetime, now: datetime) -> bool:
    """Whether ``holder`` leads ``role`` (now until ``until``): free, expired or its own."""
    key = f"leader:{role}"
    value = f"{holder}|{until.isoformat()}"
    found = connection.execute(
        select(cursors.c.value).where(cursors.c.name == key).with_for_update()
    ).scalar_one_or_none()
    if found is None:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        taken = connection.execute(
            dialect.insert(cursors)
            .values(name=key, value=value, updated_at=now)
            .on_conflict_do_nothing(index_elements=[cursors.c.name])
        )
        return bool(taken.rowcount)
    current, _, expires = str(found).partition("|")
    if current != holder and datetime.fromisoformat(expires) > now:
        return False
    connection.execute(
        update(cursors).where(cursors.c.name == key).values(value=value, updated_at=now)
    )
    return True
