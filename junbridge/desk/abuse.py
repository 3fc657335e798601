"""Abuse protection: blocked residents, and per-resident limits on how fast one may write.

Limits come from ``town.limits`` in channels.yaml. They count each resident's handled
messages in sliding windows (a minute, a day), from the store: a message that passes is
marked with its resident and the time it was written, in the commit that handles it, so a
restart forgets nothing and several workers sharing one PostgreSQL count the same messages.
(Two workers handling the same resident's messages at the same instant may each let one
through at the edge of a limit.) Unverified residents get the stricter per-minute limit. A
resident over a limit hears one polite notice per window (kept on the resident); their
further messages are kept (they were accepted before this check) but not handled. Nobody
ever waits: a flood from one account costs one small write per message and never slows
anyone else.

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
from junbridge.store.records import Usage

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
        """Events after ``at - span``, up to ``at``."""
        return bisect.bisect_right(self.times, at) - bisect.bisect_right(self.times, at - self.span)

    def add(self, at: datetime) -> None:
        """Record an event; forget those that left the window."""
        bisect.insort(self.times, at)
        del self.times[: bisect.bisect_right(self.times, self.times[-1] - self.span)]


def verdict(limits: LimitsSettings, resident: Resident, usage: Usage, at: datetime) -> Verdict:
    """What the limits say about a message ``resident`` wrote at ``at``.

    ``usage`` is what the store holds: the times of the resident's handled messages in the
    last day, and until when they were already told they are over a limit.
    """
    day = Window(DAY, sorted(usage.counted))
    per_minute = (
        limits.messages_per_minute if resident.verified else limits.unverified_messages_per_minute
    )
    if day.count(at) >= limits.messages_per_day:
        over = Verdict.TOO_MANY_TODAY
    elif Window(MINUTE, day.times).count(at) >= per_minute:
        over = Verdict.TOO_FAST
    else:
        # Only handled messages count: waiting a minute is always enough to be heard.
        return Verdict.ADMIT
    if usage.notice_until is not None and at < usage.notice_until:
        return Verdict.QUIET
    return over


def notice_span(over: Verdict) -> timedelta:
    """How long one notice about ``over`` lasts: no second one in that window."""
    return DAY if over is Verdict.TOO_MANY_TODAY else MINUTE


class LinkAttempts:
    """Wrong link codes per resident in the last hour, in memory, for one process."""

    def __init__(self) -> None:
        self._failures: dict[int, Window] = {}
        self._seen = 0

    def may_try_link_code(self, resident_id: int, at: datetime) -> bool:
        """Whether ``resident_id`` still has link-code attempts left this hour."""
        failures = self._failures.get(resident_id)
        return failures is None or failures.count(at) < LINK_ATTEMPTS_PER_HOUR

    def link_code_failed(self, resident_id: int, at: datetime) -> None:
        """Count a wrong or expired link code sent by ``resident_id``."""
        self._seen += 1
        if self._seen % _SWEEP_EVERY == 0:
            self._failures = {k: w for k, w in self._failures.items() if w.count(at)}
        self._failures.setdefault(resident_id, Window(timedelta(hours=1))).add(at)


_link_attempts: weakref.WeakKeyDictionary[Bridge, LinkAttempts] = weakref.WeakKeyDictionary()


def link_attempts_for(bridge: Bridge) -> LinkAttempts:
    """The bridge's count of wrong link codes, made on first use."""
    attempts = _link_attempts.get(bridge)
    if attempts is None:
        attempts = _link_attempts[bridge] = LinkAttempts()
    return attempts


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


def check(bridge: Bridge, message: Message, resident: Resident, usage: Usage) -> Effects | None:
    """Stop a blocked or too-fast resident's message here (kept, not handled); None: go on,
    and the message counts toward the resident's limits once committed (``Effects.counted``).
    """
    if resident.blocked:
        log.info(
            "message %s:%s from blocked %s kept",
            message.channel,
            message.platform_id,
            message.resident_key,
        )
        return Effects(error=BLOCKED)
    at = sent_at(bridge, message)
    over = verdict(bridge.config.town.limits, resident, usage, at)
    if over is Verdict.ADMIT:
        return None
    if over is Verdict.QUIET:
        return Effects(error=RATE_LIMITED)
    log.warning("%s is over the %s limit", message.resident_key, over.value)
    desk = bridge.departments["triage"]
    language = bridge.language_for(message, resident, None)
    text = desk.text(over.value, language, emergency=bridge.config.town.emergency_number)
    return Effects(
        replies=Effects.now(to_sender(message, text)),
        error=RATE_LIMITED,
        notice=(resident.id, at + notice_span(over)),
    )
