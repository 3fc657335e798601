"""The one commit: what a message's Effects ask for, written in one transaction.

See ``junbridge.effects`` for the Effects the steps return. ``commit`` writes the request
(version-checked, its timers planned, a new one's staff card), the conversation, the
replies and the inbound message marked handled, in one transaction; ``write`` is the same
for many messages in one transaction (group commit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from junbridge.desk import staff
from junbridge.effects import Effects
from junbridge.handled import Handled
from junbridge.model import Message, Reply, ServiceRequest
from junbridge.requests import timers
from junbridge.store import Transaction, staff_access

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

Written = tuple[
    ServiceRequest | None, list[tuple[Reply, datetime | None]], int, ServiceRequest | None
]
"""The saved request, the replies queued (staff cards first), how many cards, and the
other request the message changed, if any (``Effects.other``)."""
Decided = tuple[int, Effects]
"""An accepted message's inbound id and what its steps decided."""


async def commit(bridge: Bridge, inbound_id: int, message: Message, effects: Effects) -> Handled:
    """Write ``effects`` and mark the message handled, in one transaction."""
    written = await bridge.store.write(lambda tx: write(tx, bridge, inbound_id, effects))
    return committed(bridge, message, effects, written)


def committed(bridge: Bridge, message: Message, effects: Effects, written: Written) -> Handled:
    """After the commit: tell ``request_changed`` plugins, and say what became of it."""
    request, queued, cards, other = written
    if request is not None:
        before = len(effects.original.history) if effects.original is not None else 0
        for entry in request.history[before:]:
            bridge.notify(request, entry.action)
    if other is not None and effects.other is not None:
        for entry in other.history[len(effects.other.original.history) :]:
            bridge.notify(other, entry.action)
    return Handled(
        message=message,
        request=request,
        replies=tuple(reply for reply, _ in queued[cards:]),
        department=effects.department,
        error=effects.error,
    )


def write_all(tx: Transaction, bridge: Bridge, decided: Sequence[Decided]) -> list[Written]:
    """:func:`write` for several messages in one transaction (group commit).

    Their new requests are inserted together first, in one statement.
    """
    inserted = iter(tx.insert_requests([r for _, e in decided if (r := _new(e)) is not None]))
    return [
        write(tx, bridge, inbound_id, e, inserted=next(inserted) if _new(e) else None)
        for inbound_id, e in decided
    ]


def _new(effects: Effects) -> ServiceRequest | None:
    """The request ``effects`` create, if they create one."""
    request = effects.request
    return request if request is not None and request.reference == "" else None


def write(
    tx: Transaction,
    bridge: Bridge,
    inbound_id: int | None,
    effects: Effects,
    *,
    inserted: ServiceRequest | None = None,
) -> Written:
    """The statements of one commit, run in the store's worker thread: no awaits here.

    ``inserted`` is the message's new request if already stored (see :func:`write_all`).
    ``inbound_id`` is None for effects no message caused (a report filed through Open311).
    Returns what :data:`Written` says.
    """
    request, card = write_request(tx, bridge, effects.request, effects.original, inserted)
    other = None
    if effects.other is not None:
        other, _ = write_request(tx, bridge, effects.other.request, effects.other.original)
        if other is not None and effects.other.leaving is not None:
            tx.remove_reporter(other, effects.other.leaving)
    if request is not None:
        if effects.reporter is not None:
            tx.add_reporter(request, effects.reporter)
        if effects.cancel_timers:
            tx.cancel_timers(request.reference, effects.cancel_timers)
        if effects.add_timers:
            tx.add_timers(request.reference, effects.add_timers)
    for resident_id, channel, conversation in effects.end:
        tx.end_conversation(resident_id, channel, conversation)
    keep = effects.keep
    if keep is not None and keep.request_reference == "" and request is not None:
        keep = dataclasses.replace(keep, request_reference=request.reference)
    if keep is not None:
        tx.save_conversation(keep)
    rendered = effects.render(request) if effects.render is not None else ()
    queued = [*card, *effects.replies, *((reply, None) for reply in rendered)]
    tx.enqueue_many(queued)
    if effects.notice is not None:
        tx.set_limit_notice(*effects.notice)
    if effects.language is not None:
        tx.set_resident_language(*effects.language)
    if effects.sign_in is not None:
        staff_access.add_sign_in(tx.connection, effects.sign_in, now=bridge.clock())
    if inbound_id is None:
        return request, queued, len(card), other
    tx.finish_inbound(
        inbound_id,
        request_reference=request.reference if request and effects.link_request else None,
        error=effects.error,
        counted=effects.counted,
    )
    return request, queued, len(card), other


def write_request(
    tx: Transaction,
    bridge: Bridge,
    request: ServiceRequest | None,
    original: ServiceRequest | None,
    inserted: ServiceRequest | None = None,
) -> tuple[ServiceRequest | None, list[tuple[Reply, datetime | None]]]:
    """Save a new or changed request and plan its timers; a new one's staff card to post."""
    if request is None:
        return None, []
    is_new = request.reference == ""
    if not is_new and original is not None and request == original:
        return request, []  # read, not changed: nothing to write
    if not is_new and original is None:
        raise ValueError(f"a change to {request.reference} needs the request as it was read")
    saved = inserted or tx.save_request(request)
    department = bridge.departments.get(saved.department)
    if department is None:
        return saved, []
    was = original.state if original is not None and not is_new else None
    timers.plan(tx, saved, department, was=was)
    card = staff.card(saved, department) if is_new else None
    return saved, [(card, None)] if card is not None else []
