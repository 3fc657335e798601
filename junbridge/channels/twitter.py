"""X (Twitter) through tweepy's AsyncClient: mentions and DMs in, replies and DMs out.

Settings: ``channels.twitter``. Residents mention the town's account (``@AytoJun``) in
public or write to it privately. In ``polling`` mode the channel reads new mentions
(``since_id``, kept in the store so a restart carries on) and direct messages every
``poll_seconds``; in ``webhook`` mode X pushes Account Activity events to
``/webhooks/twitter``, checked with the consumer secret (CRC and signature).

Public replies answer the resident's own post, chained into a thread when long; private
matters go by direct message. Reads use OAuth 1.0a user context when configured (X bills
reads of the account's own mentions cheapest that way), else the app's bearer token; writes
always use user context. ``api_url`` points the real SDK at another server, e.g. the X
emulator of :mod:`junbridge.testing.emulators.x`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Self

import aiohttp
import tweepy  # type: ignore[import-untyped]
from oauthlib.oauth1 import Client as OAuth1Client  # type: ignore[import-untyped]
from pydantic import Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from tweepy.asynchronous import AsyncClient  # type: ignore[import-untyped]

from junbridge.channels import twitter_parse
from junbridge.channels.base import (
    Channel,
    DeliveryError,
    Host,
    InvalidPayload,
    parts_sent,
    reading,
)
from junbridge.channels.twitter_api import (
    X_API,
    crc_response_token,
    delivery_error,
    redirect,
    retry_after,
    signature,
    upload_photo,
)
from junbridge.channels.twitter_render import (
    CHOICE_HINTS,
    DM_LIMIT,
    POST_LIMIT,
    is_valid_post,
    preview,
    render,
    weighted_length,
)
from junbridge.config.settings import ChannelSettings, Secret
from junbridge.hookspecs import hookimpl
from junbridge.markup import RenderError
from junbridge.model import Attachment, JunbridgeError, Message, Reply
from junbridge.pacing import Pace, Rate
from junbridge.text import storable
from junbridge.web.paths import request_url

__all__ = [
    "CHOICE_HINTS",
    "DM_LIMIT",
    "POST_LIMIT",
    "TwitterChannel",
    "is_valid_post",
    "preview",
    "render",
    "weighted_length",
]

log = logging.getLogger(__name__)

MENTIONS_CURSOR = "twitter.mentions.since_id"
# Which worker polls X for mentions and DMs: one at a time.
POLL_ROLE = "twitter.poll"
DMS_CURSOR = "twitter.dms.since_id"
WEBHOOK_PATH = "/webhooks/twitter"
# X keeps the 800 newest mentions reachable: 8 pages of 100.
MAX_PAGES = 8
TWEET_FIELDS = [
    "author_id",
    "attachments",
    "conversation_id",
    "created_at",
    "entities",
    "in_reply_to_user_id",
    "lang",
    "note_tweet",
    "referenced_tweets",
]
USER_FIELDS = ["name", "username"]
MEDIA_FIELDS = ["type", "url", "preview_image_url", "alt_text"]
DM_FIELDS = ["id", "event_type", "text", "sender_id", "dm_conversation_id", "created_at"]


class TwitterChannel(Channel):
    """X through API v2: mentions by polling (``since_id``) or webhooks, direct messages."""

    name = "twitter"
    title = "X (Twitter)"
    # POST /2/tweets: 100 per user per 15 minutes (X's rate limits page), counted per fixed
    # window: 90 evenly plus a burst of 10 never make more than 100 in one.
    PACE = Pace(bot=Rate(90, 900.0, burst=10))

    class Settings(ChannelSettings):
        """The ``channels.twitter`` block."""

        bearer_token: Secret | None = None
        consumer_key: Secret | None = None
        consumer_secret: Secret | None = None
        access_token: Secret | None = None
        access_token_secret: Secret | None = None
        user_id: str | None = Field(None, description="the town account's id; looked up if unset")
        handle: str = Field(pattern=r"^@?\w{1,15}$")
        mode: Literal["polling", "webhook"] = "polling"
        poll_seconds: float = Field(60, gt=0)
        poll_dms: bool = Field(True, description="also read direct messages when polling")
        choice_hint: str | dict[str, str] = Field(
            default_factory=lambda: dict(CHOICE_HINTS),
            description="shown under numbered choices: one sentence, or one per language",
        )
        api_url: str = Field(
            X_API,
            pattern=r"^https?://[^/?#]+/?$",
            description="where X's API is; only tests and the demo change it",
        )

        @model_validator(mode="after")
        def _user_context_complete(self) -> Self:
            # Posting as the town's account takes all four OAuth 1.0a user-context secrets.
            names = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
            given = [n for n in names if getattr(self, n) is not None]
            if given and len(given) < len(names):
                missing = ", ".join(n for n in names if n not in given)
                raise ValueError(f"OAuth 1.0a user context is incomplete: missing {missing}")
            if self.mode == "webhook" and self.consumer_secret is None:
                raise ValueError("webhook mode needs consumer_secret (CRC and signatures)")
            return self

    settings: Settings

    def __init__(self, settings: ChannelSettings, *, poll_in_background: bool = True) -> None:
        """``poll_in_background=False`` leaves polling to explicit :meth:`poll_once` calls."""
        super().__init__(settings)
        self.poll_in_background = poll_in_background
        self.client: Any = None
        self.user_id: str | None = getattr(settings, "user_id", None)
        self._bridge: Host | None = None
        self._session: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task[None] | None = None
        self._paused_until: dict[str, datetime] = {}
        # Thread parts already posted, by reply: a retry carries on instead of repeating.
        self._posted: dict[str, list[str]] = {}

    # -- rendering -----------------------------------------------------------------------

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """API v2 bodies for ``reply``: see :func:`twitter_render.render`."""
        return render(reply, hint=self.settings.choice_hint, more=self._more(reply))

    def preview(self, reply: Reply) -> list[str]:
        """The reply as X would show it, one string per post or message."""
        return preview(reply, hint=self.settings.choice_hint, more=self._more(reply))

    def _more(self, reply: Reply) -> str:
        """Where a public answer cut short is read in full: its request's public page."""
        if self._bridge is None or reply.reference is None:
            return ""
        return request_url(self._bridge.config.web.public_url, reply.reference)

    # -- inbound -------------------------------------------------------------------------

    def parse(self, payload: Mapping[str, Any]) -> Message | None:
        """The one message in ``payload`` (the oldest if several: see :meth:`parse_all`)."""
        messages = self.parse_all(payload)
        return messages[0] if messages else None

    def parse_all(self, payload: Mapping[str, Any]) -> list[Message]:
        """Every resident's message in an API v2 response or Account Activity event.

        See :mod:`junbridge.channels.twitter_parse` for the shapes and the mapping.
        """
        with reading("X payload"):
            return twitter_parse.parse_all(payload, own_id=self.user_id)

    def messages_of(self, response: Any, *, strict: bool = True) -> list[Message]:
        """The messages in a ``tweepy.Response`` of mentions or DM events, oldest first."""
        return twitter_parse.messages_of(response, own_id=self.user_id, strict=strict)

    # -- life cycle ----------------------------------------------------------------------

    @property
    def _user_context(self) -> bool:
        return self.settings.access_token is not None

    async def start(self, bridge: Host) -> None:
        """Open the HTTP session, learn our user id, and start polling in polling mode."""
        settings = self.settings
        if settings.bearer_token is None and not self._user_context:
            raise JunbridgeError(
                "channels.twitter needs bearer_token or the four OAuth 1.0a secrets"
            )
        self._bridge = bridge
        self._session = aiohttp.ClientSession(middlewares=redirect(settings.api_url))
        self.client = AsyncClient(
            bearer_token=_value(settings.bearer_token),
            consumer_key=_value(settings.consumer_key),
            consumer_secret=_value(settings.consumer_secret),
            access_token=_value(settings.access_token),
            access_token_secret=_value(settings.access_token_secret),
        )
        self.client.session = self._session
        try:
            self.user_id = self.user_id or await self._own_id()
        except BaseException:
            await self.stop()
            raise
        if settings.mode == "polling" and self.poll_in_background:
            self._poller = asyncio.create_task(self._poll_forever(), name="junbridge-x-poll")

    async def stop(self) -> None:
        """Stop polling and close the HTTP session."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _own_id(self) -> str:
        if self._user_context:
            me = await self.client.get_me(user_auth=True)
        else:
            handle = self.settings.handle.lstrip("@")
            me = await self.client.get_user(username=handle, user_auth=False)
        return str(me.data.data["id"])

    # -- polling -------------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        # Several workers share one X account: one of them polls at a time, and another
        # takes over within a lease if it dies (see store/leaders.py).
        lease = timedelta(seconds=max(30.0, 3 * self.settings.poll_seconds))
        while True:
            try:
                bridge = self._started()
                now = bridge.clock()
                if await bridge.store.lead(POLL_ROLE, until=now + lease, now=now):
                    await self.poll_once()
            except Exception:
                log.exception("polling X failed; trying again in %gs", self.settings.poll_seconds)
            await asyncio.sleep(self.settings.poll_seconds)

    async def poll_once(self) -> int:
        """Read new mentions (and DMs) once and submit them; return how many were new.

        The saved position moves only after every message is stored, so a crash reads
        them again (the store drops the repeats) rather than losing them. A rate-limited
        endpoint is skipped until X's reset time.
        """
        bridge = self._started()
        new = 0
        readers = [("mentions", self._read_mentions)]
        if self.settings.poll_dms and self._user_context:
            readers.append(("dms", self._read_dms))
        for endpoint, read in readers:
            # One reading of the clock: with a real one, asking twice gave a later second
            # answer, and an endpoint that was never paused was always skipped.
            paused = self._paused_until.get(endpoint)
            if paused is not None and bridge.clock() < paused:
                continue
            try:
                new += await read(bridge)
            except tweepy.TooManyRequests as exc:
                wait = (
                    retry_after(exc.response.headers, bridge.clock()) or self.settings.poll_seconds
                )
                self._paused_until[endpoint] = bridge.clock() + timedelta(seconds=wait)
                log.warning("X rate limit on %s: pausing it for %.0fs", endpoint, wait)
        return new

    async def _read_mentions(self, bridge: Host) -> int:
        since = await bridge.store.get_cursor(MENTIONS_CURSOR)
        pages: list[Any] = []
        token = None
        while len(pages) < MAX_PAGES:
            page = await self.client.get_users_mentions(
                self.user_id,
                since_id=since,
                pagination_token=token,
                max_results=100,
                expansions=["author_id", "attachments.media_keys"],
                tweet_fields=TWEET_FIELDS,
                user_fields=USER_FIELDS,
                media_fields=MEDIA_FIELDS,
                user_auth=self._user_context,
            )
            pages.append(page)
            token = page.meta.get("next_token")
            # Without a saved position, only the newest page: no backlog of old mentions.
            if token is None or since is None:
                break
        new = 0
        for page in reversed(pages):
            new += await self._submit(bridge, self.messages_of(page, strict=False))
        newest = pages[0].meta.get("newest_id")
        if newest is not None:
            await bridge.store.set_cursor(MENTIONS_CURSOR, str(newest))
        return new

    async def _read_dms(self, bridge: Host) -> int:
        # /2/dm_events has no since_id: keep the newest id seen and skip what is older.
        since = int(await bridge.store.get_cursor(DMS_CURSOR) or 0)
        page = await self.client.get_direct_message_events(
            event_types=["MessageCreate"],
            dm_event_fields=[*DM_FIELDS, "attachments"],
            expansions=["sender_id", "attachments.media_keys"],
            user_fields=USER_FIELDS,
            media_fields=MEDIA_FIELDS,
            max_results=100,
            user_auth=True,
        )
        fresh = [m for m in self.messages_of(page, strict=False) if int(m.platform_id) > since]
        new = await self._submit(bridge, fresh)
        ids = [int(event.data["id"]) for event in page.data or ()]
        if ids and max(ids) > since:
            await bridge.store.set_cursor(DMS_CURSOR, str(max(ids)))
        return new

    async def _submit(self, bridge: Host, messages: Sequence[Message]) -> int:
        new = 0
        for message in messages:
            new += (await bridge.submit(message)).is_new
        return new

    def _started(self) -> Host:
        if self._bridge is None or self.client is None:
            raise RuntimeError("the twitter channel is not started")
        return self._bridge

    # -- webhooks ------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        """``/webhooks/twitter``: X's CRC challenge (GET) and Account Activity events (POST)."""
        if self.settings.mode != "webhook":
            return ()
        return [Route(WEBHOOK_PATH, self._webhook, methods=["GET", "POST"])]

    async def _webhook(self, request: Request) -> Response:
        secret = _value(self.settings.consumer_secret) or ""
        if request.method == "GET":
            token = request.query_params.get("crc_token")
            if not token:
                return JSONResponse({"error": "crc_token is missing"}, status_code=400)
            return JSONResponse({"response_token": crc_response_token(secret, token)})
        body = await request.body()
        given = request.headers.get("x-twitter-webhooks-signature", "")
        if not hmac.compare_digest(given.encode(), signature(secret, body).encode()):
            log.warning("X webhook with a missing or wrong signature refused")
            return JSONResponse({"error": "bad signature"}, status_code=403)
        bridge = self._bridge
        if bridge is None:
            return JSONResponse({"error": "not started"}, status_code=503)
        try:
            with reading("X webhook body"):
                payload = json.loads(body)
            messages = self.parse_all(payload)
        except InvalidPayload as exc:
            log.warning("X webhook body refused: %s", exc)
            return JSONResponse({"error": "invalid payload"}, status_code=400)
        for message in messages:
            await bridge.submit(await self._with_thread_root(message))
        return Response(status_code=200)

    async def _with_thread_root(self, message: Message) -> Message:
        """A webhook reply with its thread root, which v1.1-format posts do not carry."""
        if not (message.raw or {}).get("in_reply_to_status_id_str"):
            return message
        try:
            found = await self.client.get_tweet(
                message.platform_id, tweet_fields=["conversation_id"], user_auth=self._user_context
            )
            root = str((found.data.data if found.data else {}).get("conversation_id") or "")
        except (tweepy.TweepyException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("thread root of X post %s unknown: %s", message.platform_id, exc)
            return message
        # The root's id is platform text too, kept with the message: repaired the same way.
        return storable(dataclasses.replace(message, conversation=root or message.conversation))

    # -- outbound ------------------------------------------------------------------------

    async def fetch(self, attachment: Attachment) -> bytes | None:
        """A resident's photo: X serves media at a public URL."""
        if self._session is None or not attachment.url:
            return None
        async with self._session.get(attachment.url) as response:
            if response.status != 200:
                log.warning("X media %s answered %s", attachment.platform_ref, response.status)
                return None
            return await response.read()

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        """Post ``reply`` as a reply thread or send it as direct messages (the parts after
        ``sent``); return the ids of all of them."""
        self._started()
        # Text that never came through a channel (a plugin's own) can hold half an emoji too.
        reply = storable(reply)
        try:
            bodies = self.render(reply)
        except RenderError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        if not self._user_context:
            raise DeliveryError("writing to X needs the OAuth 1.0a user context", permanent=True)
        public = "reply" in bodies[0]
        if public and not reply.thread:
            # X lets an account reply only where a resident summoned it: never post on its own.
            raise DeliveryError("a public X reply must answer a resident's post", permanent=True)
        key = json.dumps(reply.to_json(), sort_keys=True, default=str)
        posted = self._posted.setdefault(key, list(sent))
        try:
            media_id = None
            if reply.photo is not None and not posted:
                media_id = await self._upload(reply.photo, public)
            for body in bodies[len(posted) :]:
                if public:
                    response = await self.client.create_tweet(
                        text=body["text"],
                        in_reply_to_tweet_id=posted[-1] if posted else reply.thread,
                        media_ids=[media_id] if media_id else None,
                        user_auth=True,
                    )
                    posted.append(str(response.data["id"]))
                else:
                    response = await self.client.create_direct_message(
                        participant_id=body.get("participant_id"),
                        dm_conversation_id=body.get("dm_conversation_id"),
                        text=body["text"],
                        media_id=media_id,
                        user_auth=True,
                    )
                    posted.append(str(response.data["dm_event_id"]))
                media_id = None
                if len(posted) < len(bodies):
                    await parts_sent(posted)
        except tweepy.HTTPException as exc:
            error = delivery_error(exc.response.status, exc.response.headers, exc, self._now())
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = DeliveryError(f"X unreachable: {exc!r}")
        except DeliveryError as exc:
            error = exc
        else:
            return self._posted.pop(key)
        if error.permanent:
            self._posted.pop(key, None)
        raise DeliveryError(
            str(error), retry_after=error.retry_after, permanent=error.permanent, sent=posted
        ) from error

    async def _upload(self, photo: Attachment, public: bool) -> str:
        session = self._session
        assert session is not None
        oauth = OAuth1Client(
            _value(self.settings.consumer_key),
            client_secret=_value(self.settings.consumer_secret),
            resource_owner_key=_value(self.settings.access_token),
            resource_owner_secret=_value(self.settings.access_token_secret),
        )
        category = "tweet_image" if public else "dm_image"
        return await upload_photo(session, photo, oauth=oauth, category=category, now=self._now)

    def _now(self) -> datetime:
        return self._started().clock()


def _value(secret: Secret | None) -> str | None:
    return None if secret is None else secret.get()


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register the X (Twitter) channel."""
    register(TwitterChannel)
