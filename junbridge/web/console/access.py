"""Who is signed in to the staff console, and how: passwords, cookies, CSRF, attempts.

- A password is kept as scrypt (stdlib ``hashlib.scrypt``) with its own random salt and
  its parameters, ``scrypt$N$r$p$SALT$HASH``; it is checked in constant time, and a name
  with no password costs the same time as a wrong one.
- A session is a random id in a cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` when
  ``web.public_url`` is https, path ``/staff``); the store keeps its SHA-256, whom it signs
  in and until when (:data:`SESSION_TTL`).
- Every form posts a CSRF token, compared in constant time: the session's own once signed
  in; before that (the sign-in forms) a random one also set in a cookie (double submit).
- Five wrong passwords for a name within a quarter of an hour hold that name for the rest
  of it (per process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.datastructures import FormData
from starlette.responses import Response

from junbridge.config.settings import Staff
from junbridge.departments import Department, place_of
from junbridge.desk.staff import named_staff
from junbridge.store.staff_access import StaffSession

PATH = "/staff"
SESSION_COOKIE = "junbridge_staff"
FORM_COOKIE = "junbridge_staff_form"
SESSION_TTL = timedelta(hours=12)
FORM_TTL = timedelta(hours=2)
MIN_PASSWORD = 10
# scrypt's cost: 16 MiB of memory and some 50 ms a try on a small server.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


def new_secret() -> str:
    """A random token for a link, a session id or a CSRF token."""
    return secrets.token_urlsafe(32)


def same(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected``, in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_password(password: str) -> str:
    """What the store keeps of ``password``."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


# Checked when a name has no password, so that answering takes as long either way.
_NOBODY = hash_password(secrets.token_urlsafe(16))


def password_matches(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (False without one)."""
    try:
        scheme, n, r, p, salt, digest = (stored or _NOBODY).split("$")
        if scheme != "scrypt":
            return False
        tried = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(tried, base64.b64decode(digest)) and stored is not None


def form_field(form: FormData, name: str) -> str | None:
    """A text field of a posted form (None if absent, or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def secure(public_url: str) -> bool:
    """Whether the console is served over TLS, so its cookies must say ``Secure``."""
    return public_url.lower().startswith("https://")


def set_cookie(
    response: Response, name: str, value: str, *, max_age: timedelta, public_url: str
) -> None:
    """Set one of the console's cookies, with the flags it always has."""
    response.set_cookie(
        name,
        value,
        max_age=int(max_age.total_seconds()),
        path=PATH,
        secure=secure(public_url),
        httponly=True,
        samesite="lax",
    )


def forget_cookie(response: Response, name: str, *, public_url: str) -> None:
    """Remove one of the console's cookies."""
    response.delete_cookie(
        name, path=PATH, secure=secure(public_url), httponly=True, samesite="lax"
    )


def departments_of(departments: Mapping[str, Department], name: str) -> list[Department]:
    """The departments that list a staff member called ``name``."""
    return [d for d in departments.values() if d.staff_member(name) is not None]


def find_member(
    departments: Mapping[str, Department], said: str
) -> tuple[Staff, Department] | None:
    """The staff member ``said`` names (name or a handle), and their department with a
    staff place (the first one if several, else any of theirs)."""
    found = [
        (member, department)
        for department in departments.values()
        if said.strip() and (member := named_staff(department, said)) is not None
    ]
    with_place = [pair for pair in found if place_of(pair[1]) is not None]
    chosen = with_place or found
    return chosen[0] if chosen else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Signed:
    """A signed-in staff member: their session, their id's cookie value, their departments."""

    session_id: str
    session: StaffSession
    departments: tuple[Department, ...]

    @property
    def name(self) -> str:
        """The staff member's name, as channels.yaml spells it."""
        return self.session.staff


@dataclass
class Attempts:
    """Wrong passwords per name in the last :data:`FAILURE_WINDOW`, in this process."""

    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def held(self, name: str, now: datetime) -> bool:
        """Whether ``name`` has run out of tries for now."""
        recent = self._recent(name, now)
        return len(recent) >= MAX_FAILURES

    def failed(self, name: str, now: datetime) -> None:
        """Count a wrong password for ``name``."""
        self._recent(name, now).append(now)

    def passed(self, name: str) -> None:
        """Forget ``name``'s failures: they got it right."""
        self._failures.pop(name.casefold(), None)

    def _recent(self, name: str, now: datetime) -> deque[datetime]:
        key = name.casefold()
        if len(self._failures) > 10_000:  # a flood of made-up names must not fill memory
            self._failures.clear()
        recent = self._failures.setdefault(key, deque(maxlen=MAX_FAILURES))
        while recent and now - recent[0] > FAILURE_WINDOW:
            recent.popleft()
        return recent
