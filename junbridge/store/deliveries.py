"""Claiming replies to send: one at a time per destination, in order, at the channel's pace.

A claim is one write transaction: it picks the due replies, keeps for each destination only
its oldest unsent one (and none while one is being sent), gives each the moment its
channel's rates let it go, spends the rate buckets (``pacing`` rows, read locked on
PostgreSQL so two workers never spend the same token) and marks the rows ``sending``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from junbridge.pacing import UNPACED, Pace, bot_key, conversation_key, slot, spend
from junbridge.store import records
from junbridge.store.records import OutboxRow
from junbridge.store.schema import outbox, pacing

# What a channel's pace is for one destination: ``(channel, destination) -> Pace``.
PaceOf = Callable[[str, str], Pace]

# How far ahead of now a claim takes replies: the worker waits for each one's moment.
HORIZON = timedelta(seconds=2)
# How many due replies one claim looks at, at most.
SCAN = 500


def unpaced(_channel: str, _destination: str) -> Pace:
    """Every destination without limits."""
    return UNPACED


def claim(
    connection: Connection,
    *,
    now: datetime,
    paced_now: datetime,
    limit: int,
    channel: str | None,
    pace: PaceOf = unpaced,
) -> list[OutboxRow]:
    """Claim up to ``limit`` replies due at ``now`` (the bridge's clock); each comes with
    ``send_at``, the moment its pace lets it go (at most ``HORIZON`` after ``paced_now``, the
    outbox's ``PaceClock``)."""
    due = (
        select(outbox.c.id, outbox.c.channel, outbox.c.destination)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.id)
        .limit(SCAN)
        # PostgreSQL: rows another worker is claiming are skipped, not waited for.
        # SQLite ignores this; its BEGIN IMMEDIATE already lets one writer in at a time.
        .with_for_update(skip_locked=True)
    )
    if channel is not None:
        due = due.where(outbox.c.channel == channel)
    candidates = connection.execute(due).all()
    if not candidates:
        return []
    heads = _heads(connection, candidates)
    ready = [c for c in candidates if heads.get((c.channel, c.destination)) == c.id]
    tats = _buckets(connection, ready, pace)
    chosen: dict[int, datetime] = {}
    spent: dict[str, datetime] = {}
    for row in ready:
        if len(chosen) >= limit:
            break
        paced = pace(row.channel, row.destination or "")
        here = conversation_key(row.channel, row.destination or "")
        at = paced_now
        if paced.conversation is None:
            # Unpaced, but held back if the platform asked this destination to slow down.
            at = max(at, tats.get(here) or at)
        keys = [(here, paced.conversation), (bot_key(row.channel), paced.bot)]
        for key, rate in keys:
            if rate is not None:
                at = max(at, slot(paced_now, tats.get(key), rate))
        if at > paced_now + HORIZON:
            continue  # this destination (or the whole bot) must wait: a later claim takes it
        for key, rate in keys:
            if rate is not None:
                tats[key] = spent[key] = spend(at, tats.get(key), rate)
        chosen[row.id] = at
    if not chosen:
        return []
    connection.execute(
        update(outbox)
        .where(outbox.c.id.in_(list(chosen)))
        .values(status="sending", attempts=outbox.c.attempts + 1, claimed_at=now)
    )
    _save_buckets(connection, spent)
    rows = connection.execute(select(outbox).where(outbox.c.id.in_(list(chosen))))
    claimed = [dataclasses.replace(records.outbox_row(r), send_at=chosen[r.id]) for r in rows]
    return sorted(claimed, key=lambda r: (r.send_at, r.id))


def _heads(connection: Connection, candidates: Sequence[Any]) -> dict[tuple[str, str | None], int]:
    """Each destination's oldest unsent reply, left out while one of them is being sent."""
    destinations = sorted({c.destination for c in candidates if c.destination is not None})
    channels = sorted({c.channel for c in candidates})
    query = (
        select(
            outbox.c.channel,
            outbox.c.destination,
            func.min(outbox.c.id).label("first"),
            func.max(case((outbox.c.status == "sending", 1), else_=0)).label("busy"),
        )
        .where(
            outbox.c.status.in_(("pending", "sending")),
            outbox.c.channel.in_(channels),
            outbox.c.destination.in_(destinations),
        )
        .group_by(outbox.c.channel, outbox.c.destination)
    )
    heads: dict[tuple[str, str | None], int] = {
        (r.channel, r.destination): r.first for r in connection.execute(query) if not r.busy
    }
    # A reply stored before destinations were kept goes on its own.
    for c in candidates:
        if c.destination is None:
            heads[(c.channel, None)] = c.id
    return heads


def _buckets(connection: Connection, ready: Sequence[Any], pace: PaceOf) -> dict[str, datetime]:
    """The stored moment of every bucket these replies spend from, locked until commit."""
    keys: set[str] = set()
    for row in ready:
        keys.add(conversation_key(row.channel, row.destination or ""))
        if pace(row.channel, row.destination or "").bot is not None:
            keys.add(bot_key(row.channel))
    query = select(pacing.c.key, pacing.c.tat).where(pacing.c.key.in_(sorted(keys)))
    return {r.key: r.tat for r in connection.execute(query.with_for_update())}


def push(connection: Connection, moments: Iterable[tuple[str, datetime]]) -> None:
    """Move buckets to at least these moments (after a send, or a platform's "slow down")."""
    rows = [{"key": key, "tat": at} for key, at in moments]
    if rows:
        connection.execute(_upsert(connection, later_only=True), rows)


def _save_buckets(connection: Connection, spent: dict[str, datetime]) -> None:
    rows = [{"key": key, "tat": at} for key, at in spent.items()]
    if rows:
        connection.execute(_upsert(connection, later_only=False), rows)


def _upsert(connection: Connection, *, later_only: bool) -> Any:
    """Insert a bucket or replace its moment (``later_only``: never move it back)."""
    dialect = connection.dialect.name
    insert = postgresql.insert(pacing) if dialect == "postgresql" else sqlite.insert(pacing)
    new = insert.excluded.tat
    tat = case((new > pacing.c.tat, new), else_=pacing.c.tat) if later_only else new
    return insert.on_conflict_do_update(index_elements=[pacing.c.key], set_={"tat": tat})
