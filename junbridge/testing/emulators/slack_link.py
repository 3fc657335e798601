"""How Slack reaches an app: signed HTTP POSTs to its request URLs, or Socket Mode envelopes.

HTTP deliveries carry ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` =
``v0=`` + hex HMAC-SHA256(signing secret, ``v0:{timestamp}:{body}``), plus
``X-Slack-Retry-Num``/``X-Slack-Retry-Reason`` on a retry. Socket Mode sends ``hello`` and
then envelopes the app acknowledges with their ``envelope_id``. uvicorn cannot serve a
WebSocket without extra packages, so the link runs on aiohttp (which slack_sdk's async
client already needs), on a port of its own.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack
from urllib.parse import urlencode

import httpx
from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

Kind = Literal["events_api", "interactive"]


class Delivery(TypedDict, total=False):
    """How an event is delivered: Slack's own signature unless a test forges it."""

    signing_secret: str  # sign with this secret instead of the app's (a forgery)
    timestamp: int  # X-Slack-Request-Timestamp; one over five minutes old is refused
    signed: bool  # False: no signature headers at all


@dataclass(frozen=True, slots=True, kw_only=True)
class Push:
    """One delivery to the bridge and its answer.

    ``status`` is the HTTP status of the POST (events mode) or 200 once the envelope was
    acknowledged (Socket Mode). ``ts`` is the resident's message, for edits and presses.
    """

    kind: Kind
    body: Mapping[str, Any]
    status: int
    response: str = ""
    ts: str | None = None
    envelope_id: str | None = None


def signature(body: str, secret: str, **delivery: Unpack[Delivery]) -> dict[str, str]:
    """The ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers for ``body``."""
    if not delivery.get("signed", True):
        return {}
    timestamp = str(delivery.get("timestamp", int(time.time())))
    verifier = SignatureVerifier(delivery.get("signing_secret", secret))
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": str(verifier.generate_signature(timestamp=timestamp, body=body)),
    }


async def post(
    url: str,
    kind: Kind,
    body: Mapping[str, Any],
    *,
    secret: str,
    retry: tuple[int, str] | None,
    timeout: float,  # noqa: ASYNC109 - bounds a hung test, times nothing
    **delivery: Unpack[Delivery],
) -> tuple[int, str]:
    """POST ``body`` to ``url`` as Slack does: JSON events, form-encoded interactivity."""
    if kind == "events_api":
        content, content_type = json.dumps(body), "application/json"
    else:
        content = urlencode({"payload": json.dumps(body)})
        content_type = "application/x-www-form-urlencoded"
    headers = {
        **signature(content, secret, **delivery),
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry[0])
        headers["X-Slack-Retry-Reason"] = retry[1]
    async with httpx.AsyncClient(trust_env=False, timeout=timeout) as client:
        answer = await client.post(url, content=content.encode(), headers=headers)
    return answer.status_code, answer.text


class SocketModeLink:
    """The Socket Mode WebSocket: ``hello``, then envelopes, each awaited until acknowledged."""

    def __init__(
        self,
        *,
        app_id: str,
        tickets: set[str],
        on_ack: Callable[[dict[str, Any]], None],
        on_connect: Callable[[], None],
    ) -> None:
        self.app_id = app_id
        self.tickets = tickets  # issued by apps.connections.open, each good once
        self.acks: list[dict[str, Any]] = []
        self._on_ack = on_ack
        self._on_connect = on_connect
        self._sockets: list[web.WebSocketResponse] = []
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None

    @property
    def is_connected(self) -> bool:
        """Whether an app holds a connection."""
        return bool(self._sockets)

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns the ``ws://`` URL of the link."""
        app = web.Application()
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        return f"ws://127.0.0.1:{sock.getsockname()[1]}/link"

    async def stop(self) -> None:
        """Close the connections and stop listening."""
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def send(
        self,
        kind: Kind,
        body: Mapping[str, Any],
        *,
        retry: tuple[int, str] | None,
        timeout: float,  # noqa: ASYNC109 - bounds a hung test, times nothing
    ) -> tuple[str, dict[str, Any]]:
        """Send one envelope to the newest connection; return its id and the app's ack."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": body,
            "type": kind,
            "accepts_response_payload": False,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry[0] if retry else 0
            envelope["retry_reason"] = retry[1] if retry else ""
        acked: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[envelope_id] = acked
        await self._sockets[-1].send_json(envelope)
        return envelope_id, await asyncio.wait_for(acked, timeout)

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="invalid ticket")
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "jun-emulator", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._on_connect()
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    self._acknowledged(json.loads(frame.data))
        finally:
            self._sockets.remove(ws)
        return ws

    def _acknowledged(self, ack: dict[str, Any]) -> None:
        self.acks.append(ack)
        self._on_ack(ack)
        waiting = self._waiting.pop(str(ack.get("envelope_id")), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(ack)
