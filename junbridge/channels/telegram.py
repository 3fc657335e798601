"""Telegram through python-telegram-bot: long polling, or a webhook with a secret token.

Settings: ``channels.telegram``. The SDK's Application owns the bot and its HTTP pools; the
channel feeds updates to the bridge itself, so that each one is stored (``bridge.submit``)
before Telegram hears it arrived: a webhook is answered 200 only after the store has it, and
a polled batch is confirmed (the next ``getUpdates`` offset) only after every update in it
is stored. Replies are rendered by :mod:`~junbridge.channels.telegram_render` and sent by
:mod:`~junbridge.channels.telegram_send`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import Field, model_validator
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder

from junbridge.channels.base import Channel, DeliveryError, Host, InvalidPayload, reading
from junbridge.channels.telegram_parse import ALLOWED_UPDATES, message_from, parse_update
from junbridge.channels.telegram_render import (
    CALLBACK_DATA_LIMIT,
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    inline_keyboard,
    preview,
    render,
    render_html,
    utf16_len,
)
from junbridge.channels.telegram_send import retry_seconds, send_reply
from junbridge.config.settings import ChannelSettings, Secret
from junbridge.hookspecs import hookimpl
from junbridge.model import Attachment, JunbridgeError, Message, MessageKind, Reply
from junbridge.pacing import UNPACED, Pace, Rate
from junbridge.text import storable

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "TelegramChannel",
    "inline_keyboard",
    "preview",
    "render",
    "render_html",
    "utf16_len",
]

log = logging.getLogger(__name__)

# PTB 22 warns on every 429 (even inside its own RetryAfter) that time periods become
# timedelta in its next major version; opting in now, as PTB documents, silences that and
# runs the behaviour to come. ``retry_seconds`` reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BACKOFF = 30.0

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


class TelegramStartError(JunbridgeError):
    """The bot could not be started (token refused, API unreachable); said without the token."""


class TelegramChannel(Channel):
    """Telegram through the Bot API, by webhook (with a secret token) or long polling."""

    name = "telegram"
    title = "Telegram"
    # telegram.constants.FloodLimit: one message a second per chat, 30 a second in all,
    # 20 a minute in a group (whose chat ids are negative). The bot goes at 29.5 a second:
    # sends start evenly spaced (the outbox never lets one follow a late one closer than
    # that), but arrive after network delays that differ, and no arrival may be the 31st
    # in Telegram's second.
    BOT_RATE = Rate(59, 2.0)
    PACE = Pace(conversation=Rate(1, 1.0), bot=BOT_RATE)
    GROUP_PACE = Pace(conversation=Rate(1, 3.0), bot=BOT_RATE)

    def pace(self, destination: str) -> Pace:
        """Groups (negative chat ids) are paced at 20 a minute, other chats at 1 a second."""
        if self.settings.pace == "off":
            return UNPACED
        return self.GROUP_PACE if destination.startswith("-") else self.PACE

    class Settings(ChannelSettings):
        """The ``channels.telegram`` block."""

        token: Secret
        mode: Literal["webhook", "polling"] = "polling"
        webhook_secret: Secret | None = None
        api_url: str = Field(
            "https://api.telegram.org/bot",
            description="Bot API base; the token is appended (a local Bot API server or a test "
            "emulator ends in /bot too)",
        )
        poll_timeout: int = Field(30, ge=0, le=50, description="seconds a long poll waits")

        @model_validator(mode="after")
        def _webhook_needs_secret(self) -> Self:
            # Without the secret token anyone who finds the URL could post fake updates.
            if self.mode == "webhook" and self.webhook_secret is None:
                raise ValueError("mode 'webhook' needs webhook_secret ({$env: NAME})")
            if not self.api_url.rstrip("/").endswith("/bot"):
                raise ValueError(f"api_url {self.api_url!r} must end in /bot, like the default")
            return self

        @property
        def file_url(self) -> str:
            """Where files are downloaded from: ``…/file/bot`` beside ``…/bot``."""
            return self.api_url.rstrip("/").removesuffix("/bot") + "/file/bot"

    def __init__(self, settings: ChannelSettings) -> None:
        if not isinstance(settings, TelegramChannel.Settings):
            raise TypeError(f"TelegramChannel needs TelegramChannel.Settings, not {settings!r}")
        super().__init__(settings)
        self.config = settings
        self.application: TelegramApp | None = None
        self._bridge: Host | None = None
        self._poller: asyncio.Task[None] | None = None
        self._offset = 0
        self._stopping = False
        self._waiting = False
        self._redactor: _Redact | None = None

    # -- rendering and parsing ----------------------------------------------------------------

    def render(self, reply: Reply) -> list[dict[str, Any]]:
        """Bot API calls for ``reply``: see :func:`telegram_render.render`."""
        return render(reply)

    def preview(self, reply: Reply) -> list[str]:
        """The reply as Telegram would show it, one string per message."""
        return preview(reply)

    def parse(self, payload: Mapping[str, Any]) -> Message | None:
        """A resident's update as a Message; None for joins, bots, channel posts and the like."""
        bot = self.application.bot if self.application is not None else None
        with reading("Telegram update"):
            return parse_update(payload, bot)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, bridge: Host) -> None:
        """Start the bot (getMe), then poll, or register the webhook at the public URL."""
        token = self.config.token.get()
        self._redactor = _Redact(token)
        logging.getLogger("httpx").addFilter(self._redactor)
        try:
            app = await self._started_application(token, bridge)
        except BaseException:
            self._unredact()
            raise
        self.application = app
        self._bridge = bridge
        self._stopping = False
        if self.config.mode == "polling":
            self._poller = asyncio.create_task(self._poll(), name="junbridge-telegram-polling")
        log.info("telegram: @%s started (%s)", app.bot.username, self.config.mode)

    async def _started_application(self, token: str, bridge: Host) -> TelegramApp:
        app: TelegramApp = (
            ApplicationBuilder()
            .token(token)
            .base_url(self.config.api_url.rstrip("/"))
            .base_file_url(self.config.file_url)
            .updater(None)
            .build()
        )
        try:
            await app.initialize()
        except TelegramError as exc:
            # The HTTP clients were opened before getMe failed; Application.shutdown() would
            # skip them, as the application never counted as initialized.
            await app.bot.shutdown()
            raise self._start_error(exc) from None
        try:
            if self.config.mode == "webhook":
                await app.bot.set_webhook(
                    url=self.webhook_url(bridge),
                    secret_token=self._webhook_secret(),
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            else:
                # Telegram refuses getUpdates while a webhook is set.
                await app.bot.delete_webhook()
            await app.start()
        except TelegramError as exc:
            await app.shutdown()
            what = "set the webhook" if self.config.mode == "webhook" else "delete the webhook"
            raise TelegramStartError(
                f"Telegram would not {what} (web.public_url {bridge.config.web.public_url!r}): "
                f"{self._redacted(exc)}"
            ) from None
        except BaseException:
            await app.shutdown()
            raise
        return app

    async def stop(self) -> None:
        """Stop polling (confirming what was stored) and shut the SDK down.

        In webhook mode the webhook stays set: Telegram keeps the updates for the next start.
        """
        self._stopping = True
        if self._poller is not None:
            if self._waiting:
                self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
            if self.application is not None and self._offset:
                with contextlib.suppress(TelegramError):
                    await self.application.bot.get_updates(offset=self._offset, timeout=0)
        if self.application is not None:
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
            self.application = None
        self._unredact()

    def _unredact(self) -> None:
        if self._redactor is not None:
            logging.getLogger("httpx").removeFilter(self._redactor)
            self._redactor = None

    def _start_error(self, exc: TelegramError) -> TelegramStartError:
        if isinstance(exc, InvalidToken):
            # The SDK's own message quotes the token; ours must not end up in logs.
            return TelegramStartError(
                f"Telegram refused the bot token in {self.config.token.env} ({self.config.api_url})"
            )
        return TelegramStartError(
            f"Telegram is unreachable at {self.config.api_url}: {self._redacted(exc)}"
        )

    def webhook_url(self, bridge: Host) -> str:
        """The URL Telegram posts to: the bridge's public URL; never with the token in it."""
        return bridge.config.web.public_url.rstrip("/") + WEBHOOK_PATH

    def _webhook_secret(self) -> str:
        if self.config.webhook_secret is None:  # the Settings validator prevents it
            raise TelegramStartError("mode 'webhook' needs webhook_secret")
        return self.config.webhook_secret.get()

    # -- inbound --------------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        """``POST /webhooks/telegram`` in webhook mode; nothing when polling."""
        if self.config.mode != "webhook":
            return ()
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(given, self._webhook_secret().encode()):
            log.warning("telegram webhook: wrong or missing secret token; refused")
            return PlainTextResponse("forbidden", status_code=403)
        try:
            with reading("Telegram update"):
                payload = json.loads(await request.body())
            message = self.parse(payload)
        except InvalidPayload as exc:
            log.warning("telegram webhook: refused a payload: %s", exc)
            return PlainTextResponse(f"invalid update: {exc}", status_code=400)
        if message is not None:
            # Stored before we answer: if this raises, Telegram gets a 500 and sends it again.
            await self._take(message)
        return Response(status_code=200)

    async def _poll(self) -> None:
        """Long-poll getUpdates; confirm a batch only once every update in it is stored."""
        failures = 0
        while not self._stopping:
            assert self.application is not None
            delay = min(MAX_BACKOFF, 2.0**failures)
            self._waiting = True
            try:
                updates = await self.application.bot.get_updates(
                    offset=self._offset,
                    timeout=self.config.poll_timeout,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            except TimedOut:
                continue  # a long poll outlived the HTTP timeout: ask again
            except RetryAfter as exc:
                delay = retry_seconds(exc)
            except InvalidToken:
                log.error("telegram: the bot token was refused; polling stopped")
                return
            except Conflict as exc:
                log.warning("telegram: %s (another process polls this bot?)", exc)
            except TelegramError as exc:
                log.warning("telegram: polling failed (%s); again in %.0f s", exc, delay)
            else:
                self._waiting = False
                if await self._take_batch(updates):
                    failures = 0
                    continue
            finally:
                self._waiting = False
            if self._stopping:
                return
            failures += 1
            self._waiting = True
            try:
                await asyncio.sleep(delay)
            finally:
                self._waiting = False

    async def _take_batch(self, updates: Sequence[Update]) -> bool:
        """Submit a polled batch in order; False if the store failed (it is asked for again)."""
        for update in updates:
            try:
                message = message_from(update, raw=update.to_dict())
            except Exception:
                log.exception("telegram: update %s could not be read; skipped", update.update_id)
                message = None
            if message is not None:
                try:
                    await self._take(message)
                except Exception:
                    log.exception(
                        "telegram: update %s not stored; will ask again", update.update_id
                    )
                    return False
            self._offset = update.update_id + 1
        return True

    async def _take(self, message: Message) -> None:
        """Store the message; then stop the spinning button on the resident's screen."""
        assert self._bridge is not None and self.application is not None
        await self._bridge.submit(message)
        if message.kind is MessageKind.BUTTON:
            query_id = message.platform_id.removeprefix("cb:")
            try:
                await self.application.bot.answer_callback_query(query_id)
            except TelegramError as exc:
                # A redelivered press was answered already, or the query expired: harmless.
                log.info("telegram: callback %s not answered: %s", query_id, exc)

    async def fetch(self, attachment: Attachment) -> bytes | None:
        """The bytes of a photo or file a resident sent (getFile, then the file URL).

        Telegram's download URL holds the bot token, so it is never stored: the file_id in
        ``platform_ref`` is, and this fetches the file when the bridge keeps a copy.
        """
        if self.application is None:
            raise TelegramStartError("the telegram channel is not started")
        file = await self.application.bot.get_file(attachment.platform_ref)
        return bytes(await file.download_as_bytearray())

    # -- outbound -------------------------------------------------------------------------------

    async def send(self, reply: Reply, *, sent: Sequence[str] = ()) -> list[str]:
        """Send ``reply`` (the parts after ``sent``); return ``chat_id:message_id`` of each
        Telegram message of it."""
        if self.application is None:
            raise DeliveryError("the telegram channel is not started")
        # Text that never came through a channel (a plugin's own) can hold half an emoji too.
        return await send_reply(
            self.application.bot, storable(reply), redact=self._redact, already=sent
        )

    def _redact(self, text: str) -> str:
        return self._redactor.redact(text) if self._redactor is not None else text

    def _redacted(self, exc: BaseException) -> str:
        return self._redact(str(exc))


class _Redact(logging.Filter):
    """Keeps the bot token out of httpx's request log lines (its URLs carry it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def redact(self, text: str) -> str:
        return text.replace(self.token, "<token>")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = self.redact(message), None
        return True


@hookimpl
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register the Telegram channel."""
    register(TelegramChannel)
