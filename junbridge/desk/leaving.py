"""Leaving an open conversation: a message that is not an answer to the department asking.

A department that asked something holds the resident's conversation, but not everything
the resident writes next is an answer. Before the open department sees a message, it is
asked :meth:`Department.keeps`; when it has no opinion, the message leaves if it is a
thanks or goodbye, or if another department clearly claims it (named with ``/``/``#``, or a
keyword match) and the open department does not. A message that leaves is routed anew as
if no conversation were open, and the open conversation's request is left as it is. The
open conversation stays for the resident's next answer unless the department the message
went to asks something in its place. A thanks or goodbye gets a short answer from the town
hall desk, opens no request and ends the open conversation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from junbridge.departments import Conversation, Department, fold
from junbridge.desk import abuse
from junbridge.effects import Effects
from junbridge.model import Message, MessageKind, Resident
from junbridge.routing import explicit_department
from junbridge.store import ConversationState

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)

# Another department's match at least this sure takes the message away (one keyword: 0.7).
CLEAR_MATCH = 0.7

# What ends a conversation, folded; a message is a farewell when it holds one of these and
# otherwise only words from FILLER ("ok, muchas gracias, nada más").
FAREWELLS: Mapping[str, tuple[str, ...]] = {
    "es": ("gracias", "nada mas", "eso es todo", "adios", "hasta luego", "chao", "un saludo"),
    "en": ("thanks", "thank you", "thx", "bye", "goodbye", "cheers", "that s all", "nothing else"),
}
FILLER = frozenset(
    {
        *("ok", "okay", "vale", "bien", "perfecto", "genial", "estupendo", "de", "acuerdo"),
        *("muchas", "muchisimas", "mil", "pues", "no", "si", "nada", "buenas", "buenos"),
        *("dias", "tardes", "noches", "y", "por", "todo"),
        *("great", "perfect", "fine", "many", "very", "much", "so", "all", "yes", "and"),
        *("good", "day", "have", "a", "nice"),
    }
)
_WORDS = re.compile(r"\w+")

FAREWELL_TEXTS: Mapping[str, Mapping[str, str]] = {
    "es": {"goodbye": "¡A ti! Aquí estamos para lo que necesites."},
    "en": {"goodbye": "You're welcome! We're here whenever you need us."},
}


def farewell_language(text: str) -> str | None:
    """The language of a thanks or goodbye (``"gracias, nada más"`` -> ``"es"``), else None."""
    words = " " + " ".join(_WORDS.findall(fold(text))) + " "
    found = None
    for language, phrases in FAREWELLS.items():
        for phrase in sorted(phrases, key=len, reverse=True):
            if f" {phrase} " in words:
                found = found or language
                words = words.replace(f" {phrase} ", " ")
    if found is None or any(word not in FILLER for word in words.split()):
        return None
    return found


def leaves(bridge: Bridge, message: Message, department: Department, open: Conversation) -> bool:
    """Whether ``message`` leaves the conversation ``department`` holds (see module doc)."""
    kept = department.keeps(message, open)
    if kept is not None:
        return not kept
    if message.kind is MessageKind.BUTTON or not message.text.strip():
        return False  # a button, a location: answers to what was asked
    if farewell_language(message.text) is not None:
        return True
    if department.match(message) > 0:
        return False
    route = bridge.route(message)
    elsewhere = route.department
    if elsewhere is None or elsewhere == department.name or elsewhere not in bridge.departments:
        return False
    named = explicit_department(message.text, {elsewhere: bridge.departments[elsewhere]})
    return named is not None or bridge.departments[elsewhere].match(message) >= CLEAR_MATCH


def farewell(
    bridge: Bridge, message: Message, resident: Resident, stored: ConversationState | None
) -> Effects | None:
    """The desk's short answer to a thanks or goodbye, ending the open conversation; None if
    ``message`` is not one."""
    if message.kind is MessageKind.BUTTON:
        return None
    said_in = farewell_language(message.text)
    if said_in is None:
        return None
    language = bridge.language_for(message, resident, None)
    if (
        not (resident.language or message.sender.language)
        and said_in in bridge.config.town.languages
    ):
        language = said_in  # nothing else tells us: answer in the words' language
    text = bridge.departments["triage"].text("goodbye", language)
    return Effects(
        replies=Effects.now(abuse.to_sender(message, text)),
        end=((resident.id, stored.channel, stored.conversation),) if stored else (),
    )
