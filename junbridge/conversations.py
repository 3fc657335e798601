"""Multi-turn state: which department owns a resident's open conversation, and until when.

A department that asks a question (``Outcome.ask``) keeps the conversation: the resident's
next message in the same chat or thread goes back to it, until the department stops
asking or the conversation expires; a message that is not an answer (thanks, another
department's matter) leaves it: see :mod:`junbridge.desk.leaving`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from junbridge.departments import Department, Outcome, keyword_hits
from junbridge.model import Message, Resident
from junbridge.store import ConversationState

# A question left unanswered this long is forgotten; the next message is routed afresh.
CONVERSATION_TTL = timedelta(hours=24)


def continued(
    state: ConversationState,
    *,
    outcome: Outcome,
    department: str,
    message: Message,
    request_reference: str | None,
    now: datetime,
) -> ConversationState:
    """The state to keep after a department asked another question."""
    return ConversationState(
        resident_id=state.resident_id,
        channel=state.channel,
        conversation=state.conversation,
        department=department,
        awaiting=outcome.ask,
        data=dict(outcome.remember),
        request_reference=request_reference,
        first_message=state.first_message or message,
        expires_at=now + CONVERSATION_TTL,
        updated_at=now,
    )


def fresh(resident_id: int, message: Message, department: str, now: datetime) -> ConversationState:
    """An empty conversation for a message that no open conversation claimed."""
    return ConversationState(
        resident_id=resident_id,
        channel=message.channel,
        conversation=message.conversation,
        department=department,
        awaiting=None,
        data={},
        request_reference=None,
        first_message=message,
        expires_at=now + CONVERSATION_TTL,
        updated_at=now,
    )


def language_for(
    message: Message,
    resident: Resident,
    department: Department | None,
    languages: Sequence[str],
) -> str:
    """Resident's choice, else the platform's, else the keywords' language, else the town's.

    ``languages`` are the town's, the first being its default.
    """
    for candidate in (resident.language, message.sender.language):
        if candidate and candidate[:2].lower() in languages:
            return candidate[:2].lower()
    if department is not None:
        hits = keyword_hits(message.text, department.settings.keywords)
        if hits:
            best = max(hits, key=lambda lang: hits[lang])
            if best in languages:
                return best
    return languages[0]
