"""Row ids taken before an INSERT, so that many rows go in with one statement and no
RETURNING (whose order SQLite's driver cannot promise for several rows: SQLAlchemy then
inserts them one at a time).

PostgreSQL: from the table's sequence (never handed out twice, whatever commits). SQLite:
past the highest stored id, which is safe because a write transaction holds the database's
one write lock from its BEGIN IMMEDIATE; it is also the id SQLite itself would give.
"""

from __future__ import annotations

from sqlalchemy import Connection, Select, Table, bindparam, func, select


def new_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` ids of ``table`` no other transaction can take."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        return list(connection.execute(_taken(table), {"count": count}).scalars())
    highest = connection.scalar(_highest(table)) or 0
    return list(range(highest + 1, highest + 1 + count))


# Each statement built once per table: building a SELECT and its cache key cost more than
# running it on SQLite (a lone report asks for ids twice, its request's and its sender's).
_TAKEN: dict[Table, Select[int]] = {}
_HIGHEST: dict[Table, Select[int | None]] = {}


def _taken(table: Table) -> Select[int]:
    if table not in _TAKEN:
        _TAKEN[table] = select(
            func.nextval(func.pg_get_serial_sequence(table.name, "id"))
        ).select_from(func.generate_series(1, bindparam("count")))
    return _TAKEN[table]


def _highest(table: Table) -> Select[int | None]:
    if table not in _HIGHEST:
        _HIGHEST[table] = select(func.max(table.c.id))
    return _HIGHEST[table]
