"""What a piece of work asks of the database: statements, transactions, their time.

SQLAlchemy events are listened to on the ``Engine`` and ``Pool`` classes, which catches the
bridge's engine without reaching into the store (whose engine is private). Each tally also
notes which connection pools it saw, so a benchmark can check that only the bridge's engine
was counted (the store's writer is an execution-options copy of its engine: same pool).
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_VERB = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b", re.IGNORECASE)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_TABLE = re.compile(r"^\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
# insertmanyvalues writes one VALUES group per row: one statement, whatever the row count.
_VALUES = re.compile(r"(VALUES\s*\([^()]*\))(?:\s*,\s*\([^()]*\))+", re.IGNORECASE)


def label(statement: str) -> str:
    """``"SELECT requests"``, ``"INSERT history"``: the verb and the table it works on."""
    verb = _VERB.match(statement)
    if verb is None:
        return statement.split(None, 1)[0].upper() if statement.strip() else "?"
    word = verb.group(1).split()[0].upper()
    table = (_FROM.search(statement) if word == "SELECT" else _TABLE.match(statement)) or None
    return f"{word} {table.group(1) if table else '?'}"


def normalized(statement: str) -> str:
    """One line per distinct statement (rows of a multi-row INSERT folded into one)."""
    return _VALUES.sub(r"\1", _SPACES.sub(" ", statement).strip())


@dataclass
class Tally:
    """Counts (and time) of what was asked of the database while the tally was open."""

    statements: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # SQLite's BEGIN [IMMEDIATE], sent by the store as SQL: transaction control, not work.
    begin_statements: int = 0
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    checkouts: int = 0
    pools: set[int] = field(default_factory=set)

    @property
    def statement_count(self) -> int:
        """SQL statements sent, BEGIN excluded."""
        return sum(self.statements.values())

    def by_label(self) -> Counter[str]:
        """Statement counts per verb and table."""
        counts: Counter[str] = Counter()
        for statement, n in self.statements.items():
            counts[label(statement)] += n
        return counts


@contextmanager
def tallying() -> Iterator[Tally]:
    """Count every statement, BEGIN, COMMIT, ROLLBACK and pool checkout until the block ends."""
    tally = Tally()

    def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        tally.pools.add(id(conn.engine.pool))
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        elapsed = time.perf_counter() - conn.info["bench_started"].pop()
        if statement.lstrip().upper().startswith("BEGIN"):
            tally.begin_statements += 1
            return
        key = normalized(statement)
        tally.statements[key] += 1
        tally.seconds[key] += elapsed

    def begin(conn: Any) -> None:
        tally.pools.add(id(conn.engine.pool))
        tally.begins += 1

    def commit(_conn: Any) -> None:
        tally.commits += 1

    def rollback(_conn: Any) -> None:
        tally.rollbacks += 1

    def checkout(*_: Any) -> None:
        tally.checkouts += 1

    listeners: list[tuple[Any, str, Any]] = [
        (Engine, "before_cursor_execute", before),
        (Engine, "after_cursor_execute", after),
        (Engine, "begin", begin),
        (Engine, "commit", commit),
        (Engine, "rollback", rollback),
        (Pool, "checkout", checkout),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield tally
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
