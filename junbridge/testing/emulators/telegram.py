"""A local Telegram Bot API: the real python-telegram-bot talks to it; tests speak for residents.

``resident_says``, ``resident_sends_photo``, ``resident_presses`` ... each build an Update in
the current schema (``is_bot``, ``file_unique_id``, ``chat_instance``, ``date``, ``chat``)
and hand it over as Telegram would: queued for ``getUpdates`` (long polling with ``offset``
and ``timeout``) or, once a webhook is set, POSTed to it as ``application/json`` with the
``X-Telegram-Bot-Api-Secret-Token`` header. getUpdates is refused (409) while a webhook is
set, and a newer getUpdates ends an older one, as on Telegram. The methods a bot sends with
are in :mod:`junbridge.testing.emulators.telegram_api`; the emulator fetches no URL and takes
plain-HTTP webhooks on loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from junbridge.testing.emulators.telegram_api import DEFAULT_TOKEN, BotApi, photo_size
from junbridge.testing.emulators.telegram_wire import (
    SECRET_TOKEN,
    ApiError,
    bad_request,
    error_body,
    inline_buttons,
    utf16_len,
)

__all__ = ["DEFAULT_TOKEN", "PHOTO_BYTES", "Injected", "TelegramEmulator", "error_body"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# A stand-in photo: JPEG start and end markers around a label; nothing decodes it.
PHOTO_BYTES = b"\xff\xd8\xff\xe0emulated photo\xff\xd9"
DEFAULT_RESIDENT: Mapping[str, Any] = {
    "id": 1001,
    "is_bot": False,
    "first_name": "Carmen",
    "last_name": "Ruiz",
    "username": "carmen_jun",
}


class _Secret(enum.Enum):
    WEBHOOK = "the secret token given to setWebhook"


WEBHOOK_SECRET = _Secret.WEBHOOK


@dataclass(frozen=True, slots=True)
class Injected:
    """An update the emulator made for a resident and what became of it.

    ``status`` is the webhook's HTTP answer; None when the update was queued for getUpdates
    (or, with ``deliver=False``, kept back for the test to push itself).
    """

    update: dict[str, Any]
    status: int | None = None

    @property
    def update_id(self) -> int:
        """The update's id; a ``getUpdates`` offset above it confirms it."""
        return int(self.update["update_id"])

    @property
    def message(self) -> dict[str, Any]:
        """The Message object inside (for a button press, the message whose button it was)."""
        for key in ("message", "edited_message"):
            if key in self.update:
                return dict(self.update[key])
        return dict(self.update["callback_query"]["message"])


class TelegramEmulator(BotApi):
    """A fake Bot API for one bot: records what the bridge sends and speaks for residents."""

    methods: ClassVar[dict[str, str]] = BotApi.methods | {
        "getUpdates": "_get_updates",
        "setWebhook": "_set_webhook",
        "deleteWebhook": "_delete_webhook",
        "getWebhookInfo": "_get_webhook_info",
    }
    recorded_on_arrival: ClassVar[frozenset[str]] = frozenset({"getUpdates"})

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        username: str = "AytoJunBot",
        first_name: str = "Ayuntamiento de Jun",
        per_chat_per_second: int | None = None,
        per_bot_per_second: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            token=token,
            username=username,
            first_name=first_name,
            per_chat_per_second=per_chat_per_second,
            per_bot_per_second=per_bot_per_second,
            clock=clock,
        )
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.allowed_updates: list[str] = []
        self.users: dict[int, dict[str, Any]] = {}
        self.undelivered: list[dict[str, Any]] = []
        self.deliveries: list[tuple[Mapping[str, Any] | bytes, int]] = []
        self._queue: list[dict[str, Any]] = []
        self._confirmed = 0
        self._update_ids = itertools.count(100_000_001)
        self._arrived = asyncio.Condition()
        self._poll = 0
        self._closing = False

    async def start(self, *, port: int = 0) -> str:
        """Listen on 127.0.0.1 (a free port by default); returns the base URL."""
        self._closing = False
        return await super().start(port=port)

    async def stop(self) -> None:
        """Release any long poll still waiting, then stop listening."""
        self._closing = True
        async with self._arrived:
            self._arrived.notify_all()
        await super().stop()

    # -- updates to the bot: getUpdates or the webhook -------------------------------------

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        self.record("getUpdates", params)
        if "allowed_updates" in params:
            self.allowed_updates = list(params["allowed_updates"] or [])
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(int(params.get("timeout", 0)), 0)
        async with self._arrived:
            self._confirm(int(params.get("offset", 0)))
            # A newer getUpdates ends this one, as on Telegram: one poller per bot.
            self._poll += 1
            mine = self._poll
            self._arrived.notify_all()
            while True:
                if mine != self._poll:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                remaining = deadline - loop.time()
                if self._queue or self._closing or remaining <= 0:
                    return self._queue[:limit]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), remaining)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            # "-N": the last N updates; every earlier one is forgotten.
            kept = self._queue[offset:]
            offset = kept[0]["update_id"] if kept else self._confirmed
        if offset > self._confirmed:
            self._confirmed = offset
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
            self._changed.set()

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url", ""))
        if not url:
            return await self._delete_webhook(params)
        parts = urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.match(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook_url = url
        self.webhook_secret = None if secret is None else str(secret)
        self.allowed_updates = list(params.get("allowed_updates") or [])
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook_url = None
        self.webhook_secret = None
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue) + len(self.undelivered),
        }
        if self.webhook_url is not None:
            info |= {"max_connections": 40, "ip_address": "127.0.0.1"}
            if self.allowed_updates:
                info["allowed_updates"] = self.allowed_updates
        return info

    async def _deliver(self, update: dict[str, Any], deliver: bool = True) -> Injected:
        if not deliver:
            return Injected(update)
        if self.webhook_url is None:
            async with self._arrived:
                self._queue.append(update)
                self._arrived.notify_all()
            return Injected(update)
        status = await self.push(update)
        if not 200 <= status < 300:
            self.undelivered.append(update)  # Telegram would try again later
        return Injected(update, status)

    async def push(
        self,
        update: Mapping[str, Any] | bytes,
        *,
        secret_token: str | _Secret | None = WEBHOOK_SECRET,
    ) -> int:
        """POST ``update`` (or raw bytes) to the webhook as Telegram does; return the status.

        ``secret_token`` defaults to the one given to ``setWebhook``; pass another, or None to
        leave the header out, to play someone who is not Telegram.
        """
        if self.webhook_url is None:
            raise RuntimeError("no webhook is set: the bot polls with getUpdates")
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        token = self.webhook_secret if secret_token is WEBHOOK_SECRET else secret_token
        headers = {"Content-Type": "application/json"}
        if isinstance(token, str):
            headers[SECRET_HEADER] = token
        async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
            response = await client.post(self.webhook_url, content=body, headers=headers)
        self.deliveries.append((update, response.status_code))
        return response.status_code

    async def redeliver(self) -> list[int]:
        """Try the webhook again with the updates it refused; return the new statuses."""
        pending, self.undelivered = self.undelivered, []
        return [(await self._deliver(update)).status or 0 for update in pending]

    def confirmed(self, injected: Injected) -> bool:
        """Whether the bot confirmed the update with a later getUpdates offset."""
        return self._confirmed > injected.update_id

    async def wait_confirmed(
        self,
        injected: Injected,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the one bound a test needs
    ) -> None:
        """Wait until the poller confirms ``injected``: the bridge has stored it by then."""

        async def confirmation() -> None:
            while not self.confirmed(injected):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(confirmation(), timeout)

    # -- residents ----------------------------------------------------------------------------

    def user(
        self,
        id: int = DEFAULT_RESIDENT["id"],
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "es",
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """A Telegram User object; the default resident (Carmen, 1001) unless told otherwise."""
        if id == DEFAULT_RESIDENT["id"] and first_name is None:
            user = dict(DEFAULT_RESIDENT)
        else:
            user = {"id": id, "first_name": first_name or f"Vecino {id}"}
            if last_name:
                user["last_name"] = last_name
            if username:
                user["username"] = username
        user["is_bot"] = is_bot
        if language_code and not is_bot:
            user["language_code"] = language_code
        return user

    def group(
        self, id: int = -1001234567890, title: str = "Vecinos de Jun", type: str = "supergroup"
    ) -> dict[str, Any]:
        """A group or supergroup Chat object the bot is a member of."""
        return self.known_chat({"id": id, "title": title, "type": type})

    def block(self, user: Mapping[str, Any]) -> None:
        """The resident blocks the bot: sending to them answers 403 from now on."""
        self.blocked.add(int(user["id"]))

    async def resident_says(
        self,
        text: str,
        *,
        user: Mapping[str, Any] | None = None,
        chat: Mapping[str, Any] | None = None,
        language_code: str = "es",
        entities: Sequence[Mapping[str, Any]] = (),
        deliver: bool = True,
    ) -> Injected:
        """A resident writes ``text`` (privately to the bot unless ``chat`` is a group)."""
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = [dict(e) for e in entities]
        return await self._from_resident(content, user, chat, language_code, deliver)

    async def resident_command(
        self,
        command: str,
        *,
        user: Mapping[str, Any] | None = None,
        chat: Mapping[str, Any] | None = None,
        language_code: str = "es",
        deliver: bool = True,
    ) -> Injected:
        """A resident sends ``/start`` (or any command, with arguments) with its entity."""
        word = command.split(maxsplit=1)[0]
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(word)}
        return await self.resident_says(
            command,
            user=user,
            chat=chat,
            language_code=language_code,
            entities=[entity],
            deliver=deliver,
        )

    async def resident_sends_photo(
        self,
        caption: str | None = None,
        *,
        image: bytes = PHOTO_BYTES,
        user: Mapping[str, Any] | None = None,
        chat: Mapping[str, Any] | None = None,
        language_code: str = "es",
        deliver: bool = True,
    ) -> Injected:
        """A resident sends a photo; Telegram keeps a thumbnail and the full size."""
        thumbnail, full = self.add_file(image[:64]), self.add_file(image)
        content: dict[str, Any] = {
            "photo": [photo_size(thumbnail, 90, 68), photo_size(full, 1280, 960)]
        }
        if caption:
            content["caption"] = caption
        return await self._from_resident(content, user, chat, language_code, deliver)

    async def resident_sends_location(
        self,
        lat: float,
        long: float,
        *,
        user: Mapping[str, Any] | None = None,
        chat: Mapping[str, Any] | None = None,
        language_code: str = "es",
        deliver: bool = True,
    ) -> Injected:
        """A resident shares where they are."""
        content = {"location": {"latitude": lat, "longitude": long}}
        return await self._from_resident(content, user, chat, language_code, deliver)

    async def resident_edits(
        self, message: Mapping[str, Any] | Injected, new_text: str, *, deliver: bool = True
    ) -> Injected:
        """The resident edits a message they sent: an ``edited_message`` update."""
        original = message.message if isinstance(message, Injected) else dict(message)
        key = (original["chat"]["id"], original["message_id"])
        current = self.messages.get(key, original)
        field = "caption" if "photo" in current else "text"
        edited = {k: v for k, v in current.items() if k not in ("entities", "caption_entities")}
        edited[field] = new_text
        edited["edit_date"] = max(int(self.clock()), int(current["date"]) + 1)
        self.messages[key] = edited
        update = {"update_id": next(self._update_ids), "edited_message": edited}
        return await self._deliver(update, deliver)

    async def resident_presses(
        self,
        message: Mapping[str, Any] | Injected,
        callback_data: str,
        *,
        user: Mapping[str, Any] | None = None,
        deliver: bool = True,
    ) -> Injected:
        """A resident presses the button with ``callback_data`` under one of the bot's messages."""
        shown = message.message if isinstance(message, Injected) else dict(message)
        chat = shown["chat"]
        current = self.messages.get((chat["id"], shown["message_id"]), shown)
        offered = [b.get("callback_data") for b in inline_buttons(current.get("reply_markup", {}))]
        if callback_data not in offered:
            raise ValueError(f"message {shown['message_id']} has no button {callback_data!r}")
        if user is None:
            # In a private chat only its owner can press; in a group, the default resident.
            user = self.users.get(int(chat["id"])) or self.user()
        query_id = str(4_380_000_000_000_000_000 + next(self._serial))
        self._queries.add(query_id)
        query = {
            "id": query_id,
            "from": dict(user),
            "message": current,
            "chat_instance": str(-(abs(int(chat["id"])) * 1_000_003 + 7)),
            "data": callback_data,
        }
        update = {"update_id": next(self._update_ids), "callback_query": query}
        return await self._deliver(update, deliver)

    async def member_joins(
        self,
        user: Mapping[str, Any] | None = None,
        *,
        chat: Mapping[str, Any] | None = None,
        deliver: bool = True,
    ) -> Injected:
        """Someone joins a group: a service message with ``new_chat_members``."""
        joiner = dict(user) if user is not None else self.user()
        group = dict(chat) if chat is not None else self.group()
        content = {"new_chat_members": [joiner]}
        return await self._from_resident(content, joiner, group, None, deliver)

    async def _from_resident(
        self,
        content: dict[str, Any],
        user: Mapping[str, Any] | None,
        chat: Mapping[str, Any] | None,
        language_code: str | None,
        deliver: bool,
    ) -> Injected:
        sender = dict(user) if user is not None else self.user(language_code=language_code)
        sender.setdefault("is_bot", False)
        if language_code and not sender["is_bot"]:
            sender.setdefault("language_code", language_code)
        if chat is None:
            chat = {"id": sender["id"], "type": "private", "first_name": sender["first_name"]}
            chat |= {k: sender[k] for k in ("last_name", "username") if k in sender}
        self.users.setdefault(int(sender["id"]), sender)
        message = self.new_message(self.known_chat(dict(chat)), sender, content)
        update = {"update_id": next(self._update_ids), "message": message}
        return await self._deliver(update, deliver)
