"""Store: requests, residents, conversations and the outbox, in SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import functools
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    func,
    insert,
    make_url,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from junbridge.model import Message, Reply, Resident, Sender, ServiceRequest, Status
from junbridge.store import (
    answers,
    deliveries,
    detours,
    intake,
    leaders,
    leases,
    links,
    nearby,
    pages,
    records,
    threads,
    turns,
)
from junbridge.store import engine as engines
from junbridge.store import residents as people
from junbridge.store.records import Accepted, ConversationState, OutboxRow, Timer, Usage
from junbridge.store.schema import (
    REQUEST_IS_OPEN,
    conversations,
    cursors,
    inbound,
    outbox,
    requests,
    residents,
    timers,
)
from junbridge.store.transaction import Transaction

T = TypeVar("T")

# The error of a reply put back in the queue because the worker sending it stopped: it may
# have reached the platform unrecorded (see Channel.already_sent).
# How many cards' platform ids first_sent_id keeps in memory.
FIRST_SENT_KEPT = 4096
UNSETTLED = "unsettled: the worker sending it stopped before recording the outcome"


@dataclass(frozen=True, slots=True)
class BatchRead:
    """What :meth:`Store.batch_context` read for a batch, one entry per message."""

    #: Each sender's resident (written first if new to the town, or renamed).
    residents: builtins.list[Resident]
    exchanges: builtins.list[ConversationState | None]
    usages: dict[int, Usage]
    near: builtins.list[tuple[ServiceRequest, ...] | None]
    #: The requests waiting for each sender's answer, read where ``answering`` asked
    #: (empty elsewhere, and for a sender new to the town).
    awaiting: builtins.list[tuple[ServiceRequest, ...]]


@dataclass(frozen=True, slots=True)
class _Read:
    """A batch's reads before its new (or renamed) senders are written."""

    wanted: Sequence[tuple[str, Sender, Sequence[str]]]
    #: None for a sender new to the town or whose name or handle changed.
    found: builtins.list[Resident | None]
    #: Whether each sender is new to the town.
    new: builtins.list[bool]
    exchanges: builtins.list[ConversationState | None]
    usages: dict[int, Usage]
    near: builtins.list[tuple[ServiceRequest, ...] | None]
    awaiting: builtins.list[tuple[ServiceRequest, ...]]

    @property
    def unwritten(self) -> builtins.list[tuple[str, Sender]]:
        """The senders to write: new to the town, or renamed."""
        return [(c, s) for (c, s, _), r in zip(self.wanted, self.found, strict=True) if r is None]

    @property
    def all_new(self) -> bool:
        """Whether each sender to write was read as new to the town (none renamed)."""
        return all(new for r, new in zip(self.found, self.new, strict=True) if r is None)

    def with_residents(self, written: Sequence[Resident]) -> BatchRead:
        """The batch's reads, ``written`` (one per :attr:`unwritten`, in order) filled in."""
        made = iter(written)
        residents = [r if r is not None else next(made) for r in self.found]
        return BatchRead(
            residents=residents,
            exchanges=self.exchanges,
            usages=self.usages,
            near=self.near,
            awaiting=self.awaiting,
        )


# Built once; the rate limits read them for every batch of messages.
# Each resident with their last notice, and (joined) the times of their counted messages:
# one statement for a whole batch.
_USAGE = (
    select(residents.c.id, residents.c.limit_notice_until, inbound.c.counted_at)
    .select_from(
        residents.outerjoin(
            inbound,
            (inbound.c.resident_id == residents.c.id) & (inbound.c.counted_at > bindparam("since")),
        )
    )
    .where(residents.c.id.in_(bindparam("ids", expanding=True)))
)


# The senders' open exchanges, by (resident, channel, conversation key).
_OPEN_EXCHANGES = select(conversations).where(
    tuple_(
        conversations.c.resident_id,
        conversations.c.channel,
        conversations.c.conversation,
    ).in_(bindparam("keys", expanding=True)),
    conversations.c.expires_at > bindparam("now"),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """Durable state of the bridge. Open with :meth:`open`; every method is one transaction."""

    def __init__(
        self,
        url: str,
        engine: AsyncEngine,
        *,
        reference_prefix: str,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.url = url
        self.clock = clock
        self.dialect = engines.dialect_of(url)
        self._engine = engine
        self._writer = engine.execution_options(**{engines.WRITE: True})
        # The hot path (accepting, reading and committing a message) runs whole transactions
        # on a blocking engine in a worker thread: one thread hop per transaction instead of
        # one per statement (bench/bench_store_paths.py: 3.5x faster on SQLite, 1.4x on
        # PostgreSQL). The rest of the store still awaits each statement on ``engine``.
        self._sync = engines.create_sync_engine_for(url)
        self._sync_writer = self._sync.execution_options(**{engines.WRITE: True})
        # SQLite's one writer, taken in turns (PostgreSQL lets writers in side by side).
        self._turns = turns.WriterTurns() if self.dialect == "sqlite" else None
        self._intake = intake.Intake(self)
        self._prefix = reference_prefix
        # (reference, channel, conversation) -> the first platform id sent there: once a
        # card is delivered its id never changes (see first_sent_id).
        self._first_sent: collections.OrderedDict[tuple[str, str, str], str] = (
            collections.OrderedDict()
        )
        # Who holds a lease: unique per process, readable in the database by an operator.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    async def open(
        cls, url: str, *, reference_prefix: str = "JUN", clock: Callable[[], datetime] = _utcnow
    ) -> Store:
        """Connect to the admin's ``url`` and migrate the schema to the newest version.

        ``clock`` stamps rows (received, created, queued); pass the bridge's clock so that
        a simulated day and ``claim_outbox(now=...)`` agree on what time it is. An in-memory
        SQLite URL (``sqlite://``) gets a temporary file, removed at ``close``: the store's
        two engines (see ``__init__``) must see one database.
        """
        scratch = None
        if engines.is_memory(url):
            scratch = tempfile.TemporaryDirectory(prefix="junbridge-memory-")
            url = f"sqlite:///{Path(scratch.name) / 'store.db'}"
        engine = engines.create_engine_for(url)
        try:
            await asyncio.to_thread(engines.upgrade, url)
        except BaseException:
            await engine.dispose()
            raise
        store = cls(url, engine, reference_prefix=reference_prefix, clock=clock)
        store._scratch = scratch
        return store

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()
        self._sync.dispose()
        if self._scratch is not None:
            self._scratch.cleanup()

    def __repr__(self) -> str:
        # Never the password: a repr ends up in logs.
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer.begin() as connection:
            yield connection

    async def write(self, work: Callable[[Transaction], T], *, urgent: bool = False) -> T:
        """Run ``work`` in one write transaction, in a worker thread; return what it returns.

        ``work`` is plain blocking code (no awaits): everything a handled message writes, or
        a change to one request. An exception out of it undoes every write. An ``urgent``
        one (webhooks waiting to be answered) goes before the writers queued on SQLite.
        """
        return await asyncio.to_thread(self._write_now, work, urgent)

    def _write_now(self, work: Callable[[Transaction], T], urgent: bool = False) -> T:
        # SQLite lets one writer in at a time; a second one waits in its busy handler, which
        # sleeps in steps of up to 100 ms. Writers of this process queue here instead, and
        # each goes in the moment the one before commits (see turns.py).
        turn = self._turns.turn(urgent=urgent) if self._turns else contextlib.nullcontext()
        with turn, self._sync_writer.begin() as connection:
            tx = Transaction(
                connection, reference_prefix=self._prefix, clock=self.clock, worker=self.worker
            )
            done = work(tx)
            tx.finish()
            return done

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run the blocking reads in ``work`` on one connection, in a worker thread."""
        return await asyncio.to_thread(self._read_now, work)

    def _read_now(self, work: Callable[[Connection], T]) -> T:
        with self._sync.connect() as connection:
            return work(connection)

    # inbound

    async def accept(self, message: Message) -> Accepted:
        """Store ``message`` durably, once: a redelivered one returns the stored row.

        The accepting worker holds a lease on the new row and handles it (see leases.py).
        """
        [accepted] = await self.write(
            functools.partial(intake.accept_rows, store=self, messages=[message])
        )
        return accepted

    async def accept_together(self, message: Message) -> Accepted:
        """``accept``, sharing one transaction with the accepts that arrive meanwhile."""
        return await self._intake.accept(message)

    async def inbound_reference(self, channel: str, platform_id: str) -> str | None:
        """The request an accepted message led to, if any (to apply a later edit to it)."""
        async with self._read() as connection:
            return (
                await connection.execute(
                    select(inbound.c.request_reference).where(
                        inbound.c.channel == channel, inbound.c.platform_id == platform_id
                    )
                )
            ).scalar_one_or_none()

    async def get_cursor(self, name: str) -> str | None:
        """A channel's saved position (e.g. ``twitter.mentions.since_id``), if any."""
        async with self._read() as connection:
            value = (
                await connection.execute(select(cursors.c.value).where(cursors.c.name == name))
            ).scalar_one_or_none()
        return None if value is None else str(value)

    async def set_cursor(self, name: str, value: str) -> None:
        """Save a channel's position so a restart carries on from it."""
        async with self._write() as connection:
            updated = await connection.execute(
                update(cursors)
                .where(cursors.c.name == name)
                .values(value=value, updated_at=self.clock())
            )
            if updated.rowcount == 0:
                await connection.execute(
                    insert(cursors).values(name=name, value=value, updated_at=self.clock())
                )

    async def lead(self, role: str, *, until: datetime, now: datetime) -> bool:
        """Whether this worker leads ``role`` until ``until`` (see leaders.py)."""
        return await self.write(
            lambda tx: leaders.lead(tx.connection, role, holder=self.worker, until=until, now=now)
        )

    async def reference_for_thread(
        self, channel: str, conversation: str, thread: str | None
    ) -> str | None:
        """The request whose card or reply started ``thread`` in that conversation, if any."""
        if thread is None:
            return None
        async with self._read() as connection:
            return await threads.reference(
                connection, channel=channel, conversation=conversation, thread=thread
            )

    async def pending_inbound(self) -> builtins.list[tuple[int, Message]]:
        """Accepted messages not yet handled, oldest first: what a crash left to redo."""
        async with self._read() as connection:
            rows = await connection.execute(
                select(inbound.c.id, inbound.c.message)
                .where(inbound.c.status == "pending")
                .order_by(inbound.c.id)
            )
            return [(row.id, Message.from_json(row.message)) for row in rows]

    async def claim_expired(self, *, limit: int = 50) -> builtins.list[leases.Claimed]:
        """Pending messages nobody holds, now held by this worker (see leases.py)."""
        return await leases.claim_expired(self, limit=limit)

    async def release_failed(self, inbound_id: int, *, error: str) -> str:
        """A failed attempt: ``pending`` again later, or ``parked`` after the last."""
        return await leases.release_failed(self, inbound_id, error=error)

    async def parked(self) -> builtins.list[leases.Parked]:
        """Messages set aside after repeated failures, oldest first."""
        return await leases.list_parked(self)

    async def retry_parked(self, inbound_ids: builtins.list[int] | None = None) -> int:
        """Queue parked messages (all, or those ids) again; return how many."""
        return await leases.retry_parked(self, inbound_ids)

    # residents

    async def resident_for(self, channel: str, sender: Sender) -> Resident:
        """The resident writing as ``sender`` on ``channel``, created on their first message."""
        [resident] = await self.residents_for([(channel, sender)])
        return resident

    async def residents_for(
        self, senders: builtins.list[tuple[str, Sender]]
    ) -> builtins.list[Resident]:
        """The residents behind several senders: one read, and one write for any new ones."""
        found = await self.read(lambda connection: people.find_senders(connection, senders))
        if all(r is not None for r in found):
            return [r for r in found if r is not None]
        return await self.residents_for_new(senders)

    async def residents_for_new(
        self, senders: builtins.list[tuple[str, Sender]], *, all_new: bool = False
    ) -> builtins.list[Resident]:
        """The residents behind senders read as new or changed: created, or brought up to
        date, in one write. ``all_new``: each was just read as new to the town (they are
        created without reading them again; if another worker created one meanwhile, the
        write is done again the careful way)."""
        return await self._write_senders(
            lambda tx, careful: _residents_of(
                senders, tx, now=self.clock(), all_new=all_new and not careful
            )
        )

    async def _write_senders(self, work: Callable[[Transaction, bool], T]) -> T:
        """``work(tx, careful)`` in a write transaction that may create new senders; done
        again with ``careful`` set if another worker created one of them meanwhile (the
        database refuses the second identity)."""
        for careful in (False, True, True):

            def attempt(tx: Transaction, careful: bool = careful) -> T:
                return work(tx, careful)

            try:
                return await self.write(attempt)
            except IntegrityError:
                continue  # another worker created one of them meanwhile
        raise RuntimeError("could not store the senders of a batch")

    async def find_resident(self, identity: str) -> Resident | None:
        """The resident with ``identity`` (``"telegram:123"``), or None."""
        async with self._read() as connection:
            found = await people.load(connection, people.has_identity(identity))
        return found[0] if found else None

    async def get_resident(self, resident_id: int) -> Resident | None:
        """The resident with this id, or None."""
        async with self._read() as connection:
            found = await people.load(connection, residents.c.id == resident_id)
        return found[0] if found else None

    async def verify_resident(self, identity: str, *, by: str, at: datetime) -> Resident:
        """Record that staff member ``by`` checked who ``identity`` is; LookupError if unknown."""
        async with self._write() as connection:
            result = await connection.execute(
                update(residents)
                .where(people.has_identity(identity))
                .values(verified_at=at, verified_by=by)
            )
            if result.rowcount == 0:
                raise LookupError(f"no resident has written as {identity}")
            [person] = await people.load(connection, people.has_identity(identity))
        return person

    async def set_resident_language(self, resident_id: int, language: str) -> None:
        """Remember the language the resident wants replies in."""
        async with self._write() as connection:
            await connection.execute(
                update(residents).where(residents.c.id == resident_id).values(language=language)
            )

    async def list_residents(self) -> builtins.list[Resident]:
        """Every resident, oldest first."""
        async with self._read() as connection:
            return await people.load(connection)

    # requests and conversations

    async def get_request(self, reference: str) -> ServiceRequest | None:
        """The request with ``reference`` (``JUN-0142``), with its history, or None."""
        found = await self._requests(select(requests).where(requests.c.reference == reference))
        return found[0] if found else None

    async def page(
        self,
        *,
        limit: int,
        before: str | None = None,
        department: str | None = None,
        open_only: bool = False,
        state: Status | None = None,
    ) -> pages.Page:
        """Up to ``limit`` requests as the town hall's table shows them, newest first (older
        than request ``before``), and how many match in all (see pages.py)."""
        return await pages.page(
            self,
            limit=limit,
            before=before,
            department=department,
            open_only=open_only,
            state=state,
        )

    async def _requests(self, query: Select[Any]) -> builtins.list[ServiceRequest]:
        async with self._read() as connection:
            return await connection.run_sync(records.load_requests, query)

    async def conversation(
        self, resident_id: int, channel: str, *conversation: str, now: datetime
    ) -> ConversationState | None:
        """The resident's open exchange in that conversation, or None if none or expired.

        Given several conversation keys, the open exchange under the first that has one.
        """
        [state] = await self.conversations_of([(resident_id, channel, conversation)], now=now)
        return state

    async def conversations_of(
        self, wanted: Sequence[tuple[int, str, Sequence[str]]], *, now: datetime
    ) -> builtins.list[ConversationState | None]:
        """:meth:`conversation` for several (resident id, channel, keys) in one query."""
        return await self.read(lambda connection: _conversations(connection, wanted, now))

    async def batch_context(
        self,
        wanted: Sequence[tuple[str, Sender, Sequence[str]]],
        *,
        now: datetime,
        since: datetime,
        places: Sequence[nearby.Place | None] = (),
        answering: Sequence[bool] = (),
    ) -> BatchRead:
        """What a batch of messages needs read before deciding, on one connection in one
        trip to the store's thread: the resident behind each ``(channel, sender,
        conversation keys)``, their open exchange in that chat, what their rate limits
        count, the open requests near each message's place (None where it has none), and,
        where ``answering`` says the message could answer a question, the requests waiting
        for that sender's answer.

        A sender nobody knows has no exchange and nothing counted. They (and senders whose
        name or handle changed) are written before this returns: for a lone message in the
        same transaction as the reads, one trip; for a batch in a second one
        (:meth:`residents_for_new`), as on SQLite a write transaction takes the writer's
        turn while it reads, and a batch's webhooks would wait behind it.
        """

        def read(connection: Connection) -> _Read:
            found, ids = people.known_senders(connection, [(c, s) for c, s, _ in wanted])
            known = [
                (resident_id, channel, keys)
                for resident_id, (channel, _, keys) in zip(ids, wanted, strict=True)
                if resident_id is not None
            ]
            exchanges = iter(_conversations(connection, known, now) if known else [])
            asked = [*answering, *[False] * (len(wanted) - len(answering))]
            waiting = answers.awaiting(
                connection, [i for i, a in zip(ids, asked, strict=True) if i is not None and a]
            )
            return _Read(
                wanted=wanted,
                found=found,
                new=[i is None for i in ids],
                exchanges=[None if i is None else next(exchanges) for i in ids],
                usages=_usage(connection, [i for i in ids if i is not None], since),
                near=nearby.open_near(connection, places),
                awaiting=[
                    waiting.get(i, ()) if i is not None and a else ()
                    for i, a in zip(ids, asked, strict=True)
                ],
            )

        if len(wanted) != 1:
            got = await self.read(read)
            unwritten = got.unwritten
            if not unwritten:
                return got.with_residents([])
            return got.with_residents(await self.residents_for_new(unwritten, all_new=got.all_new))

        def read_and_write(tx: Transaction, careful: bool) -> BatchRead:
            got = read(tx.connection)
            unwritten = got.unwritten
            if not unwritten:
                # Nothing to write: end it as the read it was (no commit to make durable).
                tx.connection.rollback()
                return got.with_residents([])
            # Each just read as new to the town is created without reading it again (unless
            # another worker created one meanwhile: then it is done again, carefully).
            all_new = got.all_new and not careful
            return got.with_residents(
                _residents_of(unwritten, tx, now=self.clock(), all_new=all_new)
            )

        return await self._write_senders(read_and_write)

    async def open_near(self, place: nearby.Place) -> tuple[ServiceRequest, ...]:
        """The open public requests of ``place``'s department there: in the box around its
        point, in its street or at its lamp number (one indexed statement)."""
        [found] = await self.read(lambda connection: nearby.open_near(connection, [place]))
        return found or ()

    async def replies_for(self, reference: str) -> builtins.list[OutboxRow]:
        """The replies queued for request ``reference``, in queue order, with delivery status."""
        async with self._read() as connection:
            rows = await connection.execute(
                select(outbox).where(outbox.c.request_reference == reference).order_by(outbox.c.id)
            )
            return [records.outbox_row(row) for row in rows]

    async def first_sent_id(self, reference: str, channel: str, conversation: str) -> str | None:
        """The first platform id of the oldest reply about ``reference`` that reached
        ``conversation`` (a staff place, not a direct message): a card's thread. One indexed
        read, however many replies the request has had (a lamp many residents reported)."""
        key = (reference, channel, conversation)
        if (known := self._first_sent.get(key)) is not None:
            return known
        query = (
            select(outbox.c.platform_ids)
            .where(
                outbox.c.request_reference == reference,
                outbox.c.channel == channel,
                outbox.c.destination == conversation,
            )
            .order_by(outbox.c.id)
        )
        async with self._read() as connection:
            # Rows are decoded as they are taken: the first sent one ends the reading.
            for (platform_ids,) in await connection.execute(query):
                if platform_ids:
                    self._first_sent[key] = found = str(platform_ids[0])
                    if len(self._first_sent) > FIRST_SENT_KEPT:
                        self._first_sent.popitem(last=False)
                    return found
        return None

    async def replies_due(self, *, now: datetime, channels: Sequence[str]) -> int:
        """How many replies to ``channels`` wait to be sent at ``now`` (some may be held
        back by a pace)."""
        query = (
            select(func.count())
            .select_from(outbox)
            .where(
                outbox.c.status == "pending",
                outbox.c.next_attempt_at <= now,
                outbox.c.channel.in_(builtins.list(channels)),
            )
        )
        async with self._read() as connection:
            return int(await connection.scalar(query) or 0)

    async def delivered_since(self, after_id: int = 0) -> builtins.list[OutboxRow]:
        """Replies delivered, in queue order, whose outbox id is above ``after_id``."""
        async with self._read() as connection:
            rows = await connection.execute(
                select(outbox)
                .where(outbox.c.id > after_id, outbox.c.status == "sent")
                .order_by(outbox.c.id)
            )
            return [records.outbox_row(row) for row in rows]

    async def due_timers(self, now: datetime, limit: int = 100) -> builtins.list[Timer]:
        """Timers due at ``now`` and not yet done, oldest first."""
        async with self._read() as connection:
            rows = await connection.execute(
                select(timers)
                .where(timers.c.done_at.is_(None), timers.c.due_at <= now)
                .order_by(timers.c.due_at, timers.c.id)
                .limit(limit)
            )
            return [
                Timer(id=r.id, request_reference=r.request_reference, kind=r.kind, due_at=r.due_at)
                for r in rows
            ]

    async def pending_timers(self, reference: str) -> builtins.list[Timer]:
        """The timers still to come for request ``reference``."""
        async with self._read() as connection:
            rows = await connection.execute(
                select(timers)
                .where(timers.c.request_reference == reference, timers.c.done_at.is_(None))
                .order_by(timers.c.due_at)
            )
            return [
                Timer(id=r.id, request_reference=r.request_reference, kind=r.kind, due_at=r.due_at)
                for r in rows
            ]

    async def undelivered(self) -> builtins.list[OutboxRow]:
        """Replies not delivered (yet): pending, being sent, or failed, oldest first."""
        async with self._read() as connection:
            rows = await connection.execute(
                select(outbox).where(outbox.c.status != "sent").order_by(outbox.c.id)
            )
            return [records.outbox_row(row) for row in rows]

    # outbox worker

    async def claim_outbox(
        self,
        *,
        now: datetime,
        limit: int = 20,
        channel: str | None = None,
        pace: deliveries.PaceOf = deliveries.unpaced,
        paced_now: datetime | None = None,
    ) -> builtins.list[OutboxRow]:
        """Take up to ``limit`` due replies for sending; no two workers get the same row.

        Per destination, only its oldest unsent reply, and none while one is being sent:
        replies reach a resident in the order they were made. Each row comes with
        ``send_at``, when ``pace`` lets it go (see deliveries.py and pacing.py).
        """
        return await self.write(
            lambda tx: deliveries.claim(
                tx.connection,
                now=now,
                paced_now=paced_now or now,
                limit=limit,
                channel=channel,
                pace=pace,
            )
        )

    async def renew_claim(self, outbox_id: int, *, attempts: int, at: datetime) -> bool:
        """Whether this worker still holds a reply it claimed; if so the claim dates from ``at``.

        A claim is the row in ``sending`` with the ``attempts`` its claim counted. It is gone
        once ``requeue_stuck`` put the row back (and another claim counted again), so a reply
        is never sent from a batch that waited too long. Renewed just before each send, a
        claim only counts as stuck if that one send hangs.
        """
        renew = (
            update(outbox)
            .where(
                outbox.c.id == outbox_id,
                outbox.c.status == "sending",
                outbox.c.attempts == attempts,
            )
            .values(claimed_at=at)
        )
        return await self.write(lambda tx: bool(tx.connection.execute(renew).rowcount))

    async def _set_outbox(self, outbox_id: int, **values: Any) -> None:
        change = update(outbox).where(outbox.c.id == outbox_id).values(values)
        await self.write(lambda tx: tx.connection.execute(change))

    async def sent_ids(self, channel: str, where: str, *, last: int = 200) -> set[str]:
        """The platform ids of the last ``last`` replies sent to ``where`` on ``channel``."""
        query = (
            select(outbox.c.platform_ids)
            .where(
                outbox.c.channel == channel,
                outbox.c.destination == where,
                outbox.c.status == "sent",
            )
            .order_by(outbox.c.id.desc())
            .limit(last)
        )
        async with self._read() as connection:
            rows = await connection.execute(query)
            return {str(i) for (ids,) in rows for i in ids or ()}

    async def record_parts(self, outbox_id: int, platform_ids: Sequence[str]) -> None:
        """Keep the ids of the parts of reply ``outbox_id`` delivered so far, while it is
        being sent (a worker that dies then leaves them known: the next try sends the rest)."""
        change = (
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.status == "sending")
            .values(platform_ids=list(platform_ids))
        )
        await self.write(lambda tx: tx.connection.execute(change))

    async def mark_sent(
        self,
        outbox_id: int,
        *,
        platform_ids: Sequence[str],
        at: datetime,
        paced: Sequence[tuple[str, datetime]] = (),
    ) -> None:
        """Record delivery and the ids the platform gave the sent message(s).

        ``paced``: rate buckets to move on to at least these moments (the destination's
        next send waits from the end of this one).

        For a reply about a request, each id is also noted as a thread of that request, so
        staff answering in it later are understood (see threads.py).
        """
        sent_now = (
            update(outbox)
            .where(outbox.c.id == outbox_id)
            .values(status="sent", sent_at=at, platform_ids=builtins.list(platform_ids), error=None)
            .returning(outbox.c.channel, outbox.c.reply, outbox.c.request_reference)
        )

        def mark(tx: Transaction) -> None:
            connection = tx.connection
            sent = connection.execute(sent_now).one_or_none()
            conversation = sent.reply.get("conversation") if sent is not None else None
            if sent is not None and sent.request_reference and isinstance(conversation, str):
                threads.record(
                    connection,
                    outbox_id=outbox_id,
                    channel=sent.channel,
                    conversation=conversation,
                    platform_ids=platform_ids,
                    reference=sent.request_reference,
                )
            deliveries.push(connection, paced)

        await self.write(mark)

    async def mark_retry(
        self,
        outbox_id: int,
        *,
        error: str,
        retry_at: datetime,
        counted: bool = True,
        paced: Sequence[tuple[str, datetime]] = (),
        platform_ids: Sequence[str] = (),
    ) -> None:
        """Put a reply that failed to send back in the queue, due at ``retry_at``.

        ``counted=False``: the try does not count toward the reply's attempts (the platform
        only said "slow down"); ``paced``: rate buckets to hold back until these moments;
        ``platform_ids``: the parts of it that did arrive (the next try sends the rest).
        """
        values: dict[str, Any] = {
            "status": "pending",
            "error": error,
            "next_attempt_at": retry_at,
            "platform_ids": builtins.list(platform_ids),
        }
        if not counted:
            values["attempts"] = outbox.c.attempts - 1
        change = update(outbox).where(outbox.c.id == outbox_id).values(values)

        def retry(tx: Transaction) -> None:
            tx.connection.execute(change)
            deliveries.push(tx.connection, paced)

        await self.write(retry)

    async def mark_failed(
        self, outbox_id: int, *, error: str, platform_ids: Sequence[str] = ()
    ) -> None:
        """Give up on a reply: it stays in the outbox, ``failed``, for staff to see (with
        the ids of any parts of it that did arrive)."""
        await self._set_outbox(
            outbox_id, status="failed", error=error, platform_ids=builtins.list(platform_ids)
        )

    async def reroute(
        self, channel: str, up: Sequence[str], *, preface: Callable[[Reply], str]
    ) -> int:
        """Send what waits on ``channel`` (down) for residents with a linked account on one
        of ``up`` there instead, each reply headed by ``preface(reply)`` (see detours.py);
        how many replies were moved."""
        return await self.write(
            functools.partial(detours.reroute, channel=channel, up=up, preface=preface)
        )

    async def requeue_stuck(self, *, older_than: datetime) -> int:
        """Return to the queue replies claimed before ``older_than`` and never settled."""
        requeue = (
            update(outbox)
            .where(outbox.c.status == "sending", outbox.c.claimed_at < older_than)
            .values(status="pending", error=UNSETTLED)
        )
        return await self.write(lambda tx: int(tx.connection.execute(requeue).rowcount))

    # Last, so that ``list`` in the annotations above still means the builtin to readers.
    async def list(
        self, *, department: str | None = None, open_only: bool = False, state: Status | None = None
    ) -> builtins.list[ServiceRequest]:
        """Requests, newest first, optionally of one department, open ones or in one state."""
        query = select(requests).order_by(requests.c.id.desc())
        if department is not None:
            query = query.where(requests.c.department == department)
        if open_only:
            query = query.where(REQUEST_IS_OPEN)
        if state is not None:
            query = query.where(requests.c.state == state.value)
        return await self._requests(query)

    async def open_load(self, department: str) -> dict[str, int]:
        """How many open requests each assignee of ``department`` holds (one query).

        Read through the partial index of open requests (REQUEST_IS_OPEN, said exactly so).
        """
        query = (
            select(requests.c.assignee, func.count())
            .where(
                requests.c.department == department,
                REQUEST_IS_OPEN,
                requests.c.assignee.is_not(None),
            )
            .group_by(requests.c.assignee)
        )
        async with self._read() as connection:
            return {row[0]: int(row[1]) for row in await connection.execute(query)}

    # residents across accounts, and blocks (queries in residents.py and links.py)

    async def block_resident(self, identity: str, *, reason: str, at: datetime) -> Resident:
        """Block the person behind ``identity``: their messages are kept, never handled."""
        async with self._write() as connection:
            return await people.set_blocked(connection, identity, at=at, reason=reason)

    async def unblock_resident(self, identity: str) -> Resident:
        """Lift the block on the person behind ``identity``; LookupError if unknown."""
        async with self._write() as connection:
            return await people.set_blocked(connection, identity, at=None, reason=None)

    async def issue_link_code(self, resident_id: int, *, now: datetime) -> str:
        """A one-time code the resident sends from another account to link the two."""
        return await links.issue_code(self, resident_id, now=now)

    async def redeem_link_code(
        self, code: str, resident_id: int, *, now: datetime
    ) -> links.Linked | None:
        """Merge ``resident_id`` with the code's owner; None if the code is wrong or expired."""
        return await links.redeem_code(self, code, resident_id, now=now)

    async def requests_of(
        self, resident_id: int, *, open_only: bool = False
    ) -> builtins.list[ServiceRequest]:
        """One resident's requests from all their linked accounts, newest first."""
        return await links.requests_of(self, resident_id, open_only=open_only)

    async def awaiting_answer(self, resident_id: int) -> builtins.list[ServiceRequest]:
        """The resident's requests with a question to them not answered yet, theirs or
        joined (indexed lookups: usually none, or one)."""
        found = await self.read(lambda connection: answers.awaiting(connection, [resident_id]))
        return builtins.list(found.get(resident_id, ()))

    async def conversations_about(self, reference: str) -> builtins.list[ConversationState]:
        """The open exchanges about request ``reference``."""
        return await links.conversations_about(self, reference)


def _residents_of(
    senders: Sequence[tuple[str, Sender]], tx: Transaction, *, now: datetime, all_new: bool
) -> builtins.list[Resident]:
    return people.get_or_create_all(tx.connection, senders, now=now, all_new=all_new)


def _conversations(
    connection: Connection, wanted: Sequence[tuple[int, str, Sequence[str]]], now: datetime
) -> list[ConversationState | None]:
    chats = [(r, c, key) for r, c, keys in wanted for key in keys]
    rows = connection.execute(_OPEN_EXCHANGES, {"keys": chats, "now": now}).all()
    found = {(row.resident_id, row.channel, row.conversation): row for row in rows}
    states: list[ConversationState | None] = []
    for resident_id, channel, keys in wanted:
        row = next((found[k] for key in keys if (k := (resident_id, channel, key)) in found), None)
        states.append(records.conversation_state(row) if row is not None else None)
    return states


def _usage(
    connection: Connection, resident_ids: Sequence[int], since: datetime
) -> dict[int, Usage]:
    ids = sorted(set(resident_ids))
    if not ids:
        return {}
    counted: dict[int, list[datetime]] = {i: [] for i in ids}
    notices: dict[int, datetime | None] = {}
    for row in connection.execute(_USAGE, {"ids": ids, "since": since}):
        notices[row.id] = row.limit_notice_until
        if row.counted_at is not None:
            counted[row.id].append(row.counted_at)
    return {i: Usage(counted=tuple(counted[i]), notice_until=notices.get(i)) for i in ids}
