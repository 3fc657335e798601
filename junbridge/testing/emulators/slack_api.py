"""The Slack workspace an emulator plays, and the Web API methods the bridge calls on it.

Each method takes the call's arguments and returns the fields of an ``ok: true`` answer, or
raises :class:`Refused` for Slack's ``{"ok": false, "error": ...}`` (HTTP 200). Limits are
Slack's documented ones: 40,000 characters of text, 50 blocks, 3,000 characters per section.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from junbridge.testing.emulators.slack_payloads import Identity

TEXT_LIMIT = 40_000
BLOCKS_LIMIT = 50
SECTION_LIMIT = 3_000
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2_000
ACTIONS_LIMIT = 25
Method = Callable[[dict[str, Any]], dict[str, Any]]


class Refused(Exception):
    """A Web API error answered as ``{"ok": false, "error": ...}`` with HTTP 200."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class SlackWorkspace:
    """Members, channels, messages and files of one workspace, changed by Web API calls."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, str] = {}  # id -> name
        # Every message, residents' and the bot's: channel -> ts -> message.
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        # Set by the emulator once it listens: where uploads and Socket Mode connect.
        self.base_url = ""
        self.socket_url = ""
        self.tickets: set[str] = set()
        self._last_ts = 0.0

    def methods(self) -> dict[str, Method]:
        """The Web API methods by name."""
        return {
            "auth.test": self.auth_test,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "conversations.open": self.conversations_open,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "files.getUploadURLExternal": self.upload_url,
            "files.completeUploadExternal": self.complete_upload,
            "apps.connections.open": self.connections_open,
        }

    # -- members, channels, messages ------------------------------------------------------

    def add_user(self, user_id: str, *, name: str, real_name: str, locale: str = "es-ES") -> None:
        """A member the workspace knows (``users.info``, ``users.list``, DMs)."""
        self.users[user_id] = dict(id=user_id, name=name, real_name=real_name, locale=locale)

    def add_channel(self, channel_id: str, name: str) -> None:
        """A channel the bot is in."""
        self.channels[channel_id] = name
        self.messages.setdefault(channel_id, {})

    def dm(self, user: str) -> str:
        """The DM channel between ``user`` and the bot: ``D`` and the user's id."""
        channel = "D" + user[1:]
        self.messages.setdefault(channel, {})
        return channel

    def next_ts(self) -> str:
        """A new message timestamp: now, and always after the previous one."""
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def find(self, ts: str) -> dict[str, Any]:
        """The message ``ts`` in whichever channel holds it."""
        for messages in self.messages.values():
            if ts in messages:
                return messages[ts]
        raise LookupError(f"the emulator knows no message {ts}")

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The bot's messages as they stand now (after any ``chat.update``), oldest first."""
        found = [
            message
            for name, messages in self.messages.items()
            if channel in (None, name)
            for message in messages.values()
            if message.get("bot_id") == self.identity.bot_id
        ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def _channel(self, channel: Any) -> str:
        """A channel the bot may post in; a member's id means the DM with them, as on Slack."""
        if isinstance(channel, str) and channel[:1] in ("U", "W") and channel in self.users:
            return self.dm(channel)
        if not isinstance(channel, str) or channel not in self.messages:
            raise Refused("channel_not_found")
        return channel

    def _bot_message(self, channel: str, **fields: Any) -> dict[str, Any]:
        ws = self.identity
        message = {"type": "message", "user": ws.bot_user_id, "bot_id": ws.bot_id, **fields}
        message.update(app_id=ws.app_id, team=ws.team_id, ts=self.next_ts(), channel=channel)
        self.messages[channel][message["ts"]] = message
        return message

    # -- methods --------------------------------------------------------------------------

    def auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        """Who the token belongs to: our bot, never one of the residents."""
        ws = self.identity
        return {
            "url": f"https://{ws.domain}.slack.com/",
            "team": "Ayuntamiento de Jun",
            "user": "junbridge",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    def post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        """``chat.postMessage``: text and blocks, in a thread when ``thread_ts`` is given."""
        channel = self._channel(params.get("channel"))
        text = str(params.get("text") or "")
        blocks = checked_blocks(params.get("blocks"))
        if not text and not blocks:
            raise Refused("no_text")
        if len(text) > TEXT_LIMIT:
            raise Refused("msg_too_long")
        fields: dict[str, Any] = {"text": text}
        if blocks:
            fields["blocks"] = blocks
        if params.get("thread_ts"):
            fields["thread_ts"] = str(params["thread_ts"])
        message = self._bot_message(channel, **fields)
        return {"channel": channel, "ts": message["ts"], "message": _shown(message)}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        """``chat.update`` of one of the bot's own messages."""
        channel = self._channel(params.get("channel"))
        message = self.messages[channel].get(str(params.get("ts")))
        if message is None:
            raise Refused("message_not_found")
        if message.get("bot_id") != self.identity.bot_id:
            raise Refused("cant_update_message")
        blocks = checked_blocks(params.get("blocks"))
        text = str(params.get("text") or message.get("text", ""))
        if len(text) > TEXT_LIMIT:
            raise Refused("msg_too_long")
        message["text"] = text
        if blocks:
            message["blocks"] = blocks
        message["edited"] = {"user": self.identity.bot_user_id, "ts": self.next_ts()}
        return {"channel": channel, "ts": message["ts"], "text": text, "message": _shown(message)}

    def users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        """``users.info``; the ``locale`` only with ``include_locale``, as on Slack."""
        user = self.users.get(str(params.get("user")))
        if user is None:
            raise Refused("user_not_found")
        return {"user": self._member(user, locale=_flag(params.get("include_locale")))}

    def users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """``users.list``: the members in pages of ``limit`` (all at once without one), the
        next page's ``cursor`` in ``response_metadata.next_cursor`` (empty after the last);
        the ``locale`` only with ``include_locale``, as on Slack."""
        ids = sorted(self.users)
        cursor = str(params.get("cursor") or "")
        if cursor and cursor not in self.users:
            raise Refused("invalid_cursor")
        start = ids.index(cursor) if cursor else 0
        # Without a limit Slack tries to give every member at once.
        limit = _limit(params) if params.get("limit") else len(ids)
        page = ids[start : start + limit]
        rest = ids[start + limit : start + limit + 1]
        locale = _flag(params.get("include_locale"))
        return {
            "members": [self._member(self.users[i], locale=locale) for i in page],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": rest[0] if rest else ""},
        }

    def _member(self, user: Mapping[str, Any], *, locale: bool) -> dict[str, Any]:
        """A member as users.info and users.list show them."""
        info: dict[str, Any] = {
            "id": user["id"],
            "team_id": self.identity.team_id,
            "name": user["name"],
            "deleted": False,
            "real_name": user["real_name"],
            "tz": "Europe/Madrid",
            "tz_label": "Central European Summer Time",
            "tz_offset": 7200,
            "profile": {
                "real_name": user["real_name"],
                "display_name": user["real_name"].split()[0],
                "team": self.identity.team_id,
            },
            "is_bot": False,
            "is_app_user": False,
        }
        if locale:
            info["locale"] = user["locale"]
        return info

    def conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """``conversations.open`` of a one-to-one DM with a member."""
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise Refused("users_list_not_supplied")
        if len(users) > 1:
            raise Refused("not_supported", detail="the emulator opens one-to-one DMs only")
        if users[0] not in self.users:
            raise Refused("user_not_found")
        return {"channel": {"id": self.dm(users[0])}}

    def conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """``conversations.history``: a channel's messages, newest first, without the replies
        in threads (those are ``conversations.replies``'), between ``oldest`` and ``latest``
        (exclusive unless ``inclusive``), at most ``limit`` (Slack's default 100)."""
        channel = self._channel(params.get("channel"))
        messages = [
            m
            for m in self.messages[channel].values()
            if m.get("thread_ts") in (None, m["ts"]) and _within(m["ts"], params)
        ]
        messages.sort(key=lambda m: float(m["ts"]), reverse=True)
        return {"messages": [_shown(m) for m in messages[: _limit(params)]], "has_more": False}

    def conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """``conversations.replies``: a thread, its parent first, then its replies oldest
        first, between ``oldest`` and ``latest`` (the parent is always included, as on
        Slack), at most ``limit``."""
        channel = self._channel(params.get("channel"))
        parent = self.messages[channel].get(str(params.get("ts")))
        if parent is None:
            raise Refused("thread_not_found")
        thread = parent.get("thread_ts") or parent["ts"]
        replies = [
            m
            for m in self.messages[channel].values()
            if m.get("thread_ts") == thread and m["ts"] != thread and _within(m["ts"], params)
        ]
        replies.sort(key=lambda m: float(m["ts"]))
        found = [self.messages[channel][thread], *replies][: _limit(params)]
        return {"messages": [_shown(m) for m in found], "has_more": False}

    def upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        """``files.getUploadURLExternal``: step 1 of ``files_upload_v2``."""
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            raise Refused("invalid_arguments")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.files[file_id] = dict(id=file_id, name=params["filename"], length=params["length"])
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """``files.completeUploadExternal``: step 3, sharing uploaded files in a channel."""
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise Refused("invalid_arguments")
        channel = self._channel(params["channel_id"]) if params.get("channel_id") else None
        done = []
        for entry in entries:
            file = self.files.get(str(entry.get("id")))
            if file is None or file["id"] not in self.uploads:
                raise Refused("file_not_found")
            file.update(title=entry.get("title") or file["name"], channel=channel)
            done.append({k: v for k, v in file.items() if k != "length"})
        if channel is not None:
            fields = {"subtype": "file_share", "text": params.get("initial_comment") or ""}
            if params.get("thread_ts"):
                fields["thread_ts"] = str(params["thread_ts"])
            self._bot_message(channel, files=done, **fields)
        return {"files": done}

    def connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """``apps.connections.open``: a one-time WebSocket URL for Socket Mode."""
        ticket = uuid.uuid4().hex
        self.tickets.add(ticket)
        return {"url": f"{self.socket_url}?ticket={ticket}&app_id={self.identity.app_id}"}


async def call_params(request: Request) -> dict[str, Any]:
    """A call's arguments from the query, a JSON body or a form (JSON-valued fields decoded)."""
    params: dict[str, Any] = dict(request.query_params)
    if "application/json" in request.headers.get("content-type", ""):
        params.update(await request.json())
    elif request.method == "POST":
        # Parsed here: Starlette's request.form() needs python-multipart, Slack needs no more.
        params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    for key in ("blocks", "files", "attachments"):
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                raise Refused("invalid_arguments") from None
    return params


def checked_blocks(blocks: Any) -> list[dict[str, Any]]:
    """``blocks`` as Slack keeps them (block ids added), or ``invalid_blocks`` with reasons."""
    if blocks is None:
        return []
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise Refused("invalid_blocks", errors=["blocks must be an array of objects"])
    problems: list[str] = []
    if len(blocks) > BLOCKS_LIMIT:
        problems.append(f"no more than {BLOCKS_LIMIT} items allowed [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{index}"
        if not block.get("type"):
            problems.append(f"missing required field: type {where}]")
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and len(text) > SECTION_LIMIT:
            problems.append(f"must be less than {SECTION_LIMIT + 1} characters {where}/text/text]")
        elements = block.get("elements") or []
        if block.get("type") == "actions" and len(elements) > ACTIONS_LIMIT:
            problems.append(f"must be less than {ACTIONS_LIMIT + 1} items {where}/elements]")
        for number, element in enumerate(elements):
            if element.get("type") != "button":
                continue
            if len((element.get("text") or {}).get("text", "")) > BUTTON_TEXT_LIMIT:
                problems.append(f"button text too long {where}/elements/{number}/text]")
            if len(element.get("value", "")) > BUTTON_VALUE_LIMIT:
                problems.append(f"button value too long {where}/elements/{number}/value]")
    if problems:
        raise Refused("invalid_blocks", errors=problems)
    return [{"block_id": uuid.uuid4().hex[:5], **block} for block in blocks]


def _shown(message: Mapping[str, Any]) -> dict[str, Any]:
    """A stored message as the Web API returns it (the channel is beside it, not in it)."""
    return {k: v for k, v in message.items() if k != "channel"}


def _within(ts: str, params: Mapping[str, Any]) -> bool:
    """Whether message ``ts`` is between ``oldest`` and ``latest`` as Slack reads them."""
    inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
    moment = float(ts)
    if params.get("oldest") is not None:
        oldest = float(params["oldest"])
        if moment < oldest or (moment == oldest and not inclusive):
            return False
    if params.get("latest") is not None:
        latest = float(params["latest"])
        if moment > latest or (moment == latest and not inclusive):
            return False
    return True


def _limit(params: Mapping[str, Any]) -> int:
    try:
        return max(1, min(1000, int(params.get("limit", 100))))
    except (TypeError, ValueError):
        raise Refused("invalid_limit") from None


def _flag(value: Any) -> bool:
    """A Web API boolean argument: ``true`` or ``1`` (form or JSON)."""
    return str(value).lower() in ("1", "true")
