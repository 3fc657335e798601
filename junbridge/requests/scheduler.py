"""Promises kept on time: SLA warnings and escalations, and "is it fixed?" follow-ups.

Timers live in the store, so they survive restarts and several workers share them (a timer
is acted on by whoever marks it done first). ``requests.timers.plan`` sets or clears a
request's timers whenever it changes; ``tick`` acts on the ones that are due; ``run`` ticks
until stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from junbridge.departments import Department
from junbridge.desk import followup, staff
from junbridge.model import Reply, ServiceRequest, Status, VersionConflict
from junbridge.requests.timers import (
    ASSIGN,
    CLOSED,
    FIRST_RESPONSE,
    FIXED_CHECK,
    FIXED_DEADLINE,
    SLA_BREACH,
    SLA_TIMERS,
    STAFF_ACTIONS,
    plan,
    replies_with_quiet,
)
from junbridge.store import Timer, Transaction

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """What acting on a timer (or a resident's answer) changes, sends and sets for later."""

    request: ServiceRequest | None = None
    replies: tuple[Reply, ...] = ()
    timers: tuple[tuple[str, datetime], ...] = ()
    cancel: tuple[str, ...] = ()


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
        note = staff.staff_text(department, "note_breach" if breach else "note_warning")
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
            request=request.noted(
                FIRST_RESPONSE,
                by="junbridge",
                at=now,
                note=staff.staff_text(department, "note_unanswered"),
            ),
            replies=(notice,) if notice else (),
        )
    if timer.kind == ASSIGN:
        waiting = request.assignee is None and request.can_become(Status.ASSIGNED)
        member = await department.assignee(at=now) if waiting else None
        if member is None:
            return Action()
        changed = request.noted(
            "assignee", by="junbridge", at=now, note=member.name, assignee=member.name
        ).transition(
            Status.ASSIGNED,
            by="junbridge",
            at=now,
            note=staff.staff_text(department, "note_shift", assignee=member.name),
        )
        notices = staff.to_reporters(changed, department, "state_assigned")
        alert = await staff.alert(bridge, changed, department, assigned=True)
        return Action(request=changed, replies=(*notices, *((alert,) if alert else ())))
    if timer.kind == FIXED_CHECK and request.state is Status.RESOLVED:
        deadline = now + timedelta(hours=department.settings.followup_deadline_hours)
        return Action(
            request=request.noted(
                "asked_fixed",
                by="junbridge",
                at=now,
                details={**request.details, "awaiting": "fixed"},
            ),
            replies=tuple(followup.ask_fixed(request, department)),
            timers=((FIXED_DEADLINE, deadline),),
        )
    if timer.kind == FIXED_DEADLINE and request.state is Status.RESOLVED:
        return Action(request=followup.closed_unanswered(request, department, now))
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
