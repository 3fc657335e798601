"""Slack through a slack-bolt ``AsyncApp``: signed HTTP events or Socket Mode, in the thread.

Settings: ``channels.slack``. Inbound, bolt checks the signature and its five-minute window,
our listeners map the event (see :mod:`junbridge.channels.slack_events`) and store it with
``bridge.submit`` *before* bolt answers Slack (``process_before_response``), so an
acknowledged event is never lost; Slack's retries of it are recognised by the store.
Outbound, a reply is rendered (see :mod:`junbridge.channels.slack_render`) and posted with
``chat.postMessage`` in the resident's thread; a private reply goes to the resident's DM.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import unquote, urlsplit

import aiohttp
from cachetools import LRUCache
from pydantic import model_validator
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from junbridge.channels import slack_web
from junbridge.channels.base import (
    Channel,
    DeliveryError,
    Host,
    InvalidPayload,
    parts_sent,
    reading,
)
from junbridge.channels.slack_events import ACTION_PREFIX, parse
from junbridge.channels.slack_people import START_WAIT, People
from junbridge.channels.slack_render import SECTION_LIMIT, escape, preview, render, render_mrkdwn
from junbridge.channels.slack_web import UNREACHABLE
from junbridge.config.settings import ChannelSettings, Secret
from junbridge.hookspecs import hookimpl
from junbridge.markup import RenderError
from junbridge.model import Attachment, JunbridgeError, Message, Reply, Sender
from junbridge.pacing import Pace, Rate
from junbridge.text import storable

# Rendering lives in slack_render; these names stay importable from here.
__all__ = ["SECTION_LIMIT", "SlackChannel", "preview", "render", "render_mrkdwn"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/webhooks/slack/events"
INTERACTIVITY_PATH = "/webhooks/slack/interactivity"
# Direct-message channels opened (conversations.open), a member's never changes.
DMS_KEPT = 10_000
# Errors worth another try; any other ``ok: false`` is the request's own fault.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# The bot's token no longer works (revoked, app uninstalled): every reply would fail the
# same way. Not permanent: the replies wait for an admin to fix the token, then go out, and
# meanwhile the channel is marked down (junbridge.outages).
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
# Looking back for posts a stopped worker made: how many messages, and how much earlier
# than the reply was queued (the store's clock and Slack's may differ a little).
LOOK_BACK = 100
CLOCK_SLACK = 60.0


def malformed(body: bytes, content_type: str) -> str | None:
    """What is wrong with the shape of a signed Slack request body, if anything.

    Bolt assumes the shapes Slack sends (an object; ``event`` an object; an interactivity
    ``payload`` of JSON): checked here first, it answers 400 instead of failing inside.
    """
    try:
        with reading("Slack request"):
            if content_type.startswith("application/x-www-form-urlencoded"):
                form = urllib.parse.parse_qs(body.decode(), strict_parsing=False)
                if "payload" not in form:
                    return None  # a slash command: plain form fields
                data = json.loads(form["payload"][0])
            else:
                data = json.loads(body)
    except InvalidPayload as exc:
        return str(exc)
    if not isinstance(data, dict):
        return "the body is not a JSON object"
    if "event" in data and not isinstance(data["event"], dict):
        return "event is not an object"
    return None


class SlackChannel(Channel):
    """Slack through a Bolt app: signed HTTP events or Socket Mode."""

    name = "slack"
    title = "Slack"
    # chat.postMessage: about one message a second per channel (Slack's rate limits page).
    PACE = Pace(conversation=Rate(1, 1.0))

    class Settings(ChannelSettings):
        """The ``channels.slack`` block."""

        bot_token: Secret
        signing_secret: Secret
        app_token: Secret | None = None
        mode: Literal["events", "socket"] = "events"
        api_url: str = "https://slack.com/api/"

        @model_validator(mode="after")
        def _socket_needs_app_token(self) -> Self:
            if self.mode == "socket" and self.app_token is None:
                raise ValueError("mode 'socket' needs app_token (an xapp- token: {$env: NAME})")
            return self

    def __init__(self, settings: ChannelSettings) -> None:
        super().__init__(settings)
        assert isinstance(settings, SlackChannel.Settings)
        self.options = settings
        self.bot_user_id: str | None = None
        self._bridge: Host | None = None
        self._app: AsyncApp | None = None
        self._http: AsyncSlackRequestHandler | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        self._people = People(self._seconds)
        self._learning: asyncio.Task[None] | None = None
        self._dms: LRUCache[str, str] = LRUCache(maxsize=DMS_KEPT)
        # Parts of a multi-message reply already posted, so a retry does not repeat them.
        self._posted: dict[str, list[str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- inbound --------------------------------------------------------------------------

    def parse(self, payload: Mapping[str, Any]) -> Message | None:
        """The message in an Events API body or interactivity payload (None: ignored)."""
        with reading("Slack payload"):
            return parse(payload, bot_user_id=self.bot_user_id)

    def routes(self) -> Sequence[BaseRoute]:
        """The Events API and interactivity request URLs (none in Socket Mode)."""
        if self.options.mode == "socket":
            return ()
        return [
            Route(EVENTS_PATH, self._endpoint, methods=["POST"]),
            Route(INTERACTIVITY_PATH, self._endpoint, methods=["POST"]),
        ]

    async def start(self, bridge: Host) -> None:
        """Build the Bolt app, learn our bot's identity, and connect Socket Mode if chosen."""
        self._bridge = bridge
        # One HTTP session for every Web API call: kept-alive connections, not a new TCP
        # connection (and session) per users.info or chat.postMessage.
        self._session = aiohttp.ClientSession(trust_env=False)
        client = AsyncWebClient(
            token=self.options.bot_token.get(),
            base_url=self.options.api_url,
            session=self._session,
        )
        app = AsyncApp(
            client=client,
            signing_secret=self.options.signing_secret.get(),
            process_before_response=True,
            logger=log,
        )
        app.event("message")(self._on_event)
        app.event("app_mention")(self._on_event)
        app.action(re.compile(rf"^{ACTION_PREFIX}"))(self._on_action)
        # Subscribed events we do not use are still answered 200, or Slack counts failures.
        app.event(re.compile(".*"))(self._ignore)
        try:
            identity = await client.auth_test()
        except SlackApiError as exc:
            raise JunbridgeError(
                f"Slack refused the bot token ({exc.response.get('error')}): "
                f"check channels.slack.bot_token ({self.options.bot_token.env})"
            ) from None
        self.bot_user_id = identity.get("user_id")
        self._app = app
        if self.options.mode == "socket":
            assert self.options.app_token is not None
            self._socket = AsyncSocketModeHandler(app, self.options.app_token.get(), logger=log)
            # Asked here so a wrong app token fails the start; connect() would retry forever.
            try:
                self._socket.client.wss_uri = await self._socket.client.issue_new_wss_url()
            except SlackApiError as exc:
                await self._socket.close_async()  # type: ignore[no-untyped-call]
                self._socket = None
                raise JunbridgeError(
                    f"Slack refused the app token ({exc.response.get('error')}): "
                    f"check channels.slack.app_token ({self.options.app_token.env})"
                ) from None
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        else:
            self._http = AsyncSlackRequestHandler(app)
        # The members' profiles, read while the first events come in; a small workspace's
        # are all known before the start ends.
        learned = asyncio.Event()
        self._learning = asyncio.create_task(self._people.keep_learning(client, learned))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(learned.wait(), START_WAIT)

    async def stop(self) -> None:
        """Close Socket Mode and finish the button clean-ups in flight."""
        self._http = None
        if self._learning is not None:
            self._learning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._learning
            self._learning = None
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._app = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _endpoint(self, request: Request) -> Response:
        if self._http is None:
            return JSONResponse({"error": "the Slack channel is not running"}, status_code=503)
        # Slack signs "v0:<timestamp>:<body>" with a Unix time: anything else is not Slack.
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        body = await request.body()
        verifier = SignatureVerifier(self.options.signing_secret.get())
        if not timestamp.isdigit() or not verifier.is_valid(
            body, timestamp, request.headers.get("x-slack-signature", "")
        ):
            log.warning("Slack request with a missing or wrong signature refused")
            return JSONResponse({"error": "invalid request"}, status_code=401)
        problem = malformed(body, request.headers.get("content-type", ""))
        if problem is not None:
            # Signed, so from Slack (or its secret leaked): a 4xx, or Slack retries it forever.
            log.warning("Slack request refused: %s", problem)
            return JSONResponse({"error": problem}, status_code=400)
        return await self._http.handle(request)

    async def _on_event(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        # Bolt answers Slack when this returns (auto-ack after the listener).
        await self._take(body, context)

    async def _ignore(self) -> None:
        return None

    async def _on_action(
        self, ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        message = await self._take(body, context)
        await ack()
        if message is not None:
            self._spawn(self._show_choice(body))

    async def _take(self, body: Mapping[str, Any], context: AsyncBoltContext) -> Message | None:
        """Map and store one event; malformed ones are logged and answered, never retried."""
        try:
            with reading("Slack payload"):
                message = parse(body, bot_user_id=context.bot_user_id or self.bot_user_id)
        except InvalidPayload as exc:
            log.warning("ignored a Slack payload: %s", exc)
            return None
        if message is None:
            return None
        assert self._bridge is not None
        # Stored and answered at once; the profile (users.info) is looked up by the worker.
        await self._bridge.submit(message)
        return message

    def _seconds(self) -> float:
        """The bridge's clock as seconds, for how long a profile is remembered."""
        return self._bridge.clock().timestamp() if self._bridge is not None else 0.0

    async def complete(self, message: Message) -> Message:
        """The sender's name and language from their Slack profile (``users.info``)."""
        return dataclasses.replace(message, sender=await self.profile(message.sender))

    async def profile(self, sender: Sender) -> Sender:
        """``sender`` with the name and language of their Slack profile: as read from the
        workspace's members (``users.list``), or asked for (``users.info``) if it was not
        among them; as it came if Slack does not say (see slack_people.py)."""
        known = self._people.get(sender.id)
        if known is None and self._app is not None:
            known = await self._people.look_up(self._app.client, sender.id)
        if known is None:
            return sender
        return dataclasses.replace(
            sender, name=known.name or sender.name, language=known.language or sender.language
        )

    async def _show_choice(self, body: Mapping[str, Any]) -> None:
        """Replace the pressed message's buttons with the choice, so it is pressed once."""
        message = body.get("message")
        channel = (body.get("channel") or {}).get("id")
        if not isinstance(message, Mapping) or not channel or self._app is None:
            return
        action = next(a for a in body["actions"] if a["action_id"].startswith(ACTION_PREFIX))
        label = (action.get("text") or {}).get("text") or action.get("value")
        blocks = [b for b in message.get("blocks") or () if b.get("type") != "actions"]
        shown = {"type": "mrkdwn", "text": f"✓ {escape(str(label))}"}
        blocks.append({"type": "context", "elements": [shown]})
        try:
            await self._app.client.chat_update(
                channel=channel, ts=message["ts"], text=message.get("text") or "", blocks=blocks
            )
        except (SlackApiError, *UNREACHABLE) as exc:
            log.info("could not mark the choice on %s: %s", message.get("ts"), exc)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- outbound -------------------------------------------------------------------------

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """``chat.postMessage`` calls for ``reply``: see :func:`render`."""
        return render(reply)

    def preview(self, reply: Reply) -> list[str]:
        """The reply as Slack would show it, one string per message."""
        return preview(reply)

    async def fetch(self, attachment: Attachment) -> bytes | None:
        """A shared file's bytes: ``url_private`` opens only with the bot token."""
        if not attachment.url or not attachment.url.startswith(("http://", "https://")):
            return None
        headers = {"Authorization": f"Bearer {self.options.bot_token.get()}"}
        async with (
            aiohttp.ClientSession(trust_env=False) as session,
            session.get(attachment.url, headers=headers) as response,
        ):
            if response.status != 200:
                log.warning("Slack file %s answered %s", attachment.platform_ref, response.status)
                return None
            return await response.read()

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        """Post ``reply`` in its thread (or the resident's DM); return the messages' ``ts``.

        A photo with an ``http(s)`` URL is an image block Slack fetches itself; a photo that
        is a local file is uploaded with ``files_upload_v2`` into the same thread first.
        """
        if self._app is None:
            raise DeliveryError("the Slack channel is not running")
        # Text that never came through a channel (a plugin's own) can hold half an emoji too.
        reply = storable(reply)
        upload = local_file(reply.photo)
        if upload is not None and not upload.is_file():
            raise DeliveryError(f"the photo {upload} is not a file here", permanent=True)
        try:
            messages = render(dataclasses.replace(reply, photo=None) if upload else reply)
        except RenderError as exc:
            if upload is None:
                raise DeliveryError(f"cannot render for Slack: {exc}", permanent=True) from exc
            messages = []  # a photo alone
        key = json.dumps(reply.to_json(), sort_keys=True)
        done = self._posted.setdefault(key, list(sent))
        try:
            channel = messages[0]["channel"] if messages else reply.recipient or reply.conversation
            if reply.private and not channel.startswith("D"):
                channel = await self._direct(channel)
            thread = messages[0].get("thread_ts") if messages else reply.thread
            steps: list[Callable[[], Awaitable[str]]] = []
            if upload is not None:
                steps.append(lambda: self._upload(channel, upload, thread))
            steps += [self._poster({**m, "channel": channel}) for m in messages]
            for step in steps[len(done) :]:
                done.append(await step())
                if len(done) < len(steps):
                    await parts_sent(done)
        except SlackApiError as exc:
            error = delivery_error(exc)
            if error.permanent:
                del self._posted[key]
            raise DeliveryError(
                str(error), retry_after=error.retry_after, permanent=error.permanent, sent=done
            ) from None
        except UNREACHABLE as exc:
            raise DeliveryError(
                f"Slack is unreachable: {type(exc).__name__}: {exc}", sent=done
            ) from exc
        del self._posted[key]
        return done

    async def already_sent(
        self, reply: Reply, *, since: datetime, known: Collection[str] = ()
    ) -> list[str]:
        """The bot's own posts of ``reply``'s first parts since ``since``, read back from
        the thread (``conversations.replies``) or the channel (``conversations.history``):
        Slack has no idempotency key, so a worker that died right after posting leaves this
        as the only way to tell. Each part must match a post's text exactly, in order, and
        be none of ``known``. A reply with a photo, or a lookup Slack refuses (the app
        lacks ``channels:history``), finds nothing: the reply is sent again."""
        if self._app is None or reply.photo is not None:
            return []
        try:
            messages = render(reply)
            channel = messages[0]["channel"]
            if reply.private and not channel.startswith("D"):
                channel = await self._direct(channel)
            oldest = f"{since.timestamp() - CLOCK_SLACK:.6f}"
            thread = messages[0].get("thread_ts")
            client = self._app.client
            if thread:
                read = await client.conversations_replies(
                    channel=channel, ts=thread, oldest=oldest, limit=LOOK_BACK
                )
            else:
                read = await client.conversations_history(
                    channel=channel, oldest=oldest, limit=LOOK_BACK
                )
        except (RenderError, SlackApiError, *UNREACHABLE) as exc:
            log.info("could not look for reply posts already made: %s", exc)
            return []
        ours = sorted(
            (
                m
                for m in read.get("messages") or []
                if m.get("user") == self.bot_user_id
                and m.get("ts") not in known
                and m.get("ts") != thread
            ),
            key=lambda m: float(m["ts"]),
        )
        found: list[str] = []
        for part in messages:
            match = next(
                (m for m in ours if m.get("text") == part.get("text") and m["ts"] not in found),
                None,
            )
            if match is None:
                break
            found.append(str(match["ts"]))
        return found

    def _poster(self, kwargs: dict[str, Any]) -> Callable[[], Awaitable[str]]:
        async def post() -> str:
            assert self._app is not None
            posted = await self._app.client.chat_postMessage(**kwargs)
            return str(posted["ts"])

        return post

    async def _upload(self, channel: str, path: Path, thread: str | None) -> str:
        assert self._app is not None
        uploaded = await self._app.client.files_upload_v2(
            channel=channel, file=str(path), filename=path.name, thread_ts=thread
        )
        return str(uploaded["files"][0]["id"])

    async def _direct(self, user: str) -> str:
        """The DM channel with ``user`` (``conversations.open``), cached."""
        if user not in self._dms:
            assert self._app is not None
            opened = await self._app.client.conversations_open(users=user)
            self._dms[user] = opened["channel"]["id"]
        return self._dms[user]


def delivery_error(exc: SlackApiError) -> DeliveryError:
    """What a refused Web API call means for the outbox: wait, retry, or give up."""
    response = exc.response
    error = str(response.get("error") or "unknown_error")
    retry_after = slack_web.retry_after(exc)
    if retry_after is not None:
        return DeliveryError(
            f"Slack rate limit: retry after {retry_after:g} s", retry_after=retry_after
        )
    if response.status_code >= 500 or error in TRANSIENT_ERRORS:
        return DeliveryError(f"Slack failed: {error} (HTTP {response.status_code})")
    if error in TOKEN_ERRORS:
        return DeliveryError(f"Slack refused the bot token: {error}")
    return DeliveryError(f"Slack refused the reply: {error}", permanent=True)


def local_file(photo: Attachment | None) -> Path | None:
    """The photo's file on this machine (a ``file:`` URL or an absolute path), if it is one."""
    if photo is None or not photo.url:
        return None
    parts = urlsplit(photo.url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if not parts.scheme and Path(photo.url).is_absolute():
        return Path(photo.url)
    return None


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register the Slack channel."""
    register(SlackChannel)
