"""What the town's figures count of one request, kept beside it so that counting is cheap.

The transparency page, ``/metrics`` and ``junbridge requests stats`` ask the same questions of
every request: how long until a person of the town answered, how long until it was fixed,
was the promise kept, when was it closed, how did the resident rate it. The answers live in
the request's history, and reading every history line of a large store for each page view
is what made such pages slow. Instead they are worked out here each time a request is saved
(``Transaction.save_request``) and kept in the ``request_figures`` table, one row per
request, indexed so that each figure is one GROUP BY over an index (``figures.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from junbridge.model import ServiceRequest, Status, state_notes

# What counts as a person having answered (junbridge.requests.timers.STAFF_ACTIONS; a test
# keeps the two the same).
ANSWERS = frozenset(
    {"acknowledged", "in_progress", "resolved", "rejected", "duplicate", "reply", "referred"}
)
# How history lines name who did something that is not the town's staff: the bridge itself,
# and residents ("telegram:@vecina"; "resident" once retention anonymized them).
AUTOMATIC = "junbridge"
RESIDENT = "resident"
_RESIDENT_LABEL = re.compile(r"^[a-z_]+:\S+$")
SLA_BREACH = "sla_breach"
RESOLVED = Status.RESOLVED.value


def by_resident(by: str) -> bool:
    """Whether a history line's ``by`` is a resident, not the town's staff or the bridge."""
    return by == RESIDENT or _RESIDENT_LABEL.match(by) is not None


def by_staff(by: str) -> bool:
    """Whether a history line's ``by`` is a person of the town hall."""
    return by != AUTOMATIC and not by_resident(by)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measures:
    """A request's figures (None: not yet, or never).

    ``answer_seconds``: from the report to the first answer of a person of the town hall
    (acknowledged, a reply, a change of state). ``fix_seconds``: to the first ``resolved``.
    ``closed_at``: when it last became closed for Open311 (None while open). ``promise_kept``:
    True when it was resolved by its ``expected_datetime`` with no SLA breach; False once the
    breach is recorded or it was resolved late; None while it may still go either way, or
    without a promise. ``rating``: the resident's 1-5 rating.
    """

    answer_seconds: int | None = None
    fix_seconds: int | None = None
    closed_at: datetime | None = None
    promise_kept: bool | None = None
    rating: int | None = None

    def columns(self) -> dict[str, object]:
        """The ``requests`` columns of the same names."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = ("answer_seconds", "fix_seconds", "closed_at", "promise_kept", "rating")


def measures(request: ServiceRequest) -> Measures:
    """The figures of ``request``, from its history, promise and details."""
    answered = resolved = closed = None
    breached = False
    for entry in request.history:
        if answered is None and entry.action in ANSWERS and by_staff(entry.by):
            answered = entry.at
        if resolved is None and entry.action == RESOLVED:
            resolved = entry.at
        if entry.action == SLA_BREACH:
            breached = True
        if entry.state is not None and not entry.state.is_open:
            closed = entry.at
    expected = request.expected_datetime
    kept: bool | None = None
    if expected is not None:
        if breached or (resolved is not None and resolved > expected):
            kept = False
        elif resolved is not None:
            kept = True
    rating = request.details.get("rating")
    return Measures(
        answer_seconds=_seconds(request.requested_datetime, answered),
        fix_seconds=_seconds(request.requested_datetime, resolved),
        closed_at=closed if not request.state.is_open else None,
        promise_kept=kept,
        rating=int(rating) if isinstance(rating, int | str) and str(rating).isdigit() else None,
    )


def _seconds(start: datetime, end: datetime | None) -> int | None:
    # Never negative: a platform's clock may put the report a moment after our answer.
    return None if end is None else max(0, round((end - start).total_seconds()))


def figures_row(request_id: int, request: ServiceRequest) -> dict[str, object]:
    """The ``request_figures`` row of the stored request ``request_id``."""
    return {
        "request_id": request_id,
        "requested_datetime": request.requested_datetime,
        "expected_datetime": request.expected_datetime,
        "department": request.department,
        "privacy": request.privacy,
        "state": request.state.value,
        **measures(request).columns(),
        "state_notes": state_notes(request),
    }
