"""Steps decide, one commit writes.

Each step of the pipeline (blocked sender, rate limit, staff desk, resident command, "is it
fixed?", edit, department) reads what it needs and returns :class:`Effects`: the request it
changed, the replies to send, the timers and conversation state to keep. No step opens a
transaction. :func:`commit` writes all of it in one transaction, with the inbound message
marked handled in the same one: either the whole outcome of a message is stored, or none of
it (and the message is handled again).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from junbridge.handled import Handled
from junbridge.model import Message, Reply, ServiceRequest
from junbridge.store import ConversationState, Transaction

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

# Replies that can only be written once the request is saved (they name its reference).
Render = Callable[[ServiceRequest | None], Sequence[Reply]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Effects:
    """What handling one message changes; ``commit`` writes it in one transaction."""

    #: The request as the step left it: new when its reference is "", else version-checked.
    request: ServiceRequest | None = None
    #: The request as it was read (None for a new one): timers follow the change of state.
    original: ServiceRequest | None = None
    #: Replies to send, each with the earliest time it may go (quiet hours), or None.
    replies: tuple[tuple[Reply, datetime | None], ...] = ()
    #: Replies made from the saved request, e.g. ones that name a new request's reference.
    render: Render | None = None
    #: Timers to drop (kinds) and to add (kind, due) for the request.
    cancel_timers: tuple[str, ...] = ()
    add_timers: tuple[tuple[str, datetime], ...] = ()
    #: Conversations to forget (resident id, channel, conversation), then one to keep.
    end: tuple[tuple[int, str, str], ...] = ()
    keep: ConversationState | None = None
    #: Whether the inbound row records the request (a command about JUN-1 must not).
    link_request: bool = True
    #: Why the message was stopped or failed, kept on the inbound row.
    error: str | None = None
    department: str | None = None

    @staticmethod
    def now(*replies: Reply) -> tuple[tuple[Reply, datetime | None], ...]:
        """Replies that may go at once."""
        return tuple((reply, None) for reply in replies)


Written = tuple[ServiceRequest | None, list[tuple[Reply, datetime | None]], int]


async def commit(bridge: Bridge, inbound_id: int, message: Message, effects: Effects) -> Handled:
    """Write ``effects`` and mark the message handled, in one transaction."""
    written = await bridge.store.write(lambda tx: write(tx, bridge, inbound_id, effects))
    return committed(bridge, message, effects, written)


def committed(bridge: Bridge, message: Message, effects: Effects, written: Written) -> Handled:
    """After the commit: tell ``request_changed`` plugins, and say what became of it."""
    request, queued, cards = written
    if request is not None:
        before = len(effects.original.history) if effects.original is not None else 0
        for entry in request.history[before:]:
            bridge.notify(request, entry.action)
    return Handled(
        message=message,
        request=request,
        replies=tuple(reply for reply, _ in queued[cards:]),
        department=effects.department,
        error=effects.error,
    )


def write(tx: Transaction, bridge: Bridge, inbound_id: int, effects: Effects) -> Written:
    """The statements of one commit, run in the store's worker thread: no awaits here.

    Returns the saved request, the replies queued (staff cards first) and how many cards.
    """
    request, card = write_request(tx, bridge, effects.request, effects.original)
    if request is not None:
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
    tx.finish_inbound(
        inbound_id,
        request_reference=request.reference if request and effects.link_request else None,
        error=effects.error,
    )
    return request, queued, len(card)


def write_request(
    tx: Transaction,
    bridge: Bridge,
    request: ServiceRequest | None,
    original: ServiceRequest | None,
) -> tuple[ServiceRequest | None, list[tuple[Reply, datetime | None]]]:
    """Save a new or changed request and plan its timers; a new one's staff card to post."""
    from junbridge.desk import staff  # both build on the bridge's other modules
    from junbridge.requests import scheduler

    if request is None:
        return None, []
    is_new = request.reference == ""
    if not is_new and original is not None and request == original:
        return request, []  # read, not changed: nothing to write
    if not is_new and original is None:
        raise ValueError(f"a change to {request.reference} needs the request as it was read")
    saved = tx.save_request(request)
    department = bridge.departments.get(saved.department)
    if department is None:
        return saved, []
    was = original.state if original is not None and not is_new else None
    scheduler.plan(tx, saved, department, was=was)
    card = staff.card(saved, department) if is_new else None
    return saved, [(card, None)] if card is not None else []
