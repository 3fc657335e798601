"""Telegram updates to Messages: the captured fixtures, then emulator-made updates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram_town import FIXTURES

from junbridge.channels.base import InvalidPayload
from junbridge.channels.telegram_parse import parse_update
from junbridge.model import Attachment, Location, Message, MessageKind, Sender
from junbridge.testing.emulators.telegram import TelegramEmulator


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


# -- real captured payloads (tests/fixtures/telegram/SOURCES.md) -----------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        # The webhook guide's example predates Bot API 3.7's User.is_bot.
        ("text_message.json", "missing 1 required positional argument: 'is_bot'"),
        # A 2017 capture, before Bot API 4.5's PhotoSize.file_unique_id.
        ("photo_with_caption.json", "missing 1 required positional argument: 'file_unique_id'"),
        ("voice.json", "missing 1 required positional argument: 'file_unique_id'"),
        ("video_with_caption.json", "missing 1 required positional argument: 'file_unique_id'"),
        ("document_with_caption.json", "missing 1 required positional argument: 'file_unique_id'"),
        ("sticker.json", "missing 4 required positional arguments: 'file_unique_id'"),
    ],
)
def test_outdated_captures_are_refused_with_the_reason(name: str, reason: str):
    with pytest.raises(InvalidPayload, match="does not fit Bot API") as refused:
        parse_update(fixture(name))
    assert reason in str(refused.value) and str(fixture(name)["update_id"]) in str(refused.value)


def test_text_message():
    message = parse_update(fixture("text_message.ptb22.json"))
    assert message == Message(
        channel="telegram",
        platform_id="1111111:1365",
        conversation="1111111",
        sender=Sender(
            id="1111111", handle="Testusername", name="Test Firstname Test Lastname", language=None
        ),
        sent_at=datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC),
        text="/start",
        # No bot_command entity in the capture, so it is text: Telegram itself always adds one.
        kind=MessageKind.TEXT,
        is_private=True,
    )
    assert message.raw == fixture("text_message.ptb22.json")


def test_photo_with_caption_keeps_the_largest_size():
    message = parse_update(fixture("photo_with_caption.ptb22.json"))
    assert message == Message(
        channel="telegram",
        platform_id="66812456:22980",
        conversation="66812456",
        sender=Sender(id="66812456", handle="Oleg_Oleg_Oleg", name="O", language="ru-RU"),
        sent_at=datetime(2017, 10, 24, 6, 5, 54, tzinfo=UTC),
        text="description",
        kind=MessageKind.PHOTO,
        is_private=True,
        attachments=(
            Attachment(
                kind="photo",
                platform_ref="AgADAgADOagxG8vyeUvsltCem_XPv5A6Sw0ABNXULc5u7jny5VkRAAEC",
                mime_type="image/jpeg",
            ),
        ),
    )


def test_location():
    message = parse_update(fixture("location.json"))
    assert message == Message(
        channel="telegram",
        platform_id="12345678:12345",
        conversation="12345678",
        sender=Sender(id="12345678", handle="UserName", name="Name", language="ln-LN"),
        sent_at=datetime(2017, 10, 23, 10, 44, 33, tzinfo=UTC),
        kind=MessageKind.LOCATION,
        is_private=True,
        location=Location(lat=55.693416, long=37.624605),
    )


# The four captures below share one sender and chat (Illemius/telegram_types examples).
SAMPLE = {
    "platform_id": "12345678:12345",
    "conversation": "12345678",
    "sender": Sender(id="12345678", handle="UserName", name="Name", language="ln-LN"),
    "is_private": True,
}


def test_a_voice_note_is_a_voice_message_with_its_file_kept():
    message = parse_update(fixture("voice.ptb22.json"))
    assert message == Message(
        **SAMPLE,
        channel="telegram",
        sent_at=datetime(2017, 10, 23, 14, 20, 3, tzinfo=UTC),
        kind=MessageKind.VOICE,
        attachments=(
            Attachment(
                kind="file", platform_ref="AwADawAgADADy_JxS2gopIVIIxlhAg", mime_type="audio/ogg"
            ),
        ),
    )


def test_a_sticker_is_a_sticker_message_with_nothing_attached():
    message = parse_update(fixture("sticker.ptb22.json"))
    assert message == Message(
        **SAMPLE,
        channel="telegram",
        sent_at=datetime(2017, 10, 23, 15, 10, 50, tzinfo=UTC),
        kind=MessageKind.STICKER,
    )


def test_a_video_keeps_its_caption_and_its_file():
    message = parse_update(fixture("video_with_caption.ptb22.json"))
    assert message == Message(
        **SAMPLE,
        channel="telegram",
        sent_at=datetime(2017, 10, 23, 11, 1, 34, tzinfo=UTC),
        text="description",
        kind=MessageKind.VIDEO,
        attachments=(
            Attachment(
                kind="file",
                platform_ref="BAADAgpAADdawy_JxS72kRvV3cortAg",
                mime_type="video/quicktime",
            ),
        ),
    )


def test_a_document_keeps_its_caption_name_and_type():
    message = parse_update(fixture("document_with_caption.ptb22.json"))
    assert message == Message(
        **SAMPLE,
        channel="telegram",
        sent_at=datetime(2017, 10, 23, 14, 13, 32, tzinfo=UTC),
        text="doc description",
        kind=MessageKind.FILE,
        attachments=(
            Attachment(
                kind="file",
                platform_ref="BQADAgADpgADy_JxS66XQTBRHFleAg",
                name="test.docx",
                mime_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
        ),
    )


def test_a_caption_and_a_name_with_half_an_emoji_and_a_nul_are_repaired():
    """A copy of photo_with_caption.ptb22.json, derived as follows.

    Added: a NUL and half of 💡 at the end of the caption, half of 💡 to the first name.
    """
    update = fixture("photo_with_caption.ptb22.json")
    update["message"]["caption"] = "description\x00 \ud83d"
    update["message"]["from"]["first_name"] = "O\ud83d"
    message = parse_update(json.loads(json.dumps(update)))  # through the wire's escapes
    assert message is not None
    assert message.text == "description \ufffd" and message.sender.name == "O\ufffd"
    # The raw update is stored with the message: repaired the same way.
    assert message.raw is not None
    assert message.raw["message"]["caption"] == "description \ufffd"
    assert message.raw["message"]["from"]["first_name"] == "O\ufffd"


# -- malformed payloads ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([1, 2], "JSON object, not list"),
        ({"message": {}}, "no integer update_id"),
        ({"update_id": "7"}, "no integer update_id"),
        ({"update_id": 7, "message": "hola"}, "AttributeError"),
        ({"update_id": 7, "message": {"message_id": 1}}, "KeyError: 'date'"),
    ],
)
def test_malformed_payloads_are_invalid(payload: Any, reason: str):
    with pytest.raises(InvalidPayload, match=reason):
        parse_update(payload)


# -- updates made by the emulator (current schema) --------------------------------------------


@pytest.fixture
def telegram() -> TelegramEmulator:
    # Not started: with no webhook, injected updates are only queued, never sent anywhere.
    return TelegramEmulator()


async def test_a_command_has_its_entity(telegram: TelegramEmulator):
    said = await telegram.resident_command("/start farola")
    message = parse_update(said.update)
    assert message is not None and message.kind is MessageKind.COMMAND
    assert message.text == "/start farola" and message.sender.language == "es"
    assert message.sender == Sender(
        id="1001", handle="carmen_jun", name="Carmen Ruiz", language="es"
    )


async def test_an_edit_points_at_the_message_it_changes(telegram: TelegramEmulator):
    said = await telegram.resident_says("La farola 12 no va")
    edited = await telegram.resident_edits(said, "La farola 12 parpadea")
    message = parse_update(edited.update)
    edit_date = edited.update["edited_message"]["edit_date"]
    assert message is not None and message.kind is MessageKind.EDIT
    assert message.edit_of == f"1001:{said.message['message_id']}"
    assert message.platform_id == f"{message.edit_of}:edit:{edit_date}"
    assert message.text == "La farola 12 parpadea"
    assert message.sent_at == datetime.fromtimestamp(edit_date, UTC)


async def test_a_button_press_carries_its_choice_and_label(telegram: TelegramEmulator):
    chat = telegram.known_chat({"id": 1001, "type": "private", "first_name": "Carmen"})
    keyboard = {"inline_keyboard": [[{"text": "Policía Local", "callback_data": "dept:police"}]]}
    question = telegram.new_message(chat, telegram.bot, {"text": "¿?", "reply_markup": keyboard})
    pressed = await telegram.resident_presses(question, "dept:police")
    message = parse_update(pressed.update)
    query = pressed.update["callback_query"]
    assert message is not None and message.kind is MessageKind.BUTTON
    assert (message.choice, message.text) == ("dept:police", "Policía Local")
    assert message.platform_id == f"cb:{query['id']}" and message.conversation == "1001"
    assert message.is_private and message.sender.id == "1001"


async def test_in_a_group_replies_quote_the_message(telegram: TelegramEmulator):
    group = telegram.group()
    said = await telegram.resident_says("La farola 12 no va", chat=group)
    message = parse_update(said.update)
    assert message is not None and not message.is_private
    assert message.conversation == str(group["id"])
    assert message.thread == str(said.message["message_id"])


async def test_bots_joins_and_live_locations_are_ignored(telegram: TelegramEmulator):
    group = telegram.group()
    bot = telegram.user(4242, "OtroBot", is_bot=True)
    ours = telegram.user(telegram.bot["id"], "Ayuntamiento de Jun", is_bot=True)
    shared = await telegram.resident_sends_location(37.2, -3.6)
    ignored = [
        await telegram.resident_says("Hola", user=bot, chat=group),
        await telegram.resident_says("Eco", user=ours),
        await telegram.member_joins(telegram.user(1002, "Antonio"), chat=group),
        # A live location moving is an edited message without words.
        await telegram.resident_edits(shared, ""),
    ]
    assert [parse_update(i.update) for i in ignored] == [None, None, None, None]


async def test_a_document_photo_is_a_photo_attachment(telegram: TelegramEmulator):
    said = await telegram.resident_says("Foto sin comprimir", deliver=False)
    update = said.update
    update["message"]["document"] = {
        "file_id": "BQACAgQAAxkBAAIB",
        "file_unique_id": "AgADBQAC",
        "file_name": "farola.jpg",
        "mime_type": "image/jpeg",
    }
    message = parse_update(update)
    assert message is not None and message.kind is MessageKind.PHOTO
    assert message.attachments == (
        Attachment(
            kind="photo",
            platform_ref="BQACAgQAAxkBAAIB",
            name="farola.jpg",
            mime_type="image/jpeg",
        ),
    )
