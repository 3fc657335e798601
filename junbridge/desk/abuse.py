"""Abuse protection: blocked residents, and per-resident limits on how fast one may write.

Limits come from ``town.limits`` in channels.yaml. They count each resident's handled
messages in sliding windows (a minute, a day), in memory and per process: a restart forgets
them, and several workers sharing one PostgreSQL each count on their own. Unverified
residents get the stricter per-minute limit. A resident over a limit hears one polite notice
per window; their further messages are kept (they were accepted before this check) but not
handled. Nobody ever waits: a flood from one account costs one small write per message and
never slows anyone else.

A blocked resident's messages are kept, marked with the error ``blocked``, and get no reply.
"""

from __future__ import annotations

import bisect
import logging
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from junbridge.config.settings import LimitsSettings
from junbridge.effects import Effects
from junbridge.model import Message, Reply, Resident

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
# Wrong link codes one resident may send in an hour: 6 digits must not be guessable.
LINK_ATTEMPTS_PER_HOUR = 5
BLOCKED = "blocked"
RATE_LIMITED = "rate limited"
# Forget residents quiet for a day, every this many messages (bounded memory).
_SWEEP_EVERY = 1000

# What the town hall desk says; admins may override them in departments.triage.replies.
ABUSE_TEXTS = {
    "es": {
        "too_fast": "Estás escribiendo muy deprisa: espera un minuto, por favor. Lo que "
        "envíes mientras tanto queda guardado, pero no lo tramitamos. Si es una emergencia, "
        "llama al {emergency}.",
        "too_many_today": "Hoy ya nos has enviado muchos mensajes. Lo que envíes hasta "
        "mañana queda guardado, pero no lo tramitamos. Si es una emergencia, llama al "
        "{emergency}.",
    },
    "en": {
        "too_fast": "You are writing too fast: please wait a minute. What you send "
        "meanwhile is kept but not handled. In an emergency, call {emergency}.",
        "too_many_today": "You have sent us a lot of messages today. What you send until "
        "tomorrow is kept but not handled. In an emergency, call {emergency}.",
    },
}


class Verdict(Enum):
    """What the limiter says about one message."""

    ADMIT = "admit"
    TOO_FAST = "too_fast"
    TOO_MANY_TODAY = "too_many_today"
    # Over a limit and already told so in this window: no second notice.
    QUIET = "quiet"


@dataclass(slots=True)
class Window:
    """Times of events, for counting those in the last ``span`` (a sliding window log)."""

    span: timedelta
    times: list[datetime] = field(default_factory=list)

    def count(self, at: datetime) -> int:
        """Events after ``at - span``."""
        return len(self.times) - bisect.bisect_right(self.times, at - self.span)

    def add(self, at: datetime) -> None:
        """Record an event; forget those that left the window."""
        bisect.insort(self.times, at)
        del self.times[: bisect.bisect_right(self.times, self.times[-1] - self.span)]

    def latest(self) -> datetime | None:
        """The newest event, if any."""
        return self.times[-1] if self.times else None


@dataclass(slots=True)
class _Record:
    minute: Window = field(default_factory=lambda: Window(MINUTE))
    day: Window = field(default_factory=lambda: Window(DAY))
    told_until: datetime | None = None


class Limiter:
    """Per-resident sliding windows, in memory, for one process."""

    def __init__(self, limits: LimitsSettings) -> None:
        self.limits = limits
        self._records: dict[int, _Record] = {}
        self._link_failures: dict[int, Window] = {}
        self._seen = 0

    def admit(self, resident: Resident, at: datetime) -> Verdict:
        """Count a message of ``resident`` sent at ``at``, unless it is over a limit."""
        self._sweep(at)
        record = self._records.setdefault(resident.id, _Record())
        per_minute = (
            self.limits.messages_per_minute
            if resident.verified
            else self.limits.unverified_messages_per_minute
        )
        if record.day.count(at) >= self.limits.messages_per_day:
            verdict, span = Verdict.TOO_MANY_TODAY, DAY
        elif record.minute.count(at) >= per_minute:
            verdict, span = Verdict.TOO_FAST, MINUTE
        else:
            # Only handled messages count: waiting a minute is always enough to be heard.
            record.minute.add(at)
            record.day.add(at)
            return Verdict.ADMIT
        if record.told_until is not None and at < record.told_until:
            return Verdict.QUIET
        record.told_until = at + span
        return verdict

    def may_try_link_code(self, resident_id: int, at: datetime) -> bool:
        """Whether ``resident_id`` still has link-code attempts left this hour."""
        failures = self._link_failures.get(resident_id)
        return failures is None or failures.count(at) < LINK_ATTEMPTS_PER_HOUR

    def link_code_failed(self, resident_id: int, at: datetime) -> None:
        """Count a wrong or expired link code sent by ``resident_id``."""
        self._link_failures.setdefault(resident_id, Window(timedelta(hours=1))).add(at)

    def _sweep(self, at: datetime) -> None:
        self._seen += 1
        if self._seen % _SWEEP_EVERY:
            return
        for key, record in list(self._records.items()):
            latest = record.day.latest()
            if (latest is None or latest <= at - DAY) and (
                record.told_until is None or record.told_until <= at
            ):
                del self._records[key]
        for key, failures in list(self._link_failures.items()):
            if failures.count(at) == 0:
                del self._link_failures[key]


_limiters: weakref.WeakKeyDictionary[Bridge, Limiter] = weakref.WeakKeyDictionary()


def limiter_for(bridge: Bridge) -> Limiter:
    """The bridge's limiter, made on first use with ``town.limits``."""
    limiter = _limiters.get(bridge)
    if limiter is None:
        limiter = _limiters[bridge] = Limiter(bridge.config.town.limits)
    return limiter


def sent_at(bridge: Bridge, message: Message) -> datetime:
    """When the resident wrote: the platform's time, never later than now.

    Messages that waited (a backlog after a restart) count when they were written, not all
    at once when they are handled.
    """
    return min(message.sent_at, bridge.clock())


def to_sender(message: Message, text: str, reference: str | None = None) -> Reply:
    """An answer for the sender alone: in their private chat, or a private message if they
    wrote in public (an X mention, a group), so nothing personal is ever posted."""
    return Reply(
        text=text,
        channel=message.channel,
        conversation=message.conversation,
        recipient=message.sender.id,
        private=not message.is_private,
        thread=message.thread,
        reference=reference,
    )


def check(bridge: Bridge, message: Message, resident: Resident) -> Effects | None:
    """Stop a blocked or too-fast resident's message here (kept, not handled); None: go on."""
    if resident.blocked:
        log.info(
            "message %s:%s from blocked %s kept",
            message.channel,
            message.platform_id,
            message.resident_key,
        )
        return Effects(error=BLOCKED)
    verdict = limiter_for(bridge).admit(resident, sent_at(bridge, message))
    if verdict is Verdict.ADMIT:
        return None
    replies: tuple[Reply, ...] = ()
    if verdict is not Verdict.QUIET:
        log.warning("%s is over the %s limit", message.resident_key, verdict.value)
        desk = bridge.departments["triage"]
        language = bridge.language_for(message, resident, None)
        text = desk.text(verdict.value, language, emergency=bridge.config.town.emergency_number)
        replies = (to_sender(message, text),)
    return Effects(replies=Effects.now(*replies), error=RATE_LIMITED)
