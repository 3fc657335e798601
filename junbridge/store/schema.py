"""The tables, as SQLAlchemy Core objects. ``migrations/`` must build exactly these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.types import TypeDecorator

from junbridge.model import Status

# Deterministic constraint names, so the migration can name (and later alter) the same ones.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

INBOUND_STATUSES = ("pending", "done", "failed", "parked")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
CLOSED_STATES = tuple(s.value for s in Status if not s.is_open)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime: stored as UTC, always read back UTC-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: junbridge stores UTC-aware datetimes")
        value = value.astimezone(UTC)
        # SQLite has no time zone type and compares the stored text: keep every value naive UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _status_check(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

residents = Table(
    "residents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=True),
    Column("language", String, nullable=True),
    Column("verified_at", UTCDateTime, nullable=True),
    Column("verified_by", String, nullable=True),
    Column("preferred_channel", String, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String, nullable=False),
    Column("platform_user_id", String, nullable=False),
    Column("handle", String, nullable=True),
    Column(
        "resident_id",
        Integer,
        ForeignKey("residents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    UniqueConstraint("channel", "platform_user_id"),
)

inbound = Table(
    "inbound",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String, nullable=False),
    Column("platform_id", String, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("message", JSON, nullable=False),
    Column("status", String, nullable=False),
    Column("request_reference", String, nullable=True),
    Column("error", Text, nullable=True),
    # Since 0005: a claim is a lease. The worker handling a message holds it until
    # ``lease_until``; after that any worker may take it over. ``attempts`` counts claims, so
    # a message that keeps failing is parked instead of blocking the queue.
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("worker", String, nullable=True),
    # Messages of one conversation are handled in order, whichever worker takes them.
    Column("conversation", String, nullable=True),
    # Since 0007: a message that passed the rate limits counts toward its resident's
    # limits from ``counted_at`` (when it was written), in every worker alike.
    Column("resident_id", Integer, nullable=True),
    Column("counted_at", UTCDateTime, nullable=True),
    # The dedupe key: a platform that redelivers an event finds it here.
    UniqueConstraint("channel", "platform_id"),
    _status_check("status", INBOUND_STATUSES),
    Index(None, "status"),
    Index(None, "channel", "conversation"),
    Index(None, "resident_id", "counted_at"),
)

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String, nullable=False, unique=True),
    # Open311 GeoReport v2
    Column("service_request_id", String, nullable=False),
    Column("service_code", String, nullable=False),
    Column("service_name", String, nullable=False),
    Column("description", Text, nullable=False),
    Column("status_notes", Text, nullable=True),
    Column("agency_responsible", String, nullable=True),
    Column("service_notice", Text, nullable=True),
    Column("requested_datetime", UTCDateTime, nullable=False),
    Column("updated_datetime", UTCDateTime, nullable=False),
    Column("expected_datetime", UTCDateTime, nullable=True),
    Column("address", String, nullable=True),
    Column("address_id", String, nullable=True),
    Column("lat", Float, nullable=True),
    Column("long", Float, nullable=True),
    Column("media_url", String, nullable=True),
    # junbridge
    Column("department", String, nullable=False, index=True),
    Column("state", String, nullable=False, index=True),
    Column("privacy", String, nullable=False),
    Column("assignee", String, nullable=True),
    Column(
        "resident_id",
        Integer,
        ForeignKey("residents.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    Column("channel", String, nullable=True),
    Column("conversation", String, nullable=True),
    Column("language", String, nullable=True),
    Column("details", JSON, nullable=False),
    Column("attachments", JSON, nullable=False),
    # Since 0003: where the resident wrote, the thread to answer in and their id there.
    Column("thread", String, nullable=True),
    Column("recipient", String, nullable=True),
    # Since 0005: bumped by every change; a save with an older version is refused.
    Column("version", Integer, nullable=False, server_default="1"),
)

# Since 0006: what counts as open, with the closed states as constants in the SQL. Queries
# of open requests say exactly this, so the partial index below serves them: neither SQLite
# nor a PostgreSQL generic plan can match an index's predicate to bound parameters.
REQUEST_IS_OPEN = requests.c.state.not_in([literal_column(f"'{s}'") for s in CLOSED_STATES])
# Least-loaded assignment counts each assignee's open requests on every new report, and a
# department (the doctor's booked slots) lists its open ones: this index holds open requests
# alone, so neither grows with the closed ones. By id, so a department's come newest first
# without a sort, and SQLite (no statistics) prefers it to ix_requests_department.
Index(
    None,
    requests.c.department,
    requests.c.id,
    sqlite_where=REQUEST_IS_OPEN,
    postgresql_where=REQUEST_IS_OPEN,
)

# Since 0007: what the resident was asked and has not answered yet ("fixed", "rating"), from
# ``details["awaiting"]``: a short reply ("sí", "4") finds its request in one indexed
# lookup, not by reading every request the resident ever made.
requests.append_column(Column("awaiting", String, nullable=True))
AWAITING = requests.c.awaiting.is_not(None)
Index(
    "ix_requests_awaiting",
    requests.c.resident_id,
    sqlite_where=AWAITING,
    postgresql_where=AWAITING,
)

# Since 0009: Open311's GET requests reads a range of dates, of one service or of all.
Index(None, requests.c.requested_datetime)
Index(None, requests.c.service_code, requests.c.requested_datetime)

# Since 0012: how many residents reported a request (the first and those who reported it
# again nearby, see ``reporters``), bumped by the version-checked save that adds one. A
# count anyone may see; who they are is in ``reporters``.
requests.append_column(Column("reporters", Integer, nullable=False, server_default="1"))
# A new report looks for an open request of its department nearby: by a box around its
# point (then the distance, in Python, on the few inside), by its street or by its lamp
# number. Open requests with that place alone: a query of a department's open requests
# that names no place keeps to ix_requests_department_id (these cannot serve it).
for _place in ((requests.c.lat, requests.c.long), (requests.c.address,), (requests.c.address_id,)):
    _where = REQUEST_IS_OPEN & _place[0].is_not(None)
    Index(None, requests.c.department, *_place, sqlite_where=_where, postgresql_where=_where)

history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "request_id",
        Integer,
        ForeignKey("requests.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("by", String, nullable=False),
    Column("action", String, nullable=False),
    Column("state", String, nullable=True),
    Column("note", Text, nullable=True),
    Column("channel", String, nullable=True),
    UniqueConstraint("request_id", "position"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "resident_id",
        Integer,
        ForeignKey("residents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", String, nullable=False),
    Column("conversation", String, nullable=False),
    Column("department", String, nullable=False),
    Column("awaiting", String, nullable=True),
    Column("data", JSON, nullable=False),
    Column("request_reference", String, nullable=True),
    Column("first_message", JSON(none_as_null=True), nullable=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("resident_id", "channel", "conversation"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("request_reference", String, nullable=True, index=True),
    Column("channel", String, nullable=False),
    Column("reply", JSON, nullable=False),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    # When a worker took the row; a 'sending' row claimed long ago was left by a crash.
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("platform_ids", JSON, nullable=False),
    Column("error", Text, nullable=True),
    _status_check("status", OUTBOX_STATUSES),
    Index(None, "status", "next_attempt_at"),
)

# Since 0008: where a reply lands (``pacing.destination``: the conversation, or the DM of a
# private answer). Replies to one destination are claimed one at a time, oldest first.
outbox.append_column(Column("destination", String, nullable=True))
Index(None, outbox.c.channel, outbox.c.destination, outbox.c.status)

# Since 0008: the outbox's rate buckets, one moment per key (a channel's bot, one of its
# destinations): see junbridge/pacing.py. Every worker paces against these rows.
pacing = Table(
    "pacing",
    metadata,
    Column("key", String, primary_key=True),
    Column("tat", UTCDateTime, nullable=False),
)

# Where each channel's reading got to (e.g. the newest X mention seen), kept across restarts.
cursors = Table(
    "cursors",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", String, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Since 0004: residents the town hall blocked (abuse), and why.
residents.append_column(Column("blocked_at", UTCDateTime, nullable=True))
residents.append_column(Column("blocked_reason", String, nullable=True))
# Since 0007: told they are over a rate limit; no second notice before this time.
residents.append_column(Column("limit_notice_until", UTCDateTime, nullable=True))

# One-time codes that prove the same person owns two accounts (/link on one, the code on the
# other): the code is tied to the resident who asked for it, and expires.
link_codes = Table(
    "link_codes",
    metadata,
    Column("code", String, primary_key=True),
    Column("resident_id", Integer, ForeignKey("residents.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Things due later for a request: "is it fixed?" questions, SLA warnings and breaches.
# A timer fires once: ``done_at`` is set in the transaction that acts on it.
timers = Table(
    "timers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_reference", String, nullable=False, index=True),
    Column("kind", String, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Index(None, "done_at", "due_at"),
)

# Since 0006: the request each delivered message is about, by the ids its platform gave it
# (a Slack card's ts is the root of its thread), written when the outbox row is marked sent.
# Staff answering in a card's thread find the request here however old the card is. Of the
# messages holding one id in one conversation, the newest (highest outbox id) counts.
threads = Table(
    "threads",
    metadata,
    Column("channel", String, primary_key=True),
    Column("conversation", String, primary_key=True),
    Column("thread", String, primary_key=True),
    Column("request_reference", String, nullable=False),
    # Retention deletes a request's outbox rows; what they posted goes with them.
    Column(
        "outbox_id",
        Integer,
        ForeignKey("outbox.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

# Since 0010: what the town's figures count of each request (junbridge.store.measures),
# worked out from its history whenever it is saved, beside when, where and how it stands.
# The transparency page, /metrics and `junbridge requests stats` count these rows in one
# GROUP BY over an index, never reading history or the requests themselves. A table apart,
# so that the requests table keeps its width: SQLite, planning without statistics, weighs
# an index against the width of the table's rows, and a wider table makes it pass over the
# partial index of open requests (ix_requests_department_id) for ix_requests_department.
request_figures = Table(
    "request_figures",
    metadata,
    Column(
        "request_id",
        Integer,
        ForeignKey("requests.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("requested_datetime", UTCDateTime, nullable=False),
    Column("expected_datetime", UTCDateTime, nullable=True),
    Column("department", String, nullable=False),
    Column("privacy", String, nullable=False),
    Column("state", String, nullable=False),
    Column("answer_seconds", Integer, nullable=True),
    Column("fix_seconds", Integer, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("promise_kept", Boolean, nullable=True),
    Column("rating", Integer, nullable=True),
    # Since 0014: Open311's status_notes as saved (model.state_notes: the state in words,
    # with the note that put it there), so that GET requests reads no history. NULL for
    # requests saved before, and once retention anonymized one: worded from history.
    Column("state_notes", Text, nullable=True),
    # The figures of the requests made since a day, from the index alone (a range of it).
    Index(
        "ix_request_figures_made",
        "requested_datetime",
        "department",
        "privacy",
        "state",
        "answer_seconds",
        "fix_seconds",
        "promise_kept",
        "rating",
    ),
)
# What is open now, and past its promise (said exactly as REQUEST_IS_OPEN is).
FIGURES_OPEN = request_figures.c.state.not_in([literal_column(f"'{s}'") for s in CLOSED_STATES])
Index(
    "ix_request_figures_open",
    request_figures.c.department,
    request_figures.c.privacy,
    request_figures.c.state,
    request_figures.c.expected_datetime,
    request_figures.c.promise_kept,
    request_figures.c.requested_datetime,
    sqlite_where=FIGURES_OPEN,
    postgresql_where=FIGURES_OPEN,
)
# Requests closed since a day, per department (the backlog chart).
FIGURES_CLOSED = request_figures.c.closed_at.is_not(None)
Index(
    "ix_request_figures_closed",
    request_figures.c.closed_at,
    request_figures.c.department,
    request_figures.c.privacy,
    sqlite_where=FIGURES_CLOSED,
    postgresql_where=FIGURES_CLOSED,
)

# Since 0011: the staff console's sign-in. A one-time link's token and a session's id are
# kept as their SHA-256 only: whoever reads the database cannot sign in with them.
# A sign-in link: single use (``used_at``), good until ``expires_at``.
staff_sign_ins = Table(
    "staff_sign_ins",
    metadata,
    Column("token_hash", String, primary_key=True),
    Column("staff", String, nullable=False),
    Column("department", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index(None, "staff", "created_at"),
)
# A signed-in browser: its cookie holds the id, the row holds who and until when, and the
# token its forms must carry (CSRF).
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id_hash", String, primary_key=True),
    Column("staff", String, nullable=False),
    Column("department", String, nullable=False),
    Column("csrf", String, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)
# A staff member's console password, set by an admin (``junbridge staff password NAME``):
# scrypt with its own salt and parameters (junbridge.web.console.access).
staff_passwords = Table(
    "staff_passwords",
    metadata,
    Column("staff", String, primary_key=True),
    Column("hash", String, nullable=False),
    Column("set_at", UTCDateTime, nullable=False),
)

# Since 0012: residents who reported an open request again (nearby, in a public department)
# and were added to it instead of opening another: where each wrote and in which language,
# so that every one of them hears its changes. The first reporter is on the request itself.
reporters = Table(
    "reporters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "request_id",
        Integer,
        ForeignKey("requests.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "resident_id",
        Integer,
        ForeignKey("residents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("channel", String, nullable=False),
    Column("conversation", String, nullable=False),
    Column("thread", String, nullable=True),
    Column("recipient", String, nullable=True),
    Column("language", String, nullable=True),
    # Wrote in a public place (a mention on X): notices there are redacted.
    Column("public", Boolean, nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    UniqueConstraint("request_id", "resident_id"),
)

# Since 0013: running totals of request_figures (junbridge.store.totals), kept in the same
# transaction as the rows they count, so that the town's figures over a period read a few
# rows per hour or day instead of every request made in it.
# Per UTC hour ('YYYY-MM-DD HH') of the report: how many were made, of those how many are
# closed, promises kept and broken, ratings; and how many were closed in that hour.
TOTALS = ("made", "made_closed", "kept", "broken", *(f"rated_{n}" for n in range(1, 6)), "closed")
figure_hours = Table(
    "figure_hours",
    metadata,
    Column("hour", String, primary_key=True),
    Column("department", String, primary_key=True),
    Column("privacy", String, primary_key=True),
    *(Column(name, Integer, nullable=False) for name in TOTALS),
    sqlite_with_rowid=False,
)
# Per UTC day ('YYYY-MM-DD') of the report: how many requests were first answered (and
# fixed) in each span of time, and the seconds they took in all, for the medians. A span
# is a range of seconds a few per cent wide (totals.span_of).
figure_spans = Table(
    "figure_spans",
    metadata,
    Column("day", String, primary_key=True),
    Column("department", String, primary_key=True),
    Column("privacy", String, primary_key=True),
    Column("measure", String, primary_key=True),
    Column("span", Integer, primary_key=True, autoincrement=False),
    Column("n", Integer, nullable=False),
    Column("seconds", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
# Since 0015: how many requests are in each state now, per department and privacy (the
# /metrics gauge), moved with the two tables above instead of counted at every scrape.
figure_states = Table(
    "figure_states",
    metadata,
    Column("department", String, primary_key=True),
    Column("privacy", String, primary_key=True),
    Column("state", String, primary_key=True),
    Column("n", Integer, nullable=False),
    sqlite_with_rowid=False,
)
