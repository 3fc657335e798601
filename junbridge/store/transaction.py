"""Transaction: the writes of one handled message, committed together or not at all."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Insert,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from junbridge.model import Reply, Reporter, ServiceRequest, VersionConflict
from junbridge.pacing import destination
from junbridge.store import records, totals
from junbridge.store.ids import new_ids
from junbridge.store.leases import LeaseLost
from junbridge.store.many import execute_many
from junbridge.store.measures import figures_row
from junbridge.store.records import ConversationState
from junbridge.store.schema import (
    conversations,
    history,
    inbound,
    outbox,
    reporters,
    request_figures,
    requests,
    residents,
    timers,
)

_CONVERSATION_KEY = ("resident_id", "channel", "conversation")


# Values as parameters, not .values(): the statements are built and compiled once, not
# coerced column by column for every request (once the hot path's main cost).
_INSERT_REQUESTS = insert(requests)
_UPDATE_REQUEST = (
    update(requests)
    .where(
        requests.c.reference == bindparam("b_reference"),
        requests.c.version == bindparam("b_version"),
    )
    .returning(requests.c.id)
)


_FINISH_INBOUND = update(inbound).where(
    inbound.c.id == bindparam("b_id"),
    inbound.c.status == "pending",
    inbound.c.worker == bindparam("b_worker"),
)
_ADD_HISTORY = insert(history)
_ADD_REPORTERS = insert(reporters)
_ADD_TIMERS = insert(timers)
_ENQUEUE = insert(outbox)


def _upsert_conversation() -> dict[str, Insert]:
    """One statement per dialect: insert the conversation, or replace the stored one."""
    columns = [c.name for c in conversations.c if c.name != "id"]
    changing = [c for c in columns if c not in _CONVERSATION_KEY]
    values: dict[str, Any] = {c: bindparam(c) for c in columns}
    pg = postgresql.insert(conversations).values(values)
    lite = sqlite.insert(conversations).values(values)
    return {
        "postgresql": pg.on_conflict_do_update(
            index_elements=_CONVERSATION_KEY, set_={c: pg.excluded[c] for c in changing}
        ),
        "sqlite": lite.on_conflict_do_update(
            index_elements=_CONVERSATION_KEY, set_={c: lite.excluded[c] for c in changing}
        ),
    }


_SAVE_CONVERSATION = _upsert_conversation()


def _upsert_figures() -> dict[str, Insert]:
    """One statement per dialect: a request's figures row, new or replacing the stored one."""
    columns = [c.name for c in request_figures.c]
    values: dict[str, Any] = {c: bindparam(c) for c in columns}
    pg = postgresql.insert(request_figures).values(values)
    lite = sqlite.insert(request_figures).values(values)
    changing = [c for c in columns if c != "request_id"]
    return {
        "postgresql": pg.on_conflict_do_update(
            index_elements=["request_id"], set_={c: pg.excluded[c] for c in changing}
        ),
        "sqlite": lite.on_conflict_do_update(
            index_elements=["request_id"], set_={c: lite.excluded[c] for c in changing}
        ),
    }


_SAVE_FIGURES = _upsert_figures()


class Transaction:
    """Writes inside ``Store.write(fn)``: ``fn`` runs in one transaction, in a worker thread.

    Rows that nothing in the transaction reads back (history lines, timers, replies, a
    conversation, the message marked handled) are gathered and written together, one
    statement per table, before any other statement and at the end: a batch of 64 messages
    then writes its replies in one INSERT, not 64. Everything else runs at once. An
    exception out of ``fn`` undoes all of it.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        reference_prefix: str,
        clock: Callable[[], datetime],
        worker: str,
    ) -> None:
        self._connection = connection
        self._prefix = reference_prefix
        self._clock = clock
        self._worker = worker
        # Gathered rows, per statement, in the order they were first asked for.
        self._later: dict[Executable, list[dict[str, Any]]] = {}
        # History lines per request id, stored or gathered: counted once per transaction.
        self._lines: dict[int, int] = {}
        # The row id of each request saved in this transaction, by reference.
        self._saved: dict[str, int] = {}
        # Figures rows by request id, as saved now and as stored before this transaction
        # (None: a new request; a stored one's is read just before it is replaced), for
        # the totals.
        self._figures_now: dict[int, dict[str, Any]] = {}
        self._figures_before: dict[int, dict[str, Any] | None] = {}

    @property
    def connection(self) -> Connection:
        """The blocking connection, for statements no method here covers (rows gathered so
        far are written first, so what they read and write sees them)."""
        self.flush()
        return self._connection

    def _now(
        self, statement: Executable, parameters: Any = None, *, after: Executable | None = None
    ) -> CursorResult[Any]:
        """Run ``statement`` at once, after the rows gathered so far (or only those of
        ``after``: the one gathered statement it depends on)."""
        self.flush(only=after)
        return self._connection.execute(statement, parameters)

    def _gather(self, statement: Executable, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._later.setdefault(statement, []).extend(rows)

    def flush(self, only: Executable | None = None) -> None:
        """Write the gathered rows: one ``executemany`` per statement (the store calls this
        last; psycopg sends one executemany's rows in a single round trip). ``only``: just
        that statement's rows.

        Raises LeaseLost if a message being marked handled is no longer this worker's.
        """
        if only is not None:
            later = {only: self._later.pop(only)} if only in self._later else {}
        else:
            later, self._later = self._later, {}
        if _SAVE_FIGURES[self._connection.dialect.name] in later:
            self._read_figures_before()
        for statement, rows in later.items():
            written = execute_many(self._connection, statement, rows)
            if statement is _FINISH_INBOUND and written != len(rows):
                raise LeaseLost(
                    f"{len(rows) - written} of {len(rows)} inbound messages are no "
                    f"longer held by {self._worker}"
                )

    def finish(self) -> None:
        """Write what is gathered, then move the figures' running totals (totals.py) by
        what the requests saved here changed: the transaction's last statements."""
        self.flush()
        if self._figures_now:
            before = [row for row in self._figures_before.values() if row is not None]
            totals.moved(before, self._figures_now.values()).write(self._connection)
            self._figures_before, self._figures_now = {}, {}

    def _read_figures_before(self) -> None:
        unread = [i for i in self._figures_now if i not in self._figures_before]
        if not unread:
            return
        found = {
            row["request_id"]: dict(row)
            for row in self._connection.execute(
                select(request_figures).where(request_figures.c.request_id.in_(unread))
            ).mappings()
        }
        for request_id in unread:
            self._figures_before[request_id] = found.get(request_id)

    def load_request(self, reference: str) -> ServiceRequest | None:
        """The stored request, read inside this transaction (locked on PostgreSQL)."""
        query = select(requests).where(requests.c.reference == reference).with_for_update()
        found = records.load_requests(self.connection, query)
        return found[0] if found else None

    def save_request(self, request: ServiceRequest) -> ServiceRequest:
        """Insert a new request (``reference == ""``) or update a stored one; return it saved.

        History entries past those already stored are appended; stored ones are never
        rewritten.
        """
        if request.reference == "":
            [saved] = self.insert_requests([request])
            return saved
        # Only the version this copy was read at may be replaced: a stale copy (another
        # worker, or the timer task between two awaits, saved meanwhile) is refused.
        values = records.request_values(request) | {"version": request.version + 1}
        # It depends on no gathered row: a request made in this transaction is already stored.
        request_id = self._connection.execute(
            _UPDATE_REQUEST,
            {**values, "b_reference": request.reference, "b_version": request.version},
        ).scalar()
        if request_id is None:
            exists = self._connection.scalar(
                select(requests.c.id).where(requests.c.reference == request.reference)
            )
            if exists is None:
                raise LookupError(f"no request {request.reference}")
            raise VersionConflict(request.reference, request.version)
        if request_id not in self._lines:
            # The lines stored when this copy was read: the version check above proves
            # nobody has added one since (every writer of history bumps the version).
            self._lines[request_id] = (
                request.stored_lines
                if request.stored_lines is not None
                else self._connection.scalar(
                    select(func.count())
                    .select_from(history)
                    .where(history.c.request_id == request_id)
                )
                or 0
            )
        saved = dataclasses.replace(
            request, version=request.version + 1, stored_lines=len(request.history)
        )
        self._saved[saved.reference] = request_id
        self._add_history(request_id, saved)
        self._add_figures(request_id, saved)
        return saved

    def insert_requests(self, new: Sequence[ServiceRequest]) -> list[ServiceRequest]:
        """Store new requests, all in one INSERT; return them saved, in the same order.

        Each gets ``reference`` and ``service_request_id`` ``PREFIX-0001`` from its row id,
        taken before the INSERT (see ``ids.new_ids``), so that concurrent workers never hand
        out the same number and the rows go in whole: no INSERT … RETURNING, no UPDATE.
        """
        if not new:
            return []
        saved = []
        rows = []
        for request_id, request in zip(
            new_ids(self._connection, requests, len(new)), new, strict=True
        ):
            reference = f"{self._prefix}-{request_id:04d}"
            stored = dataclasses.replace(
                request,
                reference=reference,
                service_request_id=reference,
                version=1,
                stored_lines=len(request.history),
            )
            rows.append(records.request_values(stored) | {"id": request_id, "version": 1})
            saved.append(stored)
        # At once, not gathered: the history lines gathered next refer to these rows.
        execute_many(self._connection, _INSERT_REQUESTS, rows)
        for row, stored in zip(rows, saved, strict=True):
            self._lines[row["id"]] = 0
            self._saved[stored.reference] = row["id"]
            self._figures_before[row["id"]] = None
            self._add_history(row["id"], stored)
            self._add_figures(row["id"], stored)
        return saved

    def _add_history(self, request_id: int, request: ServiceRequest) -> None:
        """Gather the history lines of ``request`` past those already stored."""
        stored = self._lines[request_id]
        self._lines[request_id] = len(request.history)
        self._gather(
            _ADD_HISTORY,
            [
                records.history_values(request_id, position, entry)
                for position, entry in enumerate(request.history[stored:], start=stored)
            ],
        )

    def _add_figures(self, request_id: int, request: ServiceRequest) -> None:
        """Gather the request's figures row (see measures.py); saved twice in this
        transaction, the later row replaces the earlier."""
        statement = _SAVE_FIGURES[self._connection.dialect.name]
        gathered = self._later.get(statement, [])
        gathered[:] = [row for row in gathered if row["request_id"] != request_id]
        row = figures_row(request_id, request)
        self._gather(statement, [row])
        self._figures_now[request_id] = row

    def add_reporter(self, request: ServiceRequest, reporter: Reporter) -> None:
        """Add a resident who reported ``request`` again: told of its changes from now on.

        ``request`` must have been saved in this transaction, its count of reporters and
        history line checked against its version: a resident is never added to a request
        that changed since it was read. Twice the same resident is refused (unique).
        """
        self._gather(_ADD_REPORTERS, [records.reporter_values(self._id_of(request), reporter)])

    def remove_reporter(self, request: ServiceRequest, resident_id: int) -> None:
        """Take a resident off ``request``'s reporters (saved in this transaction, like
        :meth:`add_reporter`): they said theirs is another matter."""
        self._now(
            delete(reporters).where(
                reporters.c.request_id == self._id_of(request),
                reporters.c.resident_id == resident_id,
            ),
            after=_ADD_REPORTERS,
        )

    def _id_of(self, request: ServiceRequest) -> int:
        request_id = self._saved.get(request.reference)
        if request_id is None:
            raise ValueError(f"{request.reference} must be saved in this transaction first")
        return request_id

    def finish_inbound(
        self,
        inbound_id: int,
        *,
        request_reference: str | None,
        error: str | None = None,
        counted: tuple[int, datetime] | None = None,
    ) -> None:
        """Mark an accepted message handled: ``done``, or ``failed`` if it erred with no request.

        Only while this worker holds it: if its lease ran out and another worker took the
        message over, ``LeaseLost`` (raised when the rows are written) undoes everything this
        transaction wrote.
        """
        status = "failed" if error is not None and request_reference is None else "done"
        self._gather(
            _FINISH_INBOUND,
            [
                {
                    "b_id": inbound_id,
                    "b_worker": self._worker,
                    "status": status,
                    "request_reference": request_reference,
                    "error": error,
                    "lease_until": None,
                    "resident_id": counted[0] if counted else None,
                    "counted_at": counted[1] if counted else None,
                }
            ],
        )

    def set_resident_language(self, resident_id: int, language: str) -> None:
        """Remember the language the resident wants replies in."""
        self._now(update(residents).where(residents.c.id == resident_id).values(language=language))

    def set_limit_notice(self, resident_id: int, until: datetime) -> None:
        """The resident was told they are over a rate limit: no second notice before ``until``."""
        self._now(
            update(residents).where(residents.c.id == resident_id).values(limit_notice_until=until)
        )

    def save_conversation(self, state: ConversationState) -> None:
        """Store ``state``, replacing the one for the same resident, channel and conversation."""
        statement = _SAVE_CONVERSATION[self._connection.dialect.name]
        self._gather(statement, [records.conversation_values(state)])

    def end_conversation(self, resident_id: int, channel: str, conversation: str) -> None:
        """Forget the resident's open exchange in that conversation (no-op if none)."""
        self._now(
            delete(conversations).where(
                conversations.c.resident_id == resident_id,
                conversations.c.channel == channel,
                conversations.c.conversation == conversation,
            )
        )

    def enqueue(
        self, reply: Reply, *, request_reference: str | None, not_before: datetime | None = None
    ) -> int:
        """Queue ``reply`` for the outbox worker (not before ``not_before``); return its id."""
        values = self._outbox_row(reply, request_reference, not_before)
        result = self._now(insert(outbox).values(values))
        outbox_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        return outbox_id

    def enqueue_many(self, queued: Sequence[tuple[Reply, datetime | None]]) -> None:
        """Queue several replies in one statement, each with its earliest time (or None)."""
        self._gather(
            _ENQUEUE, [self._outbox_row(reply, reply.reference, at) for reply, at in queued]
        )

    def _outbox_row(
        self, reply: Reply, request_reference: str | None, not_before: datetime | None
    ) -> dict[str, Any]:
        now = self._clock()
        return {
            "created_at": now,
            "request_reference": request_reference,
            "channel": reply.channel,
            "destination": destination(reply),
            "reply": reply.to_json(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": max(now, not_before) if not_before else now,
            "platform_ids": [],
        }

    # -- timers ----------------------------------------------------------------------------

    def add_timers(self, reference: str, due: Sequence[tuple[str, datetime]]) -> None:
        """Several timers for request ``reference`` in one statement: (kind, due_at) each."""
        self._gather(
            _ADD_TIMERS,
            [{"request_reference": reference, "kind": k, "due_at": at} for k, at in due],
        )

    def cancel_timers(self, reference: str, kinds: Sequence[str]) -> None:
        """Forget the pending timers of those kinds for ``reference``."""
        self._now(
            delete(timers).where(
                timers.c.request_reference == reference,
                timers.c.kind.in_(list(kinds)),
                timers.c.done_at.is_(None),
            )
        )

    def finish_timer(self, timer_id: int) -> bool:
        """Mark a timer done; False if another worker already did (it must not act twice)."""
        result = self._now(
            update(timers)
            .where(timers.c.id == timer_id, timers.c.done_at.is_(None))
            .values(done_at=self._clock())
        )
        return bool(result.rowcount)
