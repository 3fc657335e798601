"""One worker at a time for work that must not run twice in parallel (polling X's mentions).

Leadership is a lease kept in the ``cursors`` table: the row ``leader:<role>`` holds the
leader's worker id, and its ``updated_at`` the moment the lease runs out. The leader renews
it each time it works; when it dies, the lease runs out and the next worker to ask takes
over. Taking it is one statement (insert, or update only if it is ours or has run out), so
two workers asking at once never both lead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, or_
from sqlalchemy.dialects import postgresql, sqlite

from junbridge.store.schema import cursors


def lead(connection: Connection, role: str, *, holder: str, until: datetime, now: datetime) -> bool:
    """Whether ``holder`` leads ``role`` (now until ``until``): free, run out, or its own."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(cursors).values(name=f"leader:{role}", value=holder, updated_at=until)
    taken = insert.on_conflict_do_update(
        index_elements=[cursors.c.name],
        set_={"value": holder, "updated_at": until},
        where=or_(cursors.c.value == holder, cursors.c.updated_at <= now),
    ).returning(cursors.c.name)
    return connection.execute(taken).first() is not None
