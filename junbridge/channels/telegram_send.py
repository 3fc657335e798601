"""Sending a Reply through python-telegram-bot, and what each Bot API error means for it.

The outbox decides when to try again from the :class:`DeliveryError` raised here: a 429
carries Telegram's ``retry_after``; a blocked bot, a bad request or an unrenderable reply is
permanent; anything else (network, 5xx, a refused token) is worth another try later.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardMarkup, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from junbridge.channels.base import DeliveryError, parts_sent
from junbridge.channels.telegram_render import render
from junbridge.markup import RenderError
from junbridge.media import local_path
from junbridge.model import Attachment, Reply

# Later parts of a long reply wait out a 429 here instead of resending the parts already sent.
PART_RETRIES = 3


async def send_reply(
    bot: ExtBot[Any],
    reply: Reply,
    *,
    redact: Callable[[str], str] = str,
    already: Sequence[str] = (),
) -> list[str]:
    """Send ``reply`` as one or more messages; ``chat_id:message_id`` of each one sent.

    ``redact`` cleans error texts (of the bot token) before they reach the outbox;
    ``already``: parts an earlier try delivered, which are not sent again.
    """
    try:
        calls = render(reply)
    except RenderError as exc:
        raise DeliveryError(f"cannot render for Telegram: {exc}", permanent=True) from exc
    sent: list[str] = list(already)
    for params in calls[len(sent) :]:
        tries = PART_RETRIES if sent else 1
        for attempt in range(1, tries + 1):
            try:
                message = await _call(bot, params)
                break
            except RetryAfter as exc:
                if attempt == tries:
                    raise delivery_error(exc, redact, sent, len(calls)) from exc
                await asyncio.sleep(retry_seconds(exc))
            except TelegramError as exc:
                raise delivery_error(exc, redact, sent, len(calls)) from exc
        sent.append(f"{message.chat.id}:{message.message_id}")
        if len(sent) < len(calls):
            await parts_sent(sent)
    return sent


async def _call(bot: ExtBot[Any], params: Mapping[str, Any]) -> Any:
    chat_id = params["chat_id"]
    options: dict[str, Any] = {
        "chat_id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id,
        "parse_mode": params.get("parse_mode"),
    }
    if "reply_markup" in params:
        options["reply_markup"] = InlineKeyboardMarkup.de_json(params["reply_markup"], bot)
    if "reply_parameters" in params:
        options["reply_parameters"] = ReplyParameters.de_json(params["reply_parameters"], bot)
    if "photo" not in params:
        return await bot.send_message(text=params["text"], **options)
    photo = str(params["photo"])
    kept = local_path(Attachment(platform_ref="", url=photo)) if photo.startswith("file:") else None
    if kept is not None:
        # A photo the bridge fetched and keeps (e.g. a staff photo from Slack): upload it.
        if not kept.is_file():
            raise BadRequest(f"the kept photo {kept.name} is missing")
        return await bot.send_photo(
            photo=kept.read_bytes(), filename=kept.name, caption=params.get("caption"), **options
        )
    if _is_local_path(photo):
        raise BadRequest(f"photo {photo!r} is neither a URL nor a Telegram file_id")
    return await bot.send_photo(photo=photo, caption=params.get("caption"), **options)


def delivery_error(
    exc: TelegramError,
    redact: Callable[[str], str] = str,
    sent: list[str] | None = None,
    total: int = 1,
) -> DeliveryError:
    """What a Bot API error means for the outbox: when to retry, or never."""
    what = redact(str(exc))
    if sent:
        what += f" (after {len(sent)} of {total} messages were sent)"
    if isinstance(exc, RetryAfter):
        return DeliveryError(
            f"Telegram flood control: {what}", retry_after=retry_seconds(exc), sent=sent or ()
        )
    if isinstance(exc, Forbidden):
        return DeliveryError(f"the resident blocked the bot or left: {what}", permanent=True)
    if isinstance(exc, ChatMigrated):
        return DeliveryError(
            f"the group is now supergroup {exc.new_chat_id}: {what}", permanent=True
        )
    if isinstance(exc, BadRequest):
        return DeliveryError(f"Telegram refused the message: {what}", permanent=True)
    if isinstance(exc, InvalidToken):
        # Not permanent: the replies wait for an admin to fix the token, then go out.
        return DeliveryError(f"Telegram refused the bot token: {what}", sent=sent or ())
    return DeliveryError(f"Telegram unreachable: {what}", sent=sent or ())


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds to wait after a 429, whether the SDK gives an int or (later) a timedelta."""
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_local_path(photo: str) -> bool:
    # Given a string naming a local file the SDK uploads that file; replies send only URLs
    # and Telegram file ids, so a reference that happens to be a path must not leak a file.
    return not photo.startswith(("http://", "https://")) and Path(photo).exists()
