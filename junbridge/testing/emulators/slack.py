"""A local Slack: the Web API at ``/api/{method}``, Socket Mode, and residents who write.

The real slack_sdk client is pointed at :attr:`SlackEmulator.api_url`. The emulator checks
tokens (``invalid_auth`` with HTTP 200, as Slack answers), enforces the documented limits
(:mod:`~junbridge.testing.emulators.slack_api`), rate-limits with HTTP 429 and
``Retry-After`` when asked, and records each call. Residents' messages, mentions, files,
edits, joins and button presses reach the bridge as Slack sends them
(:mod:`~junbridge.testing.emulators.slack_link`): signed POSTs to its request URLs in
events mode, envelopes over the WebSocket in Socket Mode.

    slack = SlackEmulator()
    await slack.start()
    slack.deliver_to(bridge_web_url)
    push = await slack.resident_says("La farola de la calle Real no funciona")
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Unpack

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from junbridge.channels.slack import EVENTS_PATH, INTERACTIVITY_PATH
from junbridge.testing.emulators import slack_link
from junbridge.testing.emulators import slack_payloads as payloads
from junbridge.testing.emulators.base import Call, Emulator
from junbridge.testing.emulators.slack_api import Refused, SlackWorkspace, call_params
from junbridge.testing.emulators.slack_link import Delivery, Kind, Push, SocketModeLink

__all__ = ["Delivery", "Push", "SlackCall", "SlackEmulator"]

RESIDENT = "U0VECINA"
PLAZA = "C0PLAZA"
ChannelType = Literal["channel", "group", "im", "mpim"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackCall(Call):
    """A Web API call: ``error`` when Slack answered ``ok: false``, else the ``response``."""

    error: str | None = None
    response: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """At most ``calls`` calls to a method per ``per`` seconds, then 429 + ``Retry-After``.

    ``per_channel``: counted for each channel apart, as Slack counts ``chat.postMessage``.
    """

    calls: int
    per: float = 60.0
    retry_after: int = 1
    per_channel: bool = False


class SlackEmulator(Emulator):
    """The Slack Web API and Socket Mode on 127.0.0.1, with residents who write and press."""

    name = "slack"

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-jun-emulator",
        app_token: str = "xapp-1-jun-emulator",
        signing_secret: str = "jun-emulator-signing-secret",
        mode: Literal["events", "socket"] = "events",
        identity: payloads.Identity | None = None,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.mode = mode
        self.identity = identity or payloads.Identity(
            team_id="T0JUN", app_id="A0JUNBRIDGE", bot_user_id="U0JUNBOT", bot_id="B0JUNBOT"
        )
        self.workspace = SlackWorkspace(self.identity)
        # Web API methods that answer only once a test lets them (a slow day at Slack).
        self.held: dict[str, asyncio.Event] = {}
        # How many more calls of a held method go through before the hold applies.
        self.held_after: dict[str, int] = {}
        self.rate_limits: dict[str, RateLimit] = {}
        self.bridge_url: str | None = None
        self.link = SocketModeLink(
            app_id=self.identity.app_id,
            tickets=self.workspace.tickets,
            on_ack=lambda ack: self._keep("ack", ack),
            on_connect=self._changed.set,
        )
        self._recent: dict[str, list[float]] = {}
        for user_id, name, real_name, locale in (
            (RESIDENT, "vecina", "María Vecina", "es-ES"),
            ("U0NEIGHBOR", "neighbour", "Tom Neighbour", "en-GB"),
            ("U0ELECTRIC", "electricista", "Paco Electricista", "es-ES"),
        ):
            self.workspace.add_user(user_id, name=name, real_name=real_name, locale=locale)
        self.workspace.add_channel(PLAZA, "plaza")
        self.workspace.add_channel("C0LIGHTING", "alumbrado")

    # -- set-up ---------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The ``base_url`` to give the Slack SDK."""
        return f"{self.url}/api/"

    def deliver_to(self, bridge_url: str) -> None:
        """Where events go in events mode: the bridge's web app (its Slack request URLs)."""
        self.bridge_url = bridge_url.rstrip("/")

    def limit(
        self,
        method: str,
        *,
        calls: int,
        per: float = 60.0,
        retry_after: int = 1,
        per_channel: bool = False,
    ) -> None:
        """Rate-limit ``method``: past ``calls`` per ``per`` seconds it answers 429
        (``per_channel``: in any one channel, as Slack limits posting to about one a second)."""
        self.rate_limits[method] = RateLimit(
            calls=calls, per=per, retry_after=retry_after, per_channel=per_channel
        )

    def routes(self) -> Sequence[BaseRoute]:
        """The Web API, the upload URLs ``files.getUploadURLExternal`` hands out, and files."""
        return [
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/upload/{file_id}", self._upload, methods=["POST"]),
            Route("/files-pri/{team_file}/{name}", self._download, methods=["GET"]),
        ]

    async def start(self, *, port: int = 0) -> str:
        """Serve the Web API and the Socket Mode link; returns the Web API's base URL."""
        url = await super().start(port=port)
        self.workspace.base_url = url
        self.workspace.socket_url = await self.link.start()
        return url

    async def stop(self) -> None:
        """Close the Socket Mode connections and stop both servers."""
        await self.link.stop()
        await super().stop()

    # -- what the tests read --------------------------------------------------------------

    def sent(self, method: str) -> list[Call]:
        """The calls to ``method`` Slack accepted (``ok: true``), oldest first."""
        return [c for c in super().sent(method) if not getattr(c, "error", None)]

    def refused(self, method: str) -> list[SlackCall]:
        """The calls to ``method`` answered with an error, oldest first."""
        return [
            c
            for c in self.calls
            if isinstance(c, SlackCall) and c.method == method and (c.error or c.status >= 400)
        ]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The bot's messages as they stand now (after any ``chat.update``), oldest first."""
        return self.workspace.posts(channel)

    @property
    def acks(self) -> list[dict[str, Any]]:
        """The Socket Mode acknowledgements the app sent."""
        return self.link.acks

    def next_ts(self) -> str:
        """A new message timestamp."""
        return self.workspace.next_ts()

    async def connected(self, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a Socket Mode client is connected (the bound only stops a hung test)."""

        async def connection() -> None:
            while not self.link.is_connected:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(connection(), timeout)

    # -- the Web API ----------------------------------------------------------------------

    def hold(self, method: str, *, after: int = 0) -> asyncio.Event:
        """Make ``method`` wait until the returned event is set, as a slow Slack would;
        ``after`` calls still go through first (the first parts of a long reply)."""
        self.held[method] = asyncio.Event()
        self.held_after[method] = after
        return self.held[method]

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        if method in self.held:
            if self.held_after.get(method, 0) > 0:
                self.held_after[method] -= 1
            else:
                await self.held[method].wait()
        params: dict[str, Any] = dict(request.query_params)
        failure = self.take_failure(method)
        if failure is not None:
            self._keep(method, params, status=failure.status, error=failure.body.get("error"))
            return JSONResponse(
                dict(failure.body), status_code=failure.status, headers=dict(failure.headers)
            )
        try:
            params = await call_params(request)
            handler = self.workspace.methods().get(method)
            if handler is None:
                raise Refused("unknown_method")
            self._authorize(method, request, params)
            limited = self._rate_limited(method, params)
            if limited is not None:
                self._keep(method, params, status=429, error="ratelimited")
                return JSONResponse(
                    {"ok": False, "error": "ratelimited"},
                    status_code=429,
                    headers={"Retry-After": str(limited.retry_after)},
                )
            result = {"ok": True, **handler(params)}
        except Refused as refused:
            body = {"ok": False, "error": refused.error, **refused.extra}
            self._keep(method, params, error=refused.error, response=body)
            return JSONResponse(body)
        self._keep(method, params, response=result)
        return JSONResponse(result)

    def _authorize(self, method: str, request: Request, params: Mapping[str, Any]) -> None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() or params.get("token")
        if not token:
            raise Refused("not_authed")
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            raise Refused("invalid_auth")

    def _rate_limited(self, method: str, params: Mapping[str, Any]) -> RateLimit | None:
        limit = self.rate_limits.get(method)
        if limit is None:
            return None
        key = f"{method} {params.get('channel')}" if limit.per_channel else method
        now = time.monotonic()
        recent = [t for t in self._recent.get(key, []) if now - t < limit.per]
        if len(recent) >= limit.calls:
            self._recent[key] = recent
            return limit
        self._recent[key] = [*recent, now]
        return None

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        if file_id not in self.workspace.files:
            return PlainTextResponse("Not Found", status_code=404)
        content = self.workspace.uploads[file_id] = await request.body()
        self._keep("upload", {"file_id": file_id, "bytes": len(content)})
        return PlainTextResponse(f"OK - {len(content)}")

    async def _download(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.bot_token}":
            return PlainTextResponse("Unauthorized", status_code=401)
        file_id = request.path_params["team_file"].rsplit("-", 1)[-1]
        if file_id not in self.workspace.uploads:
            return PlainTextResponse("Not Found", status_code=404)
        mime = self.workspace.files[file_id].get("mimetype", "application/octet-stream")
        return Response(self.workspace.uploads[file_id], media_type=mime)

    def _keep(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        status: int = 200,
        error: str | None = None,
        response: Mapping[str, Any] | None = None,
    ) -> None:
        self.calls.append(
            SlackCall(
                method=method,
                params=dict(params),
                status=status,
                error=error,
                response=response or {},
            )
        )
        self._changed.set()

    # -- residents ------------------------------------------------------------------------

    def _said(
        self, text: str, user: str, channel: str, thread_ts: str | None, channel_type: ChannelType
    ) -> dict[str, Any]:
        if channel_type == "im" and not channel.startswith("D"):
            channel = self.workspace.dm(user)
        messages = self.workspace.messages.setdefault(channel, {})
        parent = messages.get(thread_ts or "")
        event = payloads.person_message(
            identity=self.identity,
            user=user,
            text=text,
            ts=self.next_ts(),
            channel=channel,
            channel_type=channel_type,
            thread_ts=thread_ts,
            parent_user_id=parent.get("user") if parent else None,
        )
        messages[event["ts"]] = event
        return event

    async def resident_says(
        self,
        text: str,
        *,
        user: str = RESIDENT,
        channel: str = PLAZA,
        thread_ts: str | None = None,
        channel_type: ChannelType = "channel",
        **delivery: Unpack[Delivery],
    ) -> Push:
        """A resident writes ``text`` (``channel_type="im"``: in their DM with the bot)."""
        event = self._said(text, user, channel, thread_ts, channel_type)
        return await self.push_event(event, ts=event["ts"], **delivery)

    async def resident_mentions_bot(
        self,
        text: str,
        *,
        user: str = RESIDENT,
        channel: str = PLAZA,
        thread_ts: str | None = None,
        **delivery: Unpack[Delivery],
    ) -> list[Push]:
        """``@junbridge text``: Slack sends an ``app_mention`` and a ``message`` for it."""
        mention = f"<@{self.identity.bot_user_id}> {text}"
        event = self._said(mention, user, channel, thread_ts, "channel")
        first = payloads.app_mention(identity=self.identity, message=event)
        return [
            await self.push_event(first, ts=event["ts"], **delivery),
            await self.push_event(event, ts=event["ts"], **delivery),
        ]

    async def resident_shares_file(
        self,
        text: str = "",
        *,
        filename: str = "farola.jpg",
        mimetype: str = "image/jpeg",
        content: bytes = b"\xff\xd8\xff\xe0 a photo of a dark street lamp \xff\xd9",
        user: str = RESIDENT,
        channel: str = PLAZA,
        thread_ts: str | None = None,
        channel_type: ChannelType = "channel",
        **delivery: Unpack[Delivery],
    ) -> Push:
        """A resident uploads a file (a photo by default) with ``text`` as its message."""
        event = self._said(text, user, channel, thread_ts, channel_type)
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        file = payloads.file_object(
            identity=self.identity,
            file_id=file_id,
            user=user,
            name=filename,
            mimetype=mimetype,
            size=len(content),
            created=int(float(event["ts"])),
            base_url=self.url,
        )
        self.workspace.files[file_id] = file
        self.workspace.uploads[file_id] = content
        event.update(files=[file], upload=False, display_as_bot=False, subtype="file_share")
        return await self.push_event(event, ts=event["ts"], **delivery)

    async def resident_edits(self, ts: str, text: str, **delivery: Unpack[Delivery]) -> Push:
        """The author of message ``ts`` changes its text to ``text``."""
        old = self.workspace.find(ts)
        event = payloads.message_changed(
            identity=self.identity, old=old, text=text, ts=self.next_ts()
        )
        old.update(text=text, edited=event["message"]["edited"])
        return await self.push_event(event, ts=ts, **delivery)

    async def resident_joins(
        self, *, user: str = RESIDENT, channel: str = PLAZA, **delivery: Unpack[Delivery]
    ) -> Push:
        """``user`` joins ``channel``: the ``channel_join`` message event."""
        event = payloads.channel_join(
            user=user, channel=channel, channel_type="channel", ts=self.next_ts()
        )
        self.workspace.messages.setdefault(channel, {})[event["ts"]] = event
        return await self.push_event(event, ts=event["ts"], **delivery)

    async def bot_echoes(self, ts: str | None = None, **delivery: Unpack[Delivery]) -> Push:
        """The ``message`` event Slack sends for our own post ``ts`` (by default the last)."""
        posts = self.posts()
        if ts is None and not posts:
            raise LookupError("the bot has posted nothing yet")
        posted = self.workspace.find(ts) if ts else posts[-1]
        kind = "im" if posted["channel"].startswith("D") else "channel"
        event = payloads.bot_message(identity=self.identity, posted=posted, channel_type=kind)
        return await self.push_event(event, ts=posted["ts"], **delivery)

    async def resident_presses(
        self, message_ts: str, value: str, *, user: str = RESIDENT, **delivery: Unpack[Delivery]
    ) -> Push:
        """``user`` presses the button with ``value`` on our message ``message_ts``."""
        message = self.workspace.find(message_ts)
        found = payloads.find_button(message.get("blocks") or (), value)
        if found is None:
            raise LookupError(f"message {message_ts} has no button with value {value!r}")
        button, block_id = found
        payload = payloads.block_actions(
            identity=self.identity,
            user=self.workspace.users.get(user) or {"id": user, "name": user.lower()},
            message=message,
            channel_name=self.workspace.channels.get(message["channel"], "directmessage"),
            button=button,
            block_id=block_id,
            action_ts=self.next_ts(),
            response_url=f"{self.url}/actions/{self.identity.team_id}/{uuid.uuid4().hex[:8]}",
        )
        return await self.push("interactive", payload, ts=message_ts, **delivery)

    # -- delivery -------------------------------------------------------------------------

    async def push_event(
        self, event: Mapping[str, Any], *, ts: str | None = None, **delivery: Unpack[Delivery]
    ) -> Push:
        """Deliver ``event`` in an Events API ``event_callback`` body."""
        body = payloads.event_callback(identity=self.identity, event=event)
        return await self.push("events_api", body, ts=ts, **delivery)

    async def push(
        self,
        kind: Kind,
        body: Mapping[str, Any],
        *,
        ts: str | None = None,
        retry: tuple[int, str] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - bounds a hung test, times nothing
        **delivery: Unpack[Delivery],
    ) -> Push:
        """Deliver one body as Slack does in the current ``mode``; return the bridge's answer."""
        if self.mode == "socket":
            await self.connected(timeout=timeout)
            envelope_id, ack = await self.link.send(kind, body, retry=retry, timeout=timeout)
            return Push(
                kind=kind, body=body, status=200, response=str(ack), ts=ts, envelope_id=envelope_id
            )
        if self.bridge_url is None:
            raise RuntimeError("call deliver_to(bridge_url) before events mode deliveries")
        path = EVENTS_PATH if kind == "events_api" else INTERACTIVITY_PATH
        status, answer = await slack_link.post(
            self.bridge_url + path,
            kind,
            body,
            secret=self.signing_secret,
            retry=retry,
            timeout=timeout,
            **delivery,
        )
        return Push(kind=kind, body=body, status=status, response=answer, ts=ts)

    async def redeliver(
        self,
        push: Push,
        *,
        retry_num: int = 1,
        reason: str = "http_timeout",
        **delivery: Unpack[Delivery],
    ) -> Push:
        """Slack's retry of an earlier delivery: the same body, with the retry headers."""
        return await self.push(
            push.kind, push.body, ts=push.ts, retry=(retry_num, reason), **delivery
        )

    def signature(self, body: str, **delivery: Unpack[Delivery]) -> dict[str, str]:
        """Slack's signature headers for ``body`` (to POST a captured payload yourself)."""
        return slack_link.signature(body, self.signing_secret, **delivery)
