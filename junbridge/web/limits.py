"""A cap on request bodies, applied before anything reads them.

No platform sends a webhook anywhere near a megabyte (a Slack event, a Telegram update, an
X activity are a few kilobytes). A bigger body is refused with 413 before it is read into
memory or parsed, so one hostile request cannot hold the event loop or the memory. Paths
that take bigger bodies (the staff console's photo of a fix) say so with their own cap.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024


class TooLarge(Exception):
    """The body went past the cap while it was being read."""


class BodyLimit:
    """ASGI middleware: 413 for a request whose body is over ``max_bytes``, or over the cap
    ``larger`` gives for the path prefix it starts with."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY, larger: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        cap = next((n for p, n in self.larger.items() if path.startswith(p)), self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            await _refuse(send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if not started:
                await _refuse(send)


async def _refuse(send: Send) -> None:
    body = b"request body too large"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
