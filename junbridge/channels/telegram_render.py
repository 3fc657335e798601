"""Telegram replies as Bot API ``sendMessage``/``sendPhoto`` parameters in HTML parse mode.

Residents' text is HTML-escaped; ``Reply.choices`` become an inline keyboard; text longer than
Telegram allows is sent as several messages, a photo's caption holding what fits.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from junbridge.markup import Break, RenderError, Text, Token, destination, parse, split
from junbridge.media import shown_name
from junbridge.model import Choice, Reply

# Bot API limits: characters "after entities parsing"; we hold the HTML itself to them, in
# UTF-16 code units as Telegram counts, so that a message can never be refused for length.
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def render_html(tokens: Sequence[Token]) -> str:
    """Telegram HTML for ``tokens``: ``<b>``, ``<a href>``, user text escaped."""
    out: list[str] = []
    bold = False
    for token in tokens:
        if isinstance(token, Break):
            out.append("\n")
            continue
        if token.bold != bold:
            out.append("<b>" if token.bold else "</b>")
            bold = token.bold
        if isinstance(token, Text):
            out.append(html.escape(token.text, quote=False))
        else:
            href = html.escape(token.url, quote=True)
            out.append(f'<a href="{href}">{html.escape(token.label, quote=False)}</a>')
    if bold:
        out.append("</b>")
    return "".join(out)


def _html_length(tokens: Sequence[Token]) -> int:
    return utf16_len(render_html(tokens))


def inline_keyboard(choices: Sequence[Choice]) -> dict[str, Any]:
    """``reply_markup`` with one button per row; raises if a value exceeds 64 bytes."""
    rows = []
    for choice in choices:
        size = len(choice.value.encode("utf-8"))
        if size > CALLBACK_DATA_LIMIT:
            raise RenderError(
                f"choice {choice.label!r}: value {choice.value!r} is {size} bytes; Telegram "
                f"callback_data allows {CALLBACK_DATA_LIMIT}"
            )
        rows.append([{"text": choice.label, "callback_data": choice.value}])
    return {"inline_keyboard": rows}


def render(reply: Reply) -> list[dict[str, Any]]:
    """Bot API parameters, one dict per message: ``sendPhoto`` first if there is a photo.

    A dict with a ``photo`` key is for ``sendPhoto``, any other for ``sendMessage``. The
    keyboard goes on the last message, under the text that asks.
    """
    chat_id, thread = destination(reply)
    tokens = parse(reply.text)
    measure: Callable[[Sequence[Token]], int] = _html_length
    messages: list[dict[str, Any]] = []
    if reply.photo is not None:
        parts = split(tokens, MESSAGE_LIMIT, measure, first_limit=CAPTION_LIMIT) or [()]
        photo: dict[str, Any] = {
            "chat_id": chat_id,
            "photo": reply.photo.url or reply.photo.platform_ref,
        }
        if parts[0]:
            photo |= {"caption": render_html(parts[0]), "parse_mode": "HTML"}
        messages.append(photo)
        parts = parts[1:]
    else:
        parts = split(tokens, MESSAGE_LIMIT, measure)
        if not parts:
            raise RenderError("a Telegram message needs text or a photo")
    messages += [
        {"chat_id": chat_id, "text": render_html(part), "parse_mode": "HTML"} for part in parts
    ]
    if thread is not None:
        if not thread.lstrip("-").isdigit():
            raise RenderError(f"Reply.thread {thread!r} is not a Telegram message id")
        # Only the first message answers the resident's; the rest follow it in the chat.
        messages[0]["reply_parameters"] = {
            "message_id": int(thread),
            "allow_sending_without_reply": True,
        }
    if reply.choices:
        messages[-1]["reply_markup"] = inline_keyboard(reply.choices)
    return messages


def preview(reply: Reply) -> list[str]:
    """The HTML of each message, a photo as ``[photo NAME]``, buttons as ``[ label ]``."""
    shown = []
    for message in render(reply):
        text = message.get("text", message.get("caption", ""))
        if "photo" in message and reply.photo is not None:
            text = f"[photo {shown_name(reply.photo)}]\n{text}".rstrip()
        keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
        buttons = [" ".join(f"[ {b['text']} ]" for b in row) for row in keyboard]
        shown.append("\n".join([text, *buttons]) if buttons else text)
    return shown
