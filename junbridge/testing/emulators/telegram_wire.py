"""The Bot API's wire format, as the Telegram emulator reads and checks it.

Requests are form-encoded or multipart (JSON bodies and query strings work too): string
fields arrive raw and structured ones as JSON (platforms.md §1.1), so only the known
structured fields are decoded. Text in HTML parse mode is parsed into plain text and
entities as Telegram does, and refused the way Telegram refuses it.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

# Fields whose value is JSON on the wire; every other string field is taken as it is.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "media",
        "commands",
        "scope",
    }
)
INT_FIELDS = frozenset(
    {"offset", "limit", "timeout", "message_id", "cache_time", "max_connections"}
    | {"message_thread_id", "reply_to_message_id"}
)
BOOL_FIELDS = frozenset(
    {"drop_pending_updates", "show_alert", "disable_notification", "protect_content"}
    | {"allow_sending_without_reply", "show_caption_above_media", "has_spoiler"}
)
# HTML parse mode: the tags Telegram knows and the entity each one makes.
HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
NUMERIC_ID = re.compile(r"^-?\d+$")


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code", "description", "parameters"?}``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        """The HTTP answer Telegram gives for this error."""
        return JSONResponse(error_body(self.code, self.description, self.retry_after), self.code)


def error_body(code: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    """A Bot API error body, e.g. for ``fail_next(..., body=error_body(429, ..., 1))``."""
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def bad_request(description: str) -> ApiError:
    """A 400 with Telegram's ``Bad Request:`` prefix."""
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str
    content: bytes
    content_type: str


async def read_params(request: Request) -> dict[str, Any]:
    """The call's parameters from the query string and the body, decoded field by field."""
    raw: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if content_type.startswith("application/json") and body:
        try:
            data = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise bad_request("JSON body is not an object")
        raw.update(data)
    elif content_type.startswith("application/x-www-form-urlencoded"):
        raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif content_type.startswith("multipart/form-data"):
        raw.update(read_multipart(content_type, body))
    return {name: _decode(name, value) for name, value in raw.items()}


def read_multipart(content_type: str, body: bytes) -> dict[str, str | Upload]:
    """Fields and files of a ``multipart/form-data`` body (the standard library reads it)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    document = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str | Upload] = {}
    for part in document.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise bad_request("multipart field without a name")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            fields[name] = Upload(filename, content, part.get_content_type())
        else:
            fields[name] = content.decode(part.get_content_charset() or "utf-8")
    return fields


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if name in JSON_FIELDS:
            return json.loads(value)
        if name in INT_FIELDS:
            return int(value)
    except ValueError:
        raise bad_request(f"can't parse {name}") from None
    if name in BOOL_FIELDS:
        return value.lower() in ("true", "1")
    if name in ("chat_id", "user_id") and NUMERIC_ID.match(value):
        return int(value)
    return value


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: Telegram's unit for limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


class _Entities(HTMLParser):
    """Telegram's HTML parse mode: plain text and entities, or the error Telegram gives."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.at = 0
        self.tags: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise bad_request("can't parse entities: Can't find URL in the link")
        self.tags.append((tag, self.at, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')

    def handle_endtag(self, tag: str) -> None:
        if not self.tags or self.tags[-1][0] != tag:
            raise bad_request(f'can\'t parse entities: Unmatched end tag "{tag}"')
        name, start, attrs = self.tags.pop()
        if self.at == start:
            return
        entity: dict[str, Any] = {
            "type": HTML_TAGS[name],
            "offset": start,
            "length": self.at - start,
        }
        if name == "a":
            entity["url"] = attrs["href"]
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.at += utf16_len(data)

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        self.close()
        if self.tags:
            tag = self.tags[-1][0]
            raise bad_request(
                f"can't parse entities: Can't find end tag corresponding to start tag \"{tag}\""
            )
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


def formatted(text: Any, parse_mode: Any, entities: Any = None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of a message's text or caption, as Telegram stores them."""
    if not isinstance(text, str):
        raise bad_request("message text is empty")
    if parse_mode is None or parse_mode == "":
        return text, list(entities or [])
    if not isinstance(parse_mode, str) or parse_mode.lower() not in (
        "html",
        "markdown",
        "markdownv2",
    ):
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    if parse_mode.lower() != "html":
        # Markdown is not parsed here: its characters count, which only makes limits stricter.
        return text, []
    parser = _Entities()
    parser.feed(text)
    return parser.result()


def inline_buttons(markup: Any) -> list[dict[str, Any]]:
    """The buttons of a ``reply_markup``, checked as Telegram checks inline keyboards."""
    if not isinstance(markup, Mapping):
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return []  # a reply keyboard, a removal or a force-reply: nothing to press here
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('can\'t parse inline keyboard: field "inline_keyboard" must be an Array')
    buttons = [button for row in rows for button in row]
    for button in buttons:
        if not isinstance(button, Mapping) or not button.get("text"):
            raise bad_request("can't parse inline keyboard button: Text must be non-empty")
        data = button.get("callback_data")
        if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
            raise bad_request("BUTTON_DATA_INVALID")
        if not ({"callback_data", "url", "web_app", "switch_inline_query"} & set(button)):
            raise bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
    return buttons
