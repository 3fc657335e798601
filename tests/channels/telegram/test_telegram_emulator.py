"""The emulated Bot API holds the real SDK to Telegram's rules (platforms.md §1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter

from junbridge.channels.telegram_send import retry_seconds
from junbridge.testing.emulators.telegram import PHOTO_BYTES, TelegramEmulator


@pytest.fixture
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(
        emulator.token, base_url=emulator.api_url, base_file_url=f"{emulator.url}/file/bot"
    ) as started:
        yield started


async def carmen(emulator: TelegramEmulator) -> int:
    """Carmen writes first, so the bot may write to her."""
    await emulator.resident_says("Hola", deliver=False)
    return 1001


async def test_get_me_is_a_full_user_and_a_wrong_token_is_refused(emulator, bot: Bot):
    assert (bot.username, bot.id) == ("AytoJunBot", 7000000001)
    with pytest.raises(InvalidToken):
        async with Bot("7000000001:wrong", base_url=emulator.api_url):
            pass


async def test_text_is_measured_after_entity_parsing(emulator, bot: Bot):
    chat = await carmen(emulator)
    sent = await bot.send_message(chat, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert sent.text == "a" * 4096 and sent.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(chat, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)can't find end tag"):
        await bot.send_message(chat, "<b>sin cerrar", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(chat, "<br/>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "¿Hola?")


async def test_photos_go_up_as_multipart_and_come_back_by_file_id(emulator, bot: Bot):
    chat = await carmen(emulator)
    sent = await bot.send_photo(
        chat, photo=PHOTO_BYTES, caption="<b>Arreglada</b>", parse_mode="HTML"
    )
    [call] = emulator.sent("sendPhoto")
    assert call.params["photo"].content == PHOTO_BYTES and call.params["chat_id"] == chat
    assert sent.caption == "Arreglada"
    file = await bot.get_file(sent.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PHOTO_BYTES
    again = await bot.send_photo(chat, photo=sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(chat, photo=sent.photo[-1].file_id, caption="a" * 1025)
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(chat, photo="no-such-file")


async def test_callback_data_is_held_to_64_bytes(emulator, bot: Bot):
    chat = await carmen(emulator)
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("Sí", callback_data="s" * 64)]])
    await bot.send_message(chat, "¿Seguro?", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("Sí", callback_data="ñ" * 33)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(chat, "¿Seguro?", reply_markup=too_long)


async def test_a_press_is_answered_once_and_the_question_can_be_edited(emulator, bot: Bot):
    chat = await carmen(emulator)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Vale", callback_data="ok")]])
    question = await bot.send_message(chat, "¿Vale?", reply_markup=keyboard)
    pressed = await emulator.resident_presses(emulator.last_bot_message(chat), "ok")
    [update] = await bot.get_updates(offset=pressed.update_id)
    assert update.callback_query is not None and update.callback_query.data == "ok"
    assert await update.callback_query.answer()
    with pytest.raises(BadRequest, match="Query is too old"):
        await update.callback_query.answer()
    edited = await bot.edit_message_text("Hecho", chat_id=chat, message_id=question.message_id)
    assert edited.text == "Hecho"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Hecho", chat_id=chat, message_id=question.message_id)
    with pytest.raises(ValueError, match="no button"):
        await emulator.resident_presses(emulator.last_bot_message(chat), "not-offered")


async def test_the_per_chat_rate_limit_answers_429_with_retry_after(emulator, bot: Bot):
    chat = await carmen(emulator)
    emulator.per_chat_per_second = 1
    await bot.send_message(chat, "uno")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(chat, "dos")
    assert retry_seconds(flood.value) == 1
    [refused] = [c for c in emulator.calls if c.status == 429]
    assert refused.params["text"] == "dos"


async def test_the_per_bot_rate_limit_counts_every_chat(emulator, bot: Bot):
    chats = [2001, 2002, 2003]
    for chat in chats:
        emulator.known_chat({"id": chat, "type": "private", "first_name": f"Vecino {chat}"})
    emulator.per_bot_per_second = 2
    await bot.send_message(chats[0], "uno")
    await bot.send_message(chats[1], "dos")
    with pytest.raises(RetryAfter):
        await bot.send_message(chats[2], "tres")
    [refused] = [c for c in emulator.calls if c.status == 429]
    assert refused.params["chat_id"] == chats[2]


async def test_a_blocked_bot_is_forbidden(emulator, bot: Bot):
    chat = await carmen(emulator)
    emulator.block(emulator.user())
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(chat, "¿Sigues ahí?")


async def test_long_polling_waits_for_an_update_and_the_offset_confirms(emulator, bot: Bot):
    assert await bot.get_updates(timeout=0) == ()
    polling = asyncio.create_task(bot.get_updates(timeout=30))
    await emulator.wait_for("getUpdates", count=2)
    said = await emulator.resident_says("La farola 12 no va")
    [update] = await polling  # answered as soon as the update arrived
    assert update.update_id == said.update_id and update.message.text == "La farola 12 no va"
    assert not emulator.confirmed(said)
    assert await bot.get_updates(offset=said.update_id + 1, timeout=0) == ()
    assert emulator.confirmed(said)


async def test_a_newer_poll_ends_the_older_one(emulator, bot: Bot):
    older = asyncio.create_task(bot.get_updates(timeout=30))
    await emulator.wait_for("getUpdates")
    async with Bot(emulator.token, base_url=emulator.api_url) as second_process:
        await second_process.get_updates(timeout=0)
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await older


async def test_webhook_secret_rules_and_no_polling_while_set(emulator, bot: Bot):
    with pytest.raises(BadRequest, match="unallowed characters"):
        await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="con espacios")
    with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
        await bot.set_webhook("http://jun.example/hook", secret_token="ok")
    assert await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="A-z_09")
    info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook" and emulator.webhook_secret == "A-z_09"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_string_fields_stay_strings_and_json_bodies_work(emulator):
    await carmen(emulator)
    url = f"{emulator.api_url}{emulator.token}/sendMessage"
    async with httpx.AsyncClient(trust_env=False) as client:
        form = await client.post(url, data={"chat_id": "1001", "text": "123"})
        body = await client.post(url, json={"chat_id": 1001, "text": "456"})
        unknown = await client.post(f"{emulator.api_url}{emulator.token}/sendSticker")
    assert form.json()["result"]["text"] == "123" and body.json()["result"]["text"] == "456"
    assert [c.params["text"] for c in emulator.sent("sendMessage")] == ["123", "456"]
    assert unknown.status_code == 404
