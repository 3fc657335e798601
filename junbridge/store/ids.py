"""Row ids taken before an INSERT, so that many rows go in with one statement and no
RETURNING (whose order SQLite's driver cannot promise for several rows: SQLAlchemy then
inserts them one at a time).

PostgreSQL: from the table's sequence (never handed out twice, whatever commits). SQLite:
past the highest stored id, which is safe because a write transaction holds the database's
one write lock from its BEGIN IMMEDIATE; it is also the id SQLite itself would give.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, bindparam, func, select


def new_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` ids of ``table`` no other transaction can take."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        taken = select(func.nextval(func.pg_get_serial_sequence(table.name, "id"))).select_from(
            func.generate_series(1, bindparam("count"))
        )
        return list(connection.execute(taken, {"count": count}).scalars())
    highest = connection.scalar(select(func.max(table.c.id))) or 0
    return list(range(highest + 1, highest + 1 + count))
