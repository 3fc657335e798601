"""The Channel base class: one messenger, inbound parsing and outbound rendering."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from junbridge.model import JunbridgeError, Message, Reply
from junbridge.settings import ChannelSettings

if TYPE_CHECKING:
    from junbridge.bridge import Bridge


class InvalidPayload(JunbridgeError):
    """A platform payload that cannot be a message: answered 4xx and logged, never a crash."""


class Channel:
    """Base class of channel plugins (Telegram, Slack, X, and any a plugin adds)."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings

    def parse(self, payload: Mapping[str, Any]) -> Message | None:
        """Normalize one platform payload; None when it is to be ignored (joins, echoes).

        Raises :class:`InvalidPayload` when the payload is malformed.
        """
        raise NotImplementedError(f"{type(self).__name__}.parse")

    def preview(self, reply: Reply) -> list[str]:
        """The reply as the platform would show it, one string per platform message."""
        return [reply.text]

    async def start(self, bridge: Bridge) -> None:
        """Connect to the platform (webhook registration, polling, sockets)."""

    async def stop(self) -> None:
        """Disconnect, finishing in-flight work."""

    async def send(self, reply: Reply) -> list[str]:
        """Deliver one reply; returns the platform ids of the messages sent."""
        raise NotImplementedError(f"{type(self).__name__}.send")
