"""The console: a local terminal channel for trying a town's set-up without any account.

Settings: ``channels.console`` (no keys beyond the common ones). Replies are plain text,
links as ``label (url)``, choices as numbered ``[1] label`` lines to answer by number.
"""

from __future__ import annotations

from collections.abc import Callable

from junbridge.channels.base import Channel
from junbridge.config.settings import ChannelSettings
from junbridge.hookspecs import hookimpl
from junbridge.markup import RenderError, parse, plain
from junbridge.model import Reply


def render(reply: Reply) -> str:
    """The reply as terminal text: plain text, a photo line, then numbered choices."""
    lines = []
    if reply.photo is not None:
        lines.append(f"[photo {reply.photo.url or reply.photo.platform_ref}]")
    text = plain(parse(reply.text)).strip()
    if text:
        lines.append(text)
    lines += [f"[{n}] {choice.label}" for n, choice in enumerate(reply.choices, start=1)]
    if not lines:
        raise RenderError("a console reply needs text, a photo or choices")
    return "\n".join(lines)


class ConsoleChannel(Channel):
    """A terminal: what the resident types is a message, replies are printed."""

    name = "console"
    title = "Console"

    class Settings(ChannelSettings):
        """The ``channels.console`` block: only the keys every channel has."""

    def render(self, reply: Reply) -> list[str]:
        """The reply as printed: one block of text."""
        return [render(reply)]

    def preview(self, reply: Reply) -> list[str]:
        """The reply as the terminal shows it."""
        return self.render(reply)


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register the console channel."""
    register(ConsoleChannel)
