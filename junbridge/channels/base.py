"""The Channel base class: one messenger, inbound parsing and outbound delivery.

A channel turns platform payloads into :class:`Message` values (``parse``), hands them to
``host.submit()`` (which stores them before the platform is answered), and delivers
:class:`Reply` values (``send``) when the outbox worker asks. What it may use of the
bridge that runs it is :class:`Host`, given at ``start``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from starlette.routing import BaseRoute

from junbridge.config.settings import ChannelSettings
from junbridge.model import Attachment, JunbridgeError, Message, Reply
from junbridge.pacing import UNPACED, Pace

if TYPE_CHECKING:
    from junbridge.config import Config
    from junbridge.store import Accepted, Store


class Host(Protocol):
    """What a channel uses of the bridge that runs it, given at ``start``.

    ``submit`` hands over what a resident or staff member sent: it is stored (the dedupe
    point) before it returns, so answer the platform only after it. ``clock`` is the
    bridge's time (a simulated day in the demo and tests), ``config`` the town's
    configuration (``config.web.public_url``: where webhooks reach the bridge), ``store``
    where a polling channel keeps its read position (``get_cursor``/``set_cursor``) and
    takes the lead among workers (``lead``). Nothing else of the bridge is a channel's to
    reach.
    """

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    async def submit(self, message: Message) -> Accepted: ...


# Set by the outbox around one send: what records the parts of a long reply as they arrive.
_record_parts: ContextVar[Callable[[tuple[str, ...]], Awaitable[None]] | None] = ContextVar(
    "junbridge_record_parts", default=None
)


async def parts_sent(ids: Sequence[str]) -> None:
    """A channel calls this after each part but the last of a reply sent in several
    messages (a long text, a photo then its text, a thread on X) with the ids of every part
    so far. The outbox keeps them with the reply at once, so a worker that dies in the
    middle leaves them known: the next try (``send(sent=...)``) sends only the rest."""
    record = _record_parts.get()
    if record is not None:
        await record(tuple(ids))


@contextlib.contextmanager
def recording_parts(record: Callable[[tuple[str, ...]], Awaitable[None]]) -> Iterator[None]:
    """Inside it, :func:`parts_sent` calls ``record`` (the outbox's durable write)."""
    token = _record_parts.set(record)
    try:
        yield
    finally:
        _record_parts.reset(token)


class InvalidPayload(JunbridgeError):
    """A platform payload that cannot be a message: answered 4xx and logged, never a crash."""


# What a parser raises on a payload of the wrong shape (a number where text was, nesting
# deeper than the interpreter goes, half a surrogate pair ...).
_MALFORMED = (
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    ValueError,
    RecursionError,
    UnicodeError,
    OverflowError,
)


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """Inside it, a payload that breaks the parser is :class:`InvalidPayload`, not a crash:
    the platform is answered 4xx and the bridge goes on."""
    try:
        yield
    except InvalidPayload:
        raise
    except _MALFORMED as exc:
        raise InvalidPayload(f"malformed {what}: {type(exc).__name__}: {exc}") from exc


class DeliveryError(JunbridgeError):
    """A reply was not delivered.

    ``retry_after`` (seconds) says when the platform allows another try (HTTP 429);
    ``permanent`` means trying again cannot help (blocked bot, deleted chat, bad request);
    ``sent``: the ids of the parts of a long reply that did arrive before it failed, kept
    with the reply so that the next try, in whichever worker, sends only the rest.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        sent: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.sent = tuple(sent)


class Channel:
    """Base class of channel plugins (Telegram, Slack, X, and any a plugin adds)."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings
    # How fast the platform lets a bot send (see pacing.py); the outbox keeps under it.
    PACE: ClassVar[Pace] = UNPACED

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings

    def pace(self, destination: str) -> Pace:
        """The limits for sending to ``destination`` (``pacing.destination`` of a reply)."""
        return self.PACE if self.settings.pace == "platform" else UNPACED

    def parse(self, payload: Mapping[str, Any]) -> Message | None:
        """Normalize one platform payload; None when it is to be ignored (joins, echoes).

        Return the Message through :func:`junbridge.text.storable`: platform JSON can carry
        half an emoji or a NUL, which no store keeps. Raises :class:`InvalidPayload` when
        the payload is malformed.
        """
        raise NotImplementedError(f"{type(self).__name__}.parse")

    def preview(self, reply: Reply) -> list[str]:
        """The reply as the platform would show it, one string per platform message."""
        return [reply.text]

    def routes(self) -> Sequence[BaseRoute]:
        """HTTP routes this channel serves (webhooks), mounted on the bridge's web app."""
        return ()

    async def start(self, bridge: Host) -> None:
        """Connect to the platform (webhook registration, polling, sockets); keep ``bridge``
        to hand it what comes in (``bridge.submit``)."""

    async def stop(self) -> None:
        """Disconnect; what was accepted is already stored, so nothing is lost."""

    async def complete(self, message: Message) -> Message:
        """What the platform can add to a stored message before it is handled (the sender's
        profile, say); the message as it is by default.

        Called by the worker, after the platform has been answered: a slow or failing
        platform API never delays an acknowledgement. Never raises for a platform failure.
        """
        return message

    async def fetch(self, attachment: Attachment) -> bytes | None:
        """The bytes of a photo a resident or staff member sent here; None if not possible.

        Called after the platform has been answered, so it may take its time.
        """
        return None

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        """Deliver one reply; return the platform ids of the messages sent.

        ``sent``: the ids of the parts an earlier try delivered (``DeliveryError.sent``, or
        recorded by :func:`parts_sent` before a worker died): send only the parts after
        them, and return every id, theirs first. A reply in several messages calls
        :func:`parts_sent` after each but the last. Raises :class:`DeliveryError` when the
        platform refuses or is unreachable.
        """
        raise NotImplementedError(f"{type(self).__name__}.send")

    async def already_sent(
        self, reply: Reply, *, since: datetime, known: Collection[str] = ()
    ) -> list[str]:
        """The ids of the first parts of ``reply`` the bot already posted since ``since``,
        looked up on the platform; ``known``: ids of other replies, never these.

        Asked before sending again a reply whose worker stopped in the middle of sending it
        (it may have reached the platform without being recorded). The default: nothing
        found (Telegram's Bot API, for one, cannot read the bot's own messages back).
        """
        return []
