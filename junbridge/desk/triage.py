"""Triage: the town hall desk that takes whatever no department claims.

Nothing is dropped: an unclaimed message becomes a request in triage with an
acknowledgement, and an ambiguous one asks the resident which department they mean.
Triage is private: what nobody has read yet is never published.
"""

from __future__ import annotations

from collections.abc import Mapping

from junbridge.departments import (
    Change,
    Conversation,
    Department,
    Outcome,
    RegisterDepartment,
    fold,
)
from junbridge.desk import abuse, leaving, unreadable
from junbridge.desk.commands_texts import COMMANDS_TEXTS
from junbridge.hookspecs import hookimpl
from junbridge.model import Choice, Message, MessageKind


def merged(*texts: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """Template tables joined per language; later tables add keys to earlier ones."""
    out: dict[str, dict[str, str]] = {}
    for table in texts:
        for language, keys in table.items():
            out.setdefault(language, {}).update(keys)
    return out


class Triage(Department):
    """The desk for unclaimed and ambiguous messages, and for plugin failures."""

    name = "triage"
    titles = {"es": "Atención ciudadana", "en": "Town hall desk"}
    privacy = "private"
    service_code = "general"
    # The desk also answers resident commands and rate-limit notices: their texts are here
    # so that departments.triage.replies overrides them like any other.
    texts = merged(
        {
            "es": {
                "received": "Hemos recibido tu mensaje: **{reference}**. Una persona del "
                "ayuntamiento lo revisará y te contestará aquí.",
                "choose": "¿De qué se trata? Elige una opción:",
                "moved_private": "Te hemos enviado un mensaje privado. "
                "Si es una emergencia, llama al {emergency}.",
            },
            "en": {
                "received": "We have received your message: **{reference}**. Someone at the "
                "town hall will read it and answer you here.",
                "choose": "What is it about? Pick one:",
                "moved_private": "We have sent you a private message. "
                "In an emergency, call {emergency}.",
            },
        },
        COMMANDS_TEXTS,
        abuse.ABUSE_TEXTS,
        leaving.FAREWELL_TEXTS,
        unreadable.UNREADABLE_TEXTS,
    )

    def match(self, message: Message) -> float:
        """Triage is never chosen by keywords; it takes what others leave."""
        return 0.0

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """Ask to choose between candidates, or register the message for a person to read."""
        candidates: list[list[str]] = list(conversation.data.get("candidates", []))
        if candidates:
            picked = pick(message, candidates)
            if picked is not None:
                return Outcome(handoff=picked)
            choices = tuple(Choice(label=title, value=f"dept:{name}") for name, title in candidates)
            return conversation.ask("department", self.say("choose", choices=choices))
        return Outcome(
            change=Change(open=conversation.request is None, description=message.text),
            says=(self.say("received"),),
        )


def pick(message: Message, candidates: list[list[str]]) -> str | None:
    """The department a resident chose: a button, its number, or its name."""
    if message.kind is MessageKind.BUTTON and message.choice:
        value = message.choice.removeprefix("dept:")
        return value if any(value == name for name, _ in candidates) else None
    answer = fold(message.text).strip().strip(".)")
    if answer.isdigit() and 1 <= int(answer) <= len(candidates):
        return candidates[int(answer) - 1][0]
    for name, title in candidates:
        if answer and answer in (fold(name), fold(title)):
            return name
    return None


@hookimpl
def register_departments(register: RegisterDepartment) -> None:
    """Triage is always there."""
    register(Triage)
