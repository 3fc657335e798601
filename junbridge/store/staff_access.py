"""Who may use the staff console: one-time sign-in links, sessions and passwords.

Secrets never reach the database as they are: a link's token and a session's id are kept as
their SHA-256 (:func:`digest`), a password as its scrypt hash (made by the console). Each
function here is one transaction; the ones named ``add_`` run inside a bigger one (a staff
command's commit).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, insert, select, update

from junbridge.store.schema import staff_passwords, staff_sessions, staff_sign_ins

if TYPE_CHECKING:
    from junbridge.store.store import Store
    from junbridge.store.transaction import Transaction

# Used or expired links are kept this long (for an operator asking "did they get one?").
KEEP_USED = timedelta(days=1)


def digest(secret: str) -> str:
    """What the database keeps of a token or a session id."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class SignIn:
    """A one-time sign-in link about to be stored: its token's digest, for whom, until when."""

    token_hash: str
    staff: str
    department: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffSession:
    """A signed-in browser: who, from which department's sign-in, its CSRF token, until when."""

    staff: str
    department: str
    csrf: str
    expires_at: datetime


def add_sign_in(connection: Connection, sign_in: SignIn, *, now: datetime) -> None:
    """Store ``sign_in`` (and forget links used or expired a while ago)."""
    connection.execute(delete(staff_sign_ins).where(staff_sign_ins.c.expires_at < now - KEEP_USED))
    connection.execute(
        insert(staff_sign_ins).values(
            token_hash=sign_in.token_hash,
            staff=sign_in.staff,
            department=sign_in.department,
            created_at=now,
            expires_at=sign_in.expires_at,
        )
    )


async def issue(store: Store, sign_in: SignIn, *, now: datetime) -> None:
    """Store ``sign_in`` on its own (a link asked for on the console's sign-in page)."""
    await store.write(lambda tx: add_sign_in(tx.connection, sign_in, now=now))


async def issued_since(store: Store, staff: str, since: datetime) -> int:
    """How many links were made for ``staff`` since ``since`` (links are paced per person)."""
    query = select(func.count()).where(
        staff_sign_ins.c.staff == staff, staff_sign_ins.c.created_at > since
    )
    return await store.read(lambda connection: int(connection.execute(query).scalar_one()))


def _add_session(
    connection: Connection,
    session_id: str,
    session: StaffSession,
    *,
    now: datetime,
) -> StaffSession:
    connection.execute(delete(staff_sessions).where(staff_sessions.c.expires_at < now))
    connection.execute(
        insert(staff_sessions).values(
            id_hash=digest(session_id),
            staff=session.staff,
            department=session.department,
            csrf=session.csrf,
            created_at=now,
            expires_at=session.expires_at,
        )
    )
    return session


async def redeem(
    store: Store, token: str, *, session_id: str, csrf: str, now: datetime, until: datetime
) -> StaffSession | None:
    """Use up the link ``token`` and open a session ``session_id`` for its staff member, in
    one transaction; None if the link is unknown, used or expired."""

    def work(tx: Transaction) -> StaffSession | None:
        used = tx.connection.execute(
            update(staff_sign_ins)
            .where(
                staff_sign_ins.c.token_hash == digest(token),
                staff_sign_ins.c.used_at.is_(None),
                staff_sign_ins.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(staff_sign_ins.c.staff, staff_sign_ins.c.department)
        ).first()
        if used is None:
            return None
        session = StaffSession(
            staff=used.staff, department=used.department, csrf=csrf, expires_at=until
        )
        return _add_session(tx.connection, session_id, session, now=now)

    return await store.write(work)


async def open_session(
    store: Store, session_id: str, session: StaffSession, *, now: datetime
) -> StaffSession:
    """Store a new session (a password sign-in)."""
    return await store.write(lambda tx: _add_session(tx.connection, session_id, session, now=now))


async def find_session(store: Store, session_id: str, *, now: datetime) -> StaffSession | None:
    """The live session with id ``session_id``, or None."""
    query = select(staff_sessions).where(
        staff_sessions.c.id_hash == digest(session_id), staff_sessions.c.expires_at > now
    )
    row = await store.read(lambda connection: connection.execute(query).first())
    if row is None:
        return None
    return StaffSession(
        staff=row.staff, department=row.department, csrf=row.csrf, expires_at=row.expires_at
    )


async def end_session(store: Store, session_id: str) -> None:
    """Sign a browser out."""
    statement = delete(staff_sessions).where(staff_sessions.c.id_hash == digest(session_id))
    await store.write(lambda tx: tx.connection.execute(statement))


async def end_sessions_of(store: Store, staff: str) -> int:
    """Sign every browser of ``staff`` out (their password changed); how many there were."""
    statement = delete(staff_sessions).where(staff_sessions.c.staff == staff)
    return await store.write(lambda tx: int(tx.connection.execute(statement).rowcount))


async def set_password(store: Store, staff: str, hashed: str, *, now: datetime) -> None:
    """Keep ``hashed`` as ``staff``'s console password, replacing any other."""

    def work(tx: Transaction) -> None:
        tx.connection.execute(delete(staff_passwords).where(staff_passwords.c.staff == staff))
        tx.connection.execute(insert(staff_passwords).values(staff=staff, hash=hashed, set_at=now))

    await store.write(work)


async def password_of(store: Store, staff: str) -> str | None:
    """``staff``'s password hash, if an admin set one."""
    query = select(staff_passwords.c.hash).where(staff_passwords.c.staff == staff)
    return await store.read(lambda connection: connection.execute(query).scalar_one_or_none())
