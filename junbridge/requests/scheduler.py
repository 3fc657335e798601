"""Promises kept on time: SLA warnings and escalations, and "is it fixed?" follow-ups.

Timers live in the store, so they survive restarts and several workers share them (a timer
is acted on by whoever marks it done first). ``plan`` sets or clears a request's timers
whenever it changes; ``tick`` acts on the ones that are due; ``run`` ticks until stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from junbridge.departments import Department
from junbridge.desk import followup, staff
from junbridge.model import Reply, ServiceRequest, Status, VersionConflict
from junbridge.requests.lifecycle import quiet_until, warning_time
from junbridge.store import Timer, Transaction

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """What acting on a timer (or a resident's answer) changes, sends and sets for later."""

    request: ServiceRequest | None = None
    replies: tuple[Reply, ...] = ()
    timers: tuple[tuple[str, datetime], ...] = ()
    cancel: tuple[str, ...] = ()


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
        if hours is not None and request.channel is not None:
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


async def tick(bridge: Bridge) -> int:
    """Act on every timer that is due; return how many were acted on."""
    done = 0
    for timer in await bridge.store.due_timers(bridge.clock()):
        try:
            done += await fire_fresh(bridge, timer)
        except Exception:
            log.exception(
                "timer %s for %s failed; it will be tried again",
                timer.kind,
                timer.request_reference,
            )
    return done


async def fire_fresh(bridge: Bridge, timer: Timer, *, attempts: int = 5) -> int:
    """``fire``, redone on the fresh request when a message changed it meanwhile."""
    for _ in range(attempts - 1):
        try:
            return await fire(bridge, timer)
        except VersionConflict:
            continue
    return await fire(bridge, timer)


async def fire(bridge: Bridge, timer: Timer) -> int:
    """Act on one due timer, exactly once; 1 if it did something."""
    request = await bridge.requests.get(timer.request_reference)
    department = bridge.departments.get(request.department) if request else None
    if request is None or department is None:
        await bridge.store.write(lambda tx: tx.finish_timer(timer.id))
        return 0
    action = await act(bridge, timer, request, department)
    queued = replies_with_quiet(bridge, list(action.replies))

    def write(tx: Transaction) -> tuple[bool, ServiceRequest | None]:
        if not tx.finish_timer(timer.id):
            return False, None  # another worker got there first
        return True, apply(tx, action, request, department, queued)

    acted, changed = await bridge.store.write(write)
    if changed is not None:
        bridge.notify(changed, changed.history[-1].action)
    return int(acted)


def apply(
    tx: Transaction,
    action: Action,
    request: ServiceRequest,
    department: Department,
    queued: list[tuple[Reply, datetime | None]],
) -> ServiceRequest | None:
    """Write an action in ``tx``: the request, its timers, its messages (quiet hours kept)."""
    changed = action.request
    if changed is not None:
        changed = tx.save_request(changed)
        plan(tx, changed, department, was=request.state)
    if action.cancel:
        tx.cancel_timers(request.reference, action.cancel)
    if action.timers:
        tx.add_timers(request.reference, action.timers)
    tx.enqueue_many(queued)
    return changed


def replies_with_quiet(bridge: Bridge, replies: list[Reply]) -> list[tuple[Reply, datetime | None]]:
    """Each reply with when it may go: residents' notices wait for the end of quiet hours."""
    held = quiet_until(bridge.clock(), bridge.config.town)
    out = []
    for reply in replies:
        to_staff = any(
            staff.place_of(d) == (reply.channel, reply.conversation)
            for d in bridge.departments.values()
        )
        out.append((reply, None if to_staff else held))
    return out


async def act(
    bridge: Bridge, timer: Timer, request: ServiceRequest, department: Department
) -> Action:
    """What a due timer does, if the request still needs it."""
    now = bridge.clock()
    if timer.kind in SLA_TIMERS:
        if request.state in CLOSED or request.state is Status.RESOLVED:
            return Action()
        breach = timer.kind == SLA_BREACH
        notice = await staff.alert(bridge, request, department, breach=breach)
        note = "plazo superado" if breach else "75% del plazo"
        return Action(
            request=request.noted(timer.kind, by="junbridge", at=now, note=note),
            replies=(notice,) if notice else (),
        )
    if timer.kind == FIRST_RESPONSE:
        answered = any(h.action in STAFF_ACTIONS for h in request.history)
        if answered or request.state in CLOSED:
            return Action()
        notice = await staff.alert(bridge, request, department, unanswered=True)
        return Action(
            request=request.noted(FIRST_RESPONSE, by="junbridge", at=now, note="sin respuesta"),
            replies=(notice,) if notice else (),
        )
    if timer.kind == ASSIGN:
        waiting = request.assignee is None and request.can_become(Status.ASSIGNED)
        member = await department.assignee(at=now) if waiting else None
        if member is None:
            return Action()
        changed = request.noted(
            "assignee", by="junbridge", at=now, note=member.name, assignee=member.name
        ).transition(Status.ASSIGNED, by="junbridge", at=now, note=f"{member.name} (turno)")
        notices = (
            staff.to_resident(changed, department, "state_assigned"),
            await staff.alert(bridge, changed, department, assigned=True),
        )
        return Action(request=changed, replies=tuple(n for n in notices if n))
    if timer.kind == FIXED_CHECK and request.state is Status.RESOLVED:
        question = followup.ask_fixed(request, department)
        deadline = now + timedelta(hours=department.settings.followup_deadline_hours)
        return Action(
            request=request.noted(
                "asked_fixed",
                by="junbridge",
                at=now,
                details={**request.details, "awaiting": "fixed"},
            ),
            replies=(question,) if question else (),
            timers=((FIXED_DEADLINE, deadline),),
        )
    if timer.kind == FIXED_DEADLINE and request.state is Status.RESOLVED:
        return Action(request=followup.closed_unanswered(request, now))
    return Action()


async def run(bridge: Bridge, stop: asyncio.Event, *, interval: float = 30.0) -> None:
    """Tick until ``stop`` is set."""
    while not stop.is_set():
        try:
            await tick(bridge)
        except Exception:
            log.exception("scheduler tick failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
