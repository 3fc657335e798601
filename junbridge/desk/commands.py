"""Resident commands: what a resident can ask the town hall desk about themselves.

``/status [REF]`` (``/estado``), ``/mine`` (``/mis``), ``/cancel REF`` (``/cancelar``),
``/lang es|en`` (``/idioma``), ``/help`` (``/ayuda``), ``/link [CODE]`` (``/vincular``) and
``/verify`` (``/verificar``). Only these words are commands: ``/police`` still routes to the
police. Without the slash a command counts only when it cannot be anything else
(``estado JUN-0142``, ``vincular 123456``), or when the whole message is the command word
and no department is waiting for an answer in that chat, so "cancelar" while the doctor
asks about an appointment still goes to the doctor.

Answers are private (a direct message when the resident wrote in public), come from the
templates in :data:`junbridge.desk.commands_texts.COMMANDS_TEXTS` that admins may override under
``departments.triage.replies``, and never list anyone's requests but the resident's own:
those they reported, first or again nearby. ``/cancel`` never closes a request others
reported too: one reported first by another only stops its notices to this resident.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from babel import Locale

from junbridge import dates
from junbridge.departments import Department, fold, place_of
from junbridge.desk import abuse, nearby
from junbridge.effects import Effects, Other
from junbridge.markup import Markup
from junbridge.model import (
    IllegalTransition,
    Message,
    MessageKind,
    Reply,
    Resident,
    ServiceRequest,
    Status,
)
from junbridge.requests.outcomes import DONE, resident_label
from junbridge.store import ConversationState
from junbridge.store.links import LINK_CODE_TTL

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

CANCELLED_NOTE = "cancelled by the resident"
# A reply lists at most this many requests.
MAX_LISTED = 10

# Every word a resident may use for each command, folded (lower case, no accents).
WORDS: Mapping[str, str] = {
    "status": "status",
    "estado": "status",
    "mine": "mine",
    "mis": "mine",
    "misavisos": "mine",
    "avisos": "mine",
    "cancel": "cancel",
    "cancelar": "cancel",
    "anular": "cancel",
    "lang": "lang",
    "language": "lang",
    "idioma": "lang",
    "help": "help",
    "ayuda": "help",
    "start": "help",
    "link": "link",
    "vincular": "link",
    "verify": "verify",
    "verificar": "verify",
}
# Whole messages that are commands without a slash, when no department awaits an answer.
PHRASES: Mapping[str, str] = {
    "ayuda": "help",
    "help": "help",
    "mis avisos": "mine",
    "my requests": "mine",
    "estado": "status",
    "status": "status",
    "vincular": "link",
    "link": "link",
    "verificar": "verify",
    "verify": "verify",
}
_SLASHED = re.compile(r"/(?P<word>\w+)(?:@\w+)?(?:\s+(?P<arg>.*?))?", re.DOTALL)
_PLAIN = re.compile(r"(?P<word>\w+)\s+(?P<arg>\S+)")
_REFERENCE = re.compile(r"[a-z]{2,8}-\d+")
_CODE = re.compile(r"\d{6}")

CHANNEL_NAMES: Mapping[str, str] = {"telegram": "Telegram", "slack": "Slack", "twitter": "X"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A resident command: which one, its argument, and whether it came without a slash."""

    name: str
    argument: str = ""
    bare: bool = False


def parse(text: str, languages: Sequence[str] = ("es", "en")) -> Command | None:
    """``"/estado JUN-0001"`` -> Command("status", "jun-0001"); None if not ours."""
    folded = fold(text).strip().rstrip(".!?¡¿ ")
    slashed = _SLASHED.fullmatch(folded)
    if slashed is not None:
        name = WORDS.get(slashed["word"])
        return None if name is None else Command(name=name, argument=slashed["arg"] or "")
    if folded in PHRASES:
        return Command(name=PHRASES[folded], bare=True)
    plain = _PLAIN.fullmatch(folded)
    if plain is None:
        return None
    name, argument = WORDS.get(plain["word"]), plain["arg"]
    strict = {
        "status": _REFERENCE.fullmatch(argument),
        "cancel": _REFERENCE.fullmatch(argument),
        "link": _CODE.fullmatch(argument),
        "lang": argument in languages,
    }
    return Command(name=name, argument=argument) if name and strict.get(name) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What a command does: replies, and a request to save (with conversations to end)."""

    replies: tuple[Reply, ...] = ()
    request: ServiceRequest | None = None
    save: bool = False
    #: The request as it was read, when ``save``: its timers follow the change.
    original: ServiceRequest | None = None
    ended: tuple[ConversationState, ...] = ()
    #: The language the resident chose (/lang), kept in the same commit.
    language: str | None = None
    #: A request the resident reported again, which they leave (/cancel of a shared one).
    other: Other | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Asked:
    """One command being answered: the bridge, the message, the resident and the language."""

    bridge: Bridge
    message: Message
    resident: Resident
    language: str
    argument: str

    @property
    def desk(self) -> Department:
        """The town hall desk (triage), whose templates admins may override."""
        return self.bridge.departments["triage"]

    def text(self, key: str, **params: Any) -> str:
        """Template ``key`` in the resident's language."""
        return self.desk.text(key, self.language, **params)

    def answer(self, *texts: str, request: ServiceRequest | None = None) -> Answer:
        """A private answer to the resident, one message."""
        reference = request.reference if request else None
        reply = abuse.to_sender(self.message, "\n".join(texts), reference)
        return Answer(replies=(reply,), request=request)

    def title(self, request: ServiceRequest) -> str:
        """The request's department in the resident's language."""
        department = self.bridge.departments.get(request.department)
        return department.title(self.language) if department else request.service_name

    def state(self, state: Status | str) -> str:
        """A state (or ``open``/``closed``) in the resident's words."""
        return self.text(f"label_{state}")

    async def own_request(self, reference: str) -> ServiceRequest | None:
        """The request ``reference`` if this resident reported it (any linked account), first
        or again nearby."""
        request = await self.bridge.store.get_request(reference.upper())
        if request is None or not nearby.reported_by(request, self.resident):
            return None
        return request


async def handle(bridge: Bridge, message: Message, resident: Resident) -> Effects | None:
    """Answer a resident command; None when ``message`` is not one (the pipeline goes on)."""
    if message.kind in (MessageKind.BUTTON, MessageKind.EDIT):
        return None
    command = parse(message.text, bridge.config.town.languages)
    if command is None:
        return None
    if command.bare:
        asking = await bridge.store.conversation(
            resident.id, message.channel, message.conversation, now=bridge.clock()
        )
        if asking is not None and asking.awaiting != nearby.ANOTHER:
            return None  # a department asked something: the word is the resident's answer
    asked = Asked(
        bridge=bridge,
        message=message,
        resident=resident,
        language=bridge.language_for(message, resident, None),
        argument=command.argument,
    )
    answer = await HANDLERS[command.name](asked)
    return Effects(
        request=answer.request,
        # A request only shown (/status) is its own original: nothing to write.
        original=answer.original if answer.save else answer.request,
        replies=Effects.now(*answer.replies),
        end=tuple((s.resident_id, s.channel, s.conversation) for s in answer.ended),
        language=(resident.id, answer.language) if answer.language else None,
        other=answer.other,
        # Never tied to the request: editing "/cancel JUN-1" must not rewrite JUN-1.
        link_request=False,
    )


async def status(asked: Asked) -> Answer:
    """The state of one of the resident's requests (their latest without a reference)."""
    if asked.argument:
        reference = asked.argument.split()[0].upper()
        request = await asked.own_request(reference)
        if request is None:
            return asked.answer(asked.text("status_not_found", reference=reference))
    else:
        latest = await asked.bridge.store.requests_of(asked.resident.id)
        if not latest:
            return asked.answer(asked.text("status_none"))
        request = latest[0]
    lines = [
        asked.text(
            "status",
            reference=request.reference,
            department=asked.title(request),
            state=asked.state(request.state),
            open311=asked.state(request.status),
        )
    ]
    if request.state not in DONE:
        if request.assignee:
            lines.append(asked.text("status_assignee", assignee=request.assignee))
        if request.expected_datetime is not None:
            expected = asked.desk.format_time(request.expected_datetime, asked.language)
            lines.append(asked.text("status_expected", expected=expected))
    return asked.answer(*lines, request=request)


async def mine(asked: Asked) -> Answer:
    """The resident's open requests, from every linked account, one line each."""
    found = await asked.bridge.store.requests_of(asked.resident.id, open_only=True)
    if not found:
        return asked.answer(asked.text("mine_none"))
    lines = [
        asked.text(
            "mine_line",
            reference=r.reference,
            department=asked.title(r),
            state=asked.state(r.state),
            summary=textwrap.shorten(r.description, 50, placeholder="…"),
        )
        for r in found[:MAX_LISTED]
    ]
    if len(found) > MAX_LISTED:
        lines.append(asked.text("mine_more", count=len(found) - MAX_LISTED))
    # Each line is a filled template (its values escaped): together they are markup.
    return asked.answer(asked.text("mine", lines=Markup("\n".join(lines))))


async def cancel(asked: Asked) -> Answer:
    """The resident withdraws their own open request: it is closed, its staff told."""
    bridge = asked.bridge
    if not asked.argument:
        open_ones = await bridge.store.requests_of(asked.resident.id, open_only=True)
        example = (
            open_ones[0].reference if open_ones else f"{bridge.config.town.reference_prefix}-0001"
        )
        return asked.answer(asked.text("cancel_which", example=example))
    reference = asked.argument.split()[0].upper()
    request = await asked.own_request(reference)
    if request is None:
        return asked.answer(asked.text("status_not_found", reference=reference))
    if request.state in DONE:
        return asked.answer(
            asked.text("cancel_not_open", reference=reference, state=asked.state(request.state))
        )
    if request.resident_id != asked.resident.id:
        # Reported again by this resident, first by another: it stays open for the others;
        # this resident only stops hearing of it.
        department = bridge.departments.get(request.department)
        other = (
            nearby.leaving(request, department, asked.message, asked.resident, why="withdrew")
            if department is not None
            else None
        )
        left = asked.answer(asked.text("cancel_left", reference=reference), request=request)
        return dataclasses.replace(left, other=other)
    if request.reporters > 1:
        # Others reported it too: what they reported is not this resident's to withdraw.
        return asked.answer(asked.text("cancel_shared", reference=reference), request=request)
    original = request
    try:
        request = request.transition(
            Status.CLOSED,
            by=resident_label(asked.message),
            at=bridge.clock(),
            note=CANCELLED_NOTE,
            channel=asked.message.channel,
        )
    except IllegalTransition:
        return asked.answer(
            asked.text("cancel_refused", reference=reference, state=asked.state(request.state))
        )
    replies = list(
        asked.answer(asked.text("cancelled", reference=reference), request=request).replies
    )
    department = bridge.departments.get(request.department)
    place = place_of(department) if department else None
    if place is not None:
        text = asked.desk.text("staff_cancelled", asked.desk.town.language, reference=reference)
        replies.append(
            Reply(text=text, channel=place[0], conversation=place[1], reference=reference)
        )
    ended = tuple(await bridge.store.conversations_about(reference))
    return Answer(
        replies=tuple(replies), request=request, save=True, original=original, ended=ended
    )


async def lang(asked: Asked) -> Answer:
    """Remember the language the resident wants, and confirm in it."""
    languages = asked.bridge.config.town.languages
    listed = ", ".join(f"{language_name(code, code)} ({code})" for code in languages)
    example = next((c for c in languages if c != asked.language), asked.language)
    if not asked.argument:
        current = language_name(asked.language, asked.language)
        return asked.answer(
            asked.text("lang_which", current=current, languages=listed, example=example)
        )
    wanted = language_code(asked.argument, languages)
    if wanted is None:
        return asked.answer(
            asked.text("lang_unknown", asked=asked.argument, languages=listed, example=example)
        )
    confirmed = asked.answer(asked.desk.text("lang_set", wanted))
    return dataclasses.replace(confirmed, language=wanted)


async def help_(asked: Asked) -> Answer:
    """What a resident can write: the departments, and these commands."""
    titles = [d.title(asked.language) for n, d in asked.bridge.departments.items() if n != "triage"]
    return asked.answer(
        asked.text(
            "help",
            departments=", ".join(titles),
            emergency=asked.bridge.config.town.emergency_number,
        )
    )


async def link(asked: Asked) -> Answer:
    """``/link``: a one-time code; ``/link CODE`` from another account: the two become one."""
    bridge, now = asked.bridge, asked.bridge.clock()
    if not asked.argument:
        code = await bridge.store.issue_link_code(asked.resident.id, now=now)
        minutes = int(LINK_CODE_TTL.total_seconds() // 60)
        return asked.answer(asked.text("link_code", code=code, minutes=minutes))
    limiter = abuse.link_attempts_for(bridge)
    if not limiter.may_try_link_code(asked.resident.id, now):
        return asked.answer(asked.text("link_throttled"))
    code = asked.argument.split()[0]
    linked = await bridge.store.redeem_link_code(code, asked.resident.id, now=now)
    if linked is None:
        limiter.link_code_failed(asked.resident.id, now)
        return asked.answer(asked.text("link_wrong"))
    if not linked.merged:
        return asked.answer(asked.text("link_same"))
    channels = sorted({i.partition(":")[0] for i in linked.resident.identities})
    names = [CHANNEL_NAMES.get(c, c.title()) for c in channels]
    joined = f" {asked.text('label_and')} ".join(
        [", ".join(names[:-1]), names[-1]] if len(names) > 1 else names
    )
    lines = [asked.text("link_done", channels=joined)]
    if linked.resident.verified:
        lines.append(asked.text("link_verified"))
    return asked.answer(*lines)


async def verify(asked: Asked) -> Answer:
    """Whether the resident is verified, and how to be: the desk, with an ID."""
    resident = asked.resident
    if resident.verified_at is not None:
        local = resident.verified_at.astimezone(asked.desk.tz).date()
        day = dates.format_day(local, dates.DATE, asked.language)
        return asked.answer(asked.text("verify_done", date=day))
    return asked.answer(asked.text("verify_how", identity=asked.message.resident_key))


HANDLERS: Mapping[str, Callable[[Asked], Awaitable[Answer]]] = {
    "status": status,
    "mine": mine,
    "cancel": cancel,
    "lang": lang,
    "help": help_,
    "link": link,
    "verify": verify,
}


def language_name(code: str, in_language: str) -> str:
    """``("en", "es")`` -> ``"inglés"``; the code itself if babel does not know it."""
    try:
        return Locale.parse(code).get_display_name(in_language) or code
    except (ValueError, LookupError):
        return code


def language_code(asked: str, languages: Sequence[str]) -> str | None:
    """The town language a resident means by ``"en"``, ``"English"`` or ``"inglés"``."""
    wanted = fold(asked.strip())
    for code in languages:
        names = {code, *(fold(language_name(code, other)) for other in (*languages, "en"))}
        if wanted in names:
            return code
    return None
