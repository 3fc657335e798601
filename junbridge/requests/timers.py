"""A request's timers, planned from its changes of state, and when notices may go.

Pure planning: what to set or clear when a request moves (``timers_for``, ``plan``), a fresh
promise on reopening (``restarted``), and quiet hours for residents' notices
(``replies_with_quiet``). Acting on timers when they fall due is ``requests.scheduler``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from junbridge.departments import Department, place_of
from junbridge.model import Reply, ServiceRequest, Status
from junbridge.requests.lifecycle import quiet_until, warning_time
from junbridge.store import Transaction

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

SLA_WARNING = "sla_warning"
SLA_BREACH = "sla_breach"
SLA_TIMERS = (SLA_WARNING, SLA_BREACH)
FIXED_CHECK = "fixed_check"
FIXED_DEADLINE = "fixed_deadline"
FOLLOWUP_TIMERS = (FIXED_CHECK, FIXED_DEADLINE)
ASSIGN = "assign"  # nobody was on duty: give it to whoever starts the next shift
FIRST_RESPONSE = "first_response"  # staff should have answered by now
# What counts as a person having answered.
STAFF_ACTIONS = frozenset(
    {"acknowledged", "in_progress", "resolved", "rejected", "duplicate", "reply", "referred"}
)
CLOSED = frozenset({Status.CLOSED, Status.REJECTED, Status.DUPLICATE})


def plan(
    tx: Transaction,
    request: ServiceRequest,
    department: Department,
    *,
    was: Status | None,
) -> None:
    """Set or clear ``request``'s timers after it went from ``was`` (None: new) to now."""
    cancel, add = timers_for(request, department, was=was)
    if cancel:
        tx.cancel_timers(request.reference, cancel)
    if add:
        tx.add_timers(request.reference, add)


def timers_for(
    request: ServiceRequest, department: Department, *, was: Status | None
) -> tuple[tuple[str, ...], list[tuple[str, datetime]]]:
    """The timer kinds to clear and the (kind, due) timers to set after a change of state."""
    state = request.state
    now = department.now()
    cancel: tuple[str, ...] = ()
    add: list[tuple[str, datetime]] = []
    first = department.settings.first_response_hours
    if was is None and first is not None and state not in CLOSED and state is not Status.RESOLVED:
        add.append((FIRST_RESPONSE, department.promise(first, at=now)))
    if was is None and request.assignee is None and state not in CLOSED:
        upcoming = department.next_shift() if department.settings.on_duty else None
        if upcoming is not None:
            add.append((ASSIGN, upcoming[1]))
    if state in CLOSED:
        if was is not None:
            cancel = (*SLA_TIMERS, *FOLLOWUP_TIMERS, ASSIGN, FIRST_RESPONSE)
    elif state is Status.RESOLVED and was is not Status.RESOLVED:
        if was is not None:
            cancel = SLA_TIMERS
        hours = department.settings.followup_hours
        if hours is not None and request.reported_by:
            add.append((FIXED_CHECK, now + timedelta(hours=hours)))
    elif was is None or (state is Status.REOPENED and was is not Status.REOPENED):
        if was is not None:  # a new request has no timers to clear
            cancel = SLA_TIMERS + FOLLOWUP_TIMERS
        expected = request.expected_datetime
        if expected is not None and expected > now and department.sla_alerts:
            # The clock starts now: at opening, or again at reopening.
            warn = warning_time(
                now, expected, department.town, business_hours=department.settings.business_hours
            )
            add.extend([(SLA_WARNING, max(warn, now)), (SLA_BREACH, expected)])
    return cancel, add


def restarted(request: ServiceRequest, department: Department) -> ServiceRequest:
    """A reopened request with a fresh promise: the clock starts again now."""
    return dataclasses.replace(request, expected_datetime=department.promise())


def settled(request: ServiceRequest, *, by: str, at: datetime) -> ServiceRequest:
    """A resolved request nobody can be asked "is it fixed?" about is closed at once.

    A report filed through Open311 has no chat to ask in (unless a resident reported it
    again nearby and is asked): the staff's word closes it, and its status_notes say it was
    resolved. Any other request is returned as it is.
    """
    if request.state is not Status.RESOLVED or request.reported_by:
        return request
    return request.transition(Status.CLOSED, by=by, at=at)


def replies_with_quiet(bridge: Bridge, replies: list[Reply]) -> list[tuple[Reply, datetime | None]]:
    """Each reply with when it may go: residents' notices wait for the end of quiet hours."""
    held = quiet_until(bridge.clock(), bridge.config.town)
    out = []
    for reply in replies:
        to_staff = any(
            place_of(d) == (reply.channel, reply.conversation) for d in bridge.departments.values()
        )
        out.append((reply, None if to_staff else held))
    return out
