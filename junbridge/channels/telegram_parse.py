"""Telegram updates as junbridge Messages: what a resident wrote, sent, edited or pressed.

python-telegram-bot reads the JSON (``Update.de_json``), so a payload is held to the Bot API
schema the SDK implements; this module only decides what each update means to the town hall.
Joins, leaves and other service messages, bots (ourselves included) and channel posts are
ignored: ``None``. Voice notes, audio, videos and documents become files (``VOICE``,
``VIDEO``, ``FILE``); a sticker is a ``STICKER`` with nothing attached: the desk tells the
resident what it can take.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import telegram
from telegram import Bot, CallbackQuery, MessageEntity, Update, User
from telegram.constants import BOT_API_VERSION

from junbridge.channels.base import InvalidPayload
from junbridge.model import Attachment, Location, Message, MessageKind, Sender
from junbridge.text import storable

CHANNEL = "telegram"
# The updates junbridge asks Telegram for; it sends no others (setWebhook, getUpdates).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
# A voice note's format when Telegram does not say (it is always Opus in Ogg).
OGG = "audio/ogg"


def read_update(payload: Mapping[str, Any], bot: Bot | None = None) -> Update:
    """The SDK's reading of a webhook or getUpdates payload; InvalidPayload if it is none."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload(f"a Telegram update is a JSON object, not {type(payload).__name__}")
    update_id = payload.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise InvalidPayload("not a Telegram update: no integer update_id")
    try:
        return Update.de_json(dict(payload), bot)
    # Whatever the SDK trips on (a missing field, a string where an object goes) means the
    # payload is not an update of the Bot API it implements: a 400 for the sender, not a crash.
    except Exception as exc:
        raise InvalidPayload(
            f"Telegram update {update_id} does not fit Bot API {BOT_API_VERSION} "
            f"(python-telegram-bot {telegram.__version__}): {type(exc).__name__}: {exc}"
        ) from exc


def parse_update(payload: Mapping[str, Any], bot: Bot | None = None) -> Message | None:
    """A Message for a resident's update, None for one to ignore; InvalidPayload if malformed."""
    return message_from(read_update(payload, bot), raw=payload)


def message_from(update: Update, *, raw: Mapping[str, Any] | None = None) -> Message | None:
    """What ``update`` says to the town hall, or None when it says nothing to act on."""
    if update.callback_query is not None:
        return _button(update.callback_query, raw)
    if update.edited_message is not None:
        return _message(update.edited_message, raw, edited=True)
    if update.message is not None:
        return _message(update.message, raw, edited=False)
    # Channel posts, inline queries, membership changes: not a resident writing to us.
    return None


def sender(user: User) -> Sender:
    """A Telegram user as a junbridge Sender; their app's language is their language."""
    return Sender(
        id=str(user.id), handle=user.username, name=user.full_name, language=user.language_code
    )


def _message(
    message: telegram.Message, raw: Mapping[str, Any] | None, *, edited: bool
) -> Message | None:
    user = message.from_user
    # No user: an anonymous group admin or a channel; a bot: another bot or our own echo.
    if user is None or user.is_bot or message.chat.type == "channel":
        return None
    text = message.text or message.caption or ""
    attachments = _attachments(message)
    location = _location(message)
    if edited and not text:
        # A live location moving, or a photo swapped without caption: no new words to keep.
        return None
    if not (text or attachments or location or message.sticker):
        return None  # joins, leaves, pinned messages, polls, dice ...
    chat_id = message.chat.id
    platform_id = f"{chat_id}:{message.message_id}"
    sent_at = message.date
    kind = _kind(message, text, attachments, location)
    edit_of = None
    if edited:
        sent_at = message.edit_date or message.date
        kind = MessageKind.EDIT
        edit_of = platform_id
        # Each edit is its own event; the original's id stays the one a redelivery repeats.
        platform_id = f"{platform_id}:edit:{int(sent_at.timestamp())}"
    is_private = message.chat.type == "private"
    # Text, names, ids and the raw update stored with the message: all repaired alike.
    return storable(
        Message(
            channel=CHANNEL,
            platform_id=platform_id,
            conversation=str(chat_id),
            sender=sender(user),
            sent_at=sent_at.astimezone(UTC),
            text=text,
            kind=kind,
            is_private=is_private,
            attachments=attachments,
            location=location,
            # In a group, answers quote the resident's message so everyone sees what they answer.
            thread=None if is_private else str(message.message_id),
            edit_of=edit_of,
            raw=raw,
        )
    )


def _kind(
    message: telegram.Message,
    text: str,
    attachments: tuple[Attachment, ...],
    location: Location | None,
) -> MessageKind:
    # Telegram marks a command with a bot_command entity at the start; "/start" alone is text.
    if any(e.type == MessageEntity.BOT_COMMAND and e.offset == 0 for e in message.entities):
        return MessageKind.COMMAND
    if any(a.kind == "photo" for a in attachments):
        return MessageKind.PHOTO
    if location is not None and not text:
        return MessageKind.LOCATION
    if message.sticker is not None:
        return MessageKind.STICKER
    files = [a for a in attachments if a.kind == "file"]
    if files:
        return MessageKind.of_file(files[0].mime_type)
    return MessageKind.TEXT


def _attachments(message: telegram.Message) -> tuple[Attachment, ...]:
    found = []
    if message.photo:
        # Telegram sends several sizes of one photo; keep the largest. Its file_id stays valid
        # for this bot; the download URL is asked for when needed, as it holds the bot token.
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found.append(Attachment(kind="photo", platform_ref=largest.file_id, mime_type="image/jpeg"))
    document = message.document
    if document is not None:
        is_image = (document.mime_type or "").startswith("image/")
        found.append(
            Attachment(
                kind="photo" if is_image else "file",
                platform_ref=document.file_id,
                name=document.file_name,
                mime_type=document.mime_type,
            )
        )
    # Kept for staff, who can listen to or watch them; a GIF also comes as a document above.
    if message.voice is not None:
        voice = message.voice
        found.append(
            Attachment(kind="file", platform_ref=voice.file_id, mime_type=voice.mime_type or OGG)
        )
    for media in (message.audio, message.video):
        if media is not None:
            found.append(
                Attachment(
                    kind="file",
                    platform_ref=media.file_id,
                    name=media.file_name,
                    mime_type=media.mime_type,
                )
            )
    if message.video_note is not None:
        # Round video messages are always MPEG-4 and carry no MIME type of their own.
        found.append(
            Attachment(kind="file", platform_ref=message.video_note.file_id, mime_type="video/mp4")
        )
    return tuple(found)


def _location(message: telegram.Message) -> Location | None:
    if message.venue is not None:
        venue = message.venue
        address = ", ".join(part for part in (venue.title, venue.address) if part)
        return Location(
            lat=venue.location.latitude, long=venue.location.longitude, address=address or None
        )
    if message.location is not None:
        return Location(lat=message.location.latitude, long=message.location.longitude)
    return None


def _button(query: CallbackQuery, raw: Mapping[str, Any] | None) -> Message | None:
    shown = query.message
    # Buttons of inline-mode messages (no chat) and games (no data) are not ours.
    if shown is None or query.data is None or query.from_user.is_bot:
        return None
    chat = shown.chat
    is_private = chat.type == "private"
    return storable(
        Message(
            channel=CHANNEL,
            platform_id=f"cb:{query.id}",
            conversation=str(chat.id),
            sender=sender(query.from_user),
            # A press carries no date of its own: it happened now.
            sent_at=datetime.now(UTC),
            text=_label(query),
            kind=MessageKind.BUTTON,
            is_private=is_private,
            choice=query.data,
            thread=None if is_private else str(shown.message_id),
            raw=raw,
        )
    )


def _label(query: CallbackQuery) -> str:
    """The text of the button pressed, as the resident saw it (kept in the request history)."""
    shown = query.message
    markup = shown.reply_markup if isinstance(shown, telegram.Message) else None
    if markup is None:
        return ""
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return ""
