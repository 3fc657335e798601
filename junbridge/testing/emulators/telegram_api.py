"""The bot's side of the emulated Telegram Bot API: what a bot calls to speak and to look.

``POST /bot{token}/{method}`` answers as api.telegram.org does: ``{"ok": true, "result"}``
or an error with its HTTP status (401 for an unknown token). ``GET /file/bot{token}/{path}``
serves files. Limits are Telegram's: 4096 characters of text after entity parsing, 1024 of
caption, 64 bytes of callback data, unknown chats and blocked users refused; Telegram's rate
limits (429 with ``retry_after``) can be switched on: per chat (``per_chat_per_second``) and
per bot, across all chats (``per_bot_per_second``: 30 on Telegram). How updates reach the
bot (getUpdates, webhooks) is in :mod:`junbridge.testing.emulators.telegram`.
"""

from __future__ import annotations

import hmac
import itertools
import math
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from junbridge.testing.emulators.base import Emulator
from junbridge.testing.emulators.telegram_wire import (
    ApiError,
    Upload,
    bad_request,
    formatted,
    inline_buttons,
    read_params,
    utf16_len,
)

DEFAULT_TOKEN = "7000000001:AAEmulatedTokenForJunbridgeTests_01"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
Handler = Callable[[dict[str, Any]], Awaitable[Any]]


@dataclass(slots=True)
class StoredFile:
    """A file Telegram keeps: its ids, where it downloads from, its bytes."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


class BotApi(Emulator):
    """The Bot API methods a bot sends with; subclasses add how updates are delivered."""

    name: ClassVar[str] = "telegram"
    # Bot API method -> the handler attribute; subclasses extend it.
    methods: ClassVar[dict[str, str]] = {
        "getMe": "_get_me",
        "sendMessage": "_send_message",
        "sendPhoto": "_send_photo",
        "sendChatAction": "_send_chat_action",
        "editMessageText": "_edit_message_text",
        "answerCallbackQuery": "_answer_callback_query",
        "getFile": "_get_file",
    }
    # Methods whose handler records the call itself, on arrival (a long poll lasts).
    recorded_on_arrival: ClassVar[frozenset[str]] = frozenset()

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
        super().__init__()
        self.token = token
        self.bot: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.per_chat_per_second = per_chat_per_second
        self.per_bot_per_second = per_bot_per_second
        self.clock = clock
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.bot_messages: list[dict[str, Any]] = []
        self.files: dict[str, StoredFile] = {}
        self.answered: dict[str, dict[str, Any]] = {}
        self._queries: set[str] = set()
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        self._serial = itertools.count(1)
        self._sent_at: defaultdict[int, deque[float]] = defaultdict(deque)
        self._bot_sent_at: deque[float] = deque()

    def routes(self) -> Sequence[BaseRoute]:
        """``/bot{token}/{method}`` and ``/file/bot{token}/{path}``, as api.telegram.org."""
        return [
            Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", self._download, methods=["GET"]),
        ]

    @property
    def api_url(self) -> str:
        """What ``channels.telegram.api_url`` should be: the SDK appends the token."""
        return f"{self.url}/bot"

    async def _api(self, request: Request) -> Response:
        if not hmac.compare_digest(request.path_params["token"], self.token):
            return ApiError(401, "Unauthorized").response()
        # Method names are case-insensitive on Telegram's side.
        wanted = request.path_params["method"].lower()
        method = next((m for m in self.methods if m.lower() == wanted), None)
        if method is None:
            return ApiError(404, "Not Found").response()
        handler: Handler = getattr(self, self.methods[method])
        try:
            params = await read_params(request)
        except ApiError as error:
            self.record(method, {}, error.code)
            return error.response()
        failure = self.take_failure(method)
        if failure is not None:
            self.record(method, params, failure.status)
            return JSONResponse(dict(failure.body), failure.status, dict(failure.headers))
        try:
            result = await handler(params)
        except ApiError as error:
            self.record(method, params, error.code)
            return error.response()
        if method not in self.recorded_on_arrival:
            self.record(method, params)
        return JSONResponse({"ok": True, "result": result})

    async def _download(self, request: Request) -> Response:
        path = request.path_params["file_path"]
        found = next((f for f in self.files.values() if f.file_path == path), None)
        if not hmac.compare_digest(request.path_params["token"], self.token) or found is None:
            return ApiError(404, "Not Found").response()
        self.record("downloadFile", {"file_path": path})
        return Response(found.content, media_type="image/jpeg")

    # -- the methods ------------------------------------------------------------------------

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_to_write(params.get("chat_id"))
        text, entities = formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise bad_request("message is too long")
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._bot_message(chat, content, params)

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_to_write(params.get("chat_id"))
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        if isinstance(photo, Upload):
            stored = self.add_file(photo.content)
        elif isinstance(photo, str) and photo in self.files:
            stored = self.files[photo]
        elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
            stored = self.add_file(b"")  # Telegram would fetch the URL; the emulator does not
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        content: dict[str, Any] = {"photo": [photo_size(stored, 1280, 960)]}
        if params.get("caption"):
            caption, entities = formatted(params["caption"], params.get("parse_mode"))
            if utf16_len(caption) > CAPTION_LIMIT:
                raise bad_request("message caption is too long")
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._bot_message(chat, content, params)

    async def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._chat_to_write(params.get("chat_id"), counts=False)
        return True

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id", 0)))
        old = self.messages.get(key)
        if old is None:
            raise bad_request("message to edit not found")
        if old["from"]["id"] != self.bot["id"]:
            raise bad_request("message can't be edited")
        text, entities = formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        if utf16_len(text) > TEXT_LIMIT:
            raise bad_request("message is too long")
        markup = params.get("reply_markup")
        if markup is not None:
            inline_buttons(markup)
        if text == old.get("text") and markup == old.get("reply_markup"):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        edited = {k: v for k, v in old.items() if k not in ("entities", "reply_markup")}
        edited |= {"text": text, "edit_date": int(self.clock())}
        if entities:
            edited["entities"] = entities
        if markup is not None:
            edited["reply_markup"] = markup
        self.messages[key] = edited
        return edited

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._queries or query_id in self.answered:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text", ""))) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.answered[query_id] = params
        return True

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    # -- chats, messages, files -------------------------------------------------------------

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _chat_to_write(self, chat_id: Any, *, counts: bool = True) -> dict[str, Any]:
        chat = self._chat(chat_id)
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if counts:
            self._check_rate(chat["id"])
        return chat

    def _check_rate(self, chat_id: int) -> None:
        """429 past either limit in the last second; a message refused counts for neither."""
        now = time.monotonic()
        windows = [(self._sent_at[chat_id], self.per_chat_per_second)]
        windows.append((self._bot_sent_at, self.per_bot_per_second))
        for window, limit in windows:
            while window and window[0] <= now - 1:
                window.popleft()
            if limit is not None and len(window) >= limit:
                wait = max(1, math.ceil(window[0] + 1 - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        for window, _limit in windows:
            window.append(now)

    def _bot_message(
        self, chat: dict[str, Any], content: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        markup = params.get("reply_markup")
        if markup is not None:
            inline_buttons(markup)
            content["reply_markup"] = markup
        replied = params.get("reply_parameters") or {}
        if "reply_to_message_id" in params:
            replied = {"message_id": params["reply_to_message_id"]}
        if replied:
            original = self.messages.get((chat["id"], int(replied.get("message_id", 0))))
            if original is not None:
                content["reply_to_message"] = original
            elif not replied.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
        message = self.new_message(chat, self.bot, content)
        self.bot_messages.append(message)
        return message

    def last_bot_message(self, chat_id: int | None = None) -> dict[str, Any]:
        """The newest message the bot sent (to ``chat_id``), as it stands now."""
        for sent in reversed(self.bot_messages):
            if chat_id is None or sent["chat"]["id"] == chat_id:
                return self.messages[(sent["chat"]["id"], sent["message_id"])]
        raise LookupError(f"the bot sent nothing to chat {chat_id}")

    def known_chat(self, chat: dict[str, Any]) -> dict[str, Any]:
        """Remember a chat the bot is in (a private chat once its user wrote)."""
        self.chats.setdefault(int(chat["id"]), chat)
        return chat

    def new_message(
        self, chat: dict[str, Any], sender: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        """A Message object with the chat's next id, kept for edits and button presses."""
        # Message ids count per chat, as in private chats and supergroups.
        message_id = next(self._message_ids[int(chat["id"])])
        message = {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": int(self.clock()),
            **content,
        }
        self.messages[(int(chat["id"]), message_id)] = message
        return message

    def add_file(self, content: bytes, *, folder: str = "photos") -> StoredFile:
        """Keep a file as Telegram would and give it an id and a download path."""
        n = next(self._serial)
        stored = StoredFile(
            file_id=f"AgACAgQAAxkBAAIB{n:06d}EmulatedFileId",
            file_unique_id=f"AQAD{n:06d}",
            file_path=f"{folder}/file_{n}.jpg",
            content=content,
        )
        self.files[stored.file_id] = stored
        return stored


def photo_size(stored: StoredFile, width: int, height: int) -> dict[str, Any]:
    """A PhotoSize object for a stored file."""
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "width": width,
        "height": height,
    }
