"""The steps that decide what one message changes: each reads, none writes.

``decide`` runs them in order (blocked or flooding sender, staff desk, resident command,
"is it fixed?" answer, edit, department) and returns the message's :class:`Effects`;
``junbridge.commit`` writes them in one transaction. The department step routes a message
to the resident's open conversation (unless it belongs elsewhere: ``desk.leaving``) or to
a new one, calls the department, following handoffs, and turns its Outcome into Effects.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from junbridge import conversations
from junbridge.departments import Conversation, Department, Outcome
from junbridge.desk import abuse, commands, followup, leaving, nearby, staff, unreadable
from junbridge.effects import Effects
from junbridge.model import Message, MessageKind, Reply, Resident, ServiceRequest, Status
from junbridge.requests import outcomes, timers
from junbridge.store import ConversationState
from junbridge.store.nearby import Found
from junbridge.store.records import Usage

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)

TRIAGE = "triage"
# The conversation key of an exchange a private department moved to private messages.
MOVED = "@private"
# A handoff chain longer than this is a plugin bug, not a conversation.
MAX_HANDOFFS = 3


def conversation_keys(message: Message) -> tuple[str, ...]:
    """Where the sender's open exchange may be kept: this conversation, then (in private)
    the one a private department moved here from a public post."""
    return (message.conversation, MOVED) if message.is_private else (message.conversation,)


async def at_the_desk(bridge: Bridge, message: Message) -> tuple[Message, Effects] | None:
    """The staff desk's decision on a message in a staff place; None anywhere else.

    Staff at work are not residents: nothing about the sender is read (or stored).
    """
    place = staff.department_for_place(bridge.departments, message)
    if place is None:
        return None
    return await at_the_desk_of(bridge, message, place)


async def at_the_desk_of(
    bridge: Bridge, message: Message, place: Department
) -> tuple[Message, Effects]:
    """The decision of ``place``'s desk on a message written there."""
    message = await bridge.media.localize(message, bridge.channels.get(message.channel))
    return message, await staff.handle(bridge, message, place)


async def decide(
    bridge: Bridge,
    message: Message,
    resident: Resident,
    open_exchange: ConversationState | None,
    usage: Usage,
    near: Sequence[Found] = (),
    awaiting: Sequence[ServiceRequest] = (),
) -> tuple[Message, Effects]:
    """The steps, in order; the first that takes the message says what it changes.

    For a resident's message: the caller has asked the staff desk first
    (:func:`at_the_desk`), before reading anything of the sender. Blocked or flooding
    sender, resident command, "is it fixed?" answer, edit, department. Steps read; none
    writes. Returns the message as handled (photos made local) and its Effects.
    ``open_exchange`` (the resident's open conversation), ``usage`` (what their rate limits
    count) and ``near`` (the open requests where public departments see the message's
    matter) are read by the caller, for a whole batch at once (``Bridge.read_for_steps``).
    """
    at = abuse.sent_at(bridge, message)
    stopped = abuse.check(bridge, message, resident, usage)
    if stopped is not None:
        return message, stopped  # kept, not handled, nothing fetched
    message = await bridge.media.localize(message, bridge.channels.get(message.channel))
    message, effects = await resident_steps(
        bridge, message, resident, open_exchange, near, awaiting
    )
    # Passed the limits: it counts toward them once committed, whatever became of it.
    return message, dataclasses.replace(effects, counted=(resident.id, at))


async def resident_steps(
    bridge: Bridge,
    message: Message,
    resident: Resident,
    open_exchange: ConversationState | None,
    near: Sequence[Found] = (),
    awaiting: Sequence[ServiceRequest] = (),
) -> tuple[Message, Effects]:
    """Resident command, "is it fixed?" answer, edit, department: the first that takes
    the message. ``awaiting``: the requests waiting for this resident's answer, read with
    the batch for a message that could be one (``followup.may_be_an_answer``)."""
    effects = await commands.handle(bridge, message, resident)
    if effects is None:
        effects = await followup.answer(bridge, message, resident, awaiting)
    if effects is not None:
        return message, effects
    if message.kind is MessageKind.EDIT and message.edit_of:
        edited = await edit_effects(bridge, message)
        if edited is not None:
            return message, edited
    return message, await department_effects(bridge, message, resident, open_exchange, near)


async def department_effects(
    bridge: Bridge,
    message: Message,
    resident: Resident,
    stored: ConversationState | None,
    near: Sequence[Found] = (),
) -> Effects:
    """Route to the open conversation (``stored``)'s department or a new one, and ask it.

    A new report where one is open already joins it (:mod:`junbridge.desk.nearby`);
    ``near`` are the open requests read with the batch where departments saw its place.
    """
    now = bridge.clock()
    if unreadable.is_unreadable(message):
        return await unreadable.answer(bridge, message, resident, stored)
    if stored is not None and nearby.says_another(message.text):
        split = await another(bridge, message, resident, stored)
        if split is not None:
            return split
    state, request = await continued(bridge, message, resident, stored)
    left = state is None and stored is not None and stored.department in bridge.departments
    if state is None:
        goodbye = leaving.farewell(bridge, message, resident, stored)
        if goodbye is not None:
            return goodbye
        state = new_conversation(bridge, resident, message, now)
    department = bridge.departments[state.department]
    language = bridge.language_for(message, resident, department)
    error = None
    asked: nearby.Asked | None = None
    try:
        department, outcome, request, asked = await run_department(
            bridge, department, message, state, resident, language, request
        )
    except Exception as exc:
        error = f"{department.name}: {type(exc).__name__}: {exc}"
        log.error(
            "department failed on %s:%s\n%s",
            message.channel,
            message.platform_id,
            traceback.format_exc(),
        )
        department = bridge.departments[TRIAGE]
        state = conversations.fresh(resident.id, message, TRIAGE, now)
        outcome = await department.handle(
            message, conversation_of(bridge, state, resident, language, None)
        )
    if asked is not None:
        joined = await nearby.join(
            bridge,
            message,
            resident,
            stored,
            state,
            department,
            outcome,
            asked,
            language,
            near,
            request,
        )
        if joined is not None:
            return joined
    if left and outcome.ask is None and error is None:
        # Left for a quick answer elsewhere (the canteen menu, a report filed at once): the
        # open exchange is still there for the resident's next answer to it.
        stored = None
    return outcome_effects(
        bridge, message, resident, stored, state, department, outcome, request, language, error
    )


async def continued(
    bridge: Bridge, message: Message, resident: Resident, stored: ConversationState | None
) -> tuple[ConversationState | None, ServiceRequest | None]:
    """The open exchange ``message`` answers, and its request; (None, None) when there is
    none or the message leaves it (see :mod:`junbridge.desk.leaving`)."""
    if stored is None or stored.department not in bridge.departments:
        return None, None
    if stored.awaiting == nearby.ANOTHER:
        return None, None  # told "already reported": anything but "es otra" is a new message
    request = None
    if stored.request_reference:
        request = await bridge.store.get_request(stored.request_reference)
    department = bridge.departments[stored.department]
    language = bridge.language_for(message, resident, department)
    open_exchange = conversation_of(bridge, stored, resident, language, request)
    if leaving.leaves(bridge, message, department, open_exchange):
        log.info(
            "%s:%s leaves the open conversation with %s",
            message.channel,
            message.platform_id,
            department.name,
        )
        return None, None
    return stored, request


async def run_department(
    bridge: Bridge,
    department: Department,
    message: Message,
    state: ConversationState,
    resident: Resident,
    language: str,
    request: ServiceRequest | None,
) -> tuple[Department, Outcome, ServiceRequest | None, nearby.Asked]:
    """Call the department, following handoffs (triage -> the department chosen).

    Also returns what the last department was asked: the message and conversation it saw.
    """
    conversation = conversation_of(bridge, state, resident, language, request)
    outcome = await department.handle(message, conversation)
    asked = nearby.Asked(message=message, awaiting=state.awaiting, data=state.data)
    for _ in range(MAX_HANDOFFS):
        if outcome.handoff is None:
            break
        department = bridge.departments[outcome.handoff]
        first = state.first_message or message
        language = bridge.language_for(first, resident, department)
        conversation = Conversation(
            department=department.name,
            resident=resident,
            language=language,
            request=request,
            first_message=first,
        )
        outcome = await department.handle(first, conversation)
        asked = nearby.Asked(message=first, awaiting=None, data={})
    else:
        raise RuntimeError(f"more than {MAX_HANDOFFS} handoffs")
    return department, outcome, request, asked


async def another(
    bridge: Bridge, message: Message, resident: Resident, stored: ConversationState
) -> Effects | None:
    """On "es otra", the report the resident was told is already reported is opened after
    all, as its department opens it, and they leave the request they joined (one commit)."""
    found = nearby.report_of(stored)
    department = bridge.departments.get(stored.department)
    if found is None or department is None:
        return None
    report, before = found
    language = bridge.language_for(message, resident, department)
    # Asked "where?" first: their own request became a duplicate when they joined; it is
    # theirs again. Otherwise the report opens a new one, as it would have.
    own = None
    if isinstance(stored.data.get("own"), str):
        own = await bridge.store.get_request(stored.data["own"])
        if own is None or own.state is not Status.DUPLICATE:
            return None  # staff took it up meanwhile: not ours to reopen
    request = nearby.revived(own, department, message) if own is not None else None
    try:
        department, outcome, _, _ = await run_department(
            bridge, department, report, before, resident, language, request
        )
    except Exception:
        log.exception("%s could not open the report again", department.name)
        return None
    effects = outcome_effects(
        bridge, report, resident, stored, before, department, outcome, request, language, None
    )
    reference = stored.data.get("joined")
    joined = await bridge.store.get_request(reference) if isinstance(reference, str) else None
    owner = bridge.departments.get(joined.department, department) if joined else department
    if own is not None and effects.request is not None:
        # Saved against the copy read (its version). Becoming a duplicate cleared its
        # timers: it gets those of a request opened now that the commit does not plan.
        _, planned = timers.timers_for(effects.request, department, was=own.state)
        _, fresh = timers.timers_for(effects.request, department, was=None)
        kinds = {kind for kind, _ in planned}
        add = tuple((kind, due) for kind, due in fresh if kind not in kinds)
        effects = dataclasses.replace(effects, original=own, add_timers=add)
    # Never tied to the inbound "es otra": editing it must not rewrite the request.
    return dataclasses.replace(
        effects, other=nearby.leaving(joined, owner, message, resident), link_request=False
    )


def outcome_effects(
    bridge: Bridge,
    message: Message,
    resident: Resident,
    stored: ConversationState | None,
    state: ConversationState,
    department: Department,
    outcome: Outcome,
    original: ServiceRequest | None,
    language: str,
    error: str | None,
) -> Effects:
    """The request, conversation and replies a department's Outcome asks for.

    ``stored`` is the open exchange the message continued, if any: it ends here, and a
    new one is kept if the department asked something.
    """
    now = bridge.clock()
    request = original
    if outcome.change is not None:
        request = outcomes.changed(
            original,
            outcome.change,
            department=department,
            message=message,
            resident=resident,
            language=language,
            now=now,
        )
    if error and request is not None:
        request = request.noted("plugin_failed", by="junbridge", at=now, note=error)
    keep = None
    if outcome.ask is not None:
        moved = department.privacy == "private" and not message.is_private
        keep = conversations.continued(
            dataclasses.replace(state, conversation=MOVED) if moved else state,
            outcome=outcome,
            department=department.name,
            message=message,
            # A new request's reference is known only once it is saved: commit fills it.
            request_reference=request.reference if request else None,
            now=now,
        )

    def render(saved: ServiceRequest | None) -> list[Reply]:
        return outcomes.replies(
            outcome.says,
            department=department,
            desk=bridge.departments[TRIAGE],
            request=saved,
            message=message,
            language=language,
        )

    return Effects(
        request=request,
        original=original,
        render=render,
        end=((resident.id, stored.channel, stored.conversation),) if stored else (),
        keep=keep,
        error=error,
        department=department.name,
    )


async def edit_effects(bridge: Bridge, message: Message) -> Effects | None:
    """An edited message updates the request it opened; None if it opened none."""
    assert message.edit_of is not None
    reference = await bridge.store.inbound_reference(message.channel, message.edit_of)
    original = await bridge.store.get_request(reference) if reference else None
    if original is None:
        return None
    request = original
    # The description is the first report's words: an edit of a message that joined the
    # request (the same lamp reported again nearby) leaves it as it is.
    joiner = any(
        (r.channel, r.recipient) == (message.channel, message.sender.id) for r in original.joined
    )
    if not joiner and original.description != message.text:
        request = original.noted(
            "edited",
            by=outcomes.resident_label(message),
            at=bridge.clock(),
            note="the resident edited the message",
            description=message.text,
            via=message.channel,
        )
    return Effects(request=request, original=original, department=request.department)


def new_conversation(
    bridge: Bridge, resident: Resident, message: Message, now: datetime
) -> ConversationState:
    """A conversation for a message no open one claims, with the department routed to."""
    route = bridge.route(message)
    state = conversations.fresh(resident.id, message, route.department or TRIAGE, now)
    if route.is_ambiguous:
        language = bridge.language_for(message, resident, None)
        candidates = [[n, bridge.departments[n].title(language)] for n in route.candidates]
        state = dataclasses.replace(state, data={"candidates": candidates})
    return state


def conversation_of(
    bridge: Bridge,
    state: ConversationState,
    resident: Resident,
    language: str,
    request: ServiceRequest | None,
) -> Conversation:
    """The department's view of a stored conversation."""
    return Conversation(
        department=state.department,
        resident=resident,
        language=language,
        awaiting=state.awaiting,
        data=state.data,
        request=request,
        first_message=state.first_message,
    )
