"""Residents on Telegram by long polling: the real SDK, a real bridge, the emulated Bot API."""

from __future__ import annotations

import logging

import pytest
from telegram_town import settled, town

from junbridge.bridge import Bridge
from junbridge.channels.telegram import TelegramChannel, TelegramStartError
from junbridge.media import local_path
from junbridge.model import Reply, Sender, Status
from junbridge.testing import make_bridge
from junbridge.testing.emulators.telegram import PHOTO_BYTES, TelegramEmulator

LAMP = "La farola 12 de la calle Real no funciona"


def telegram_of(bridge: Bridge) -> TelegramChannel:
    channel = bridge.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    return channel


async def test_polling_starts_with_get_me_and_no_webhook(polling: Bridge, emulator):
    assert [c.method for c in emulator.calls[:2]] == ["getMe", "deleteWebhook"]
    await emulator.wait_for("getUpdates", lambda c: c.params.get("timeout") == 30)


async def test_a_dead_lamp_gets_its_reference_in_bold(polling: Bridge, emulator: TelegramEmulator):
    said = await emulator.resident_says(LAMP)
    await emulator.wait_confirmed(said)  # confirmed only once the bridge has stored it
    assert await settled(polling) == 1
    [request] = await polling.requests.open()
    assert request.department == "lighting" and request.reference == "JUN-0001"
    assert request.state is Status.ASSIGNED and request.address_id == "lamp-12"
    assert (request.channel, request.conversation, request.language) == ("telegram", "1001", "es")
    [call] = emulator.sent("sendMessage")
    assert call.params["chat_id"] == 1001 and call.params["parse_mode"] == "HTML"
    assert "<b>JUN-0001</b>" in call.params["text"] and "electricista" in call.params["text"]
    # Telegram stored it as plain text with a bold entity, as for a real bot.
    shown = emulator.last_bot_message(1001)
    assert "JUN-0001" in shown["text"] and "<b>" not in shown["text"]
    assert {"type": "bold", "offset": shown["text"].index("JUN-0001"), "length": 8} in shown[
        "entities"
    ]


async def test_an_ambiguous_report_is_settled_with_a_button(polling: Bridge, emulator):
    said = await emulator.resident_says("La farola de la esquina: vandalismo otra vez")
    await emulator.wait_confirmed(said)
    assert await settled(polling) == 1
    question = emulator.last_bot_message(1001)
    buttons = {b["callback_data"]: b["text"] for [b] in question["reply_markup"]["inline_keyboard"]}
    assert buttons == {"dept:lighting": "Alumbrado público", "dept:police": "Policía Local"}

    pressed = await emulator.resident_presses(question, "dept:lighting")
    await emulator.wait_confirmed(pressed)
    [answer] = await emulator.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == pressed.update["callback_query"]["id"]
    assert await settled(polling) == 1
    [request] = await polling.requests.all()
    assert request.department == "lighting"
    assert request.description == "La farola de la esquina: vandalismo otra vez"
    assert "¿Dónde está la farola?" in emulator.last_bot_message(1001)["text"]


async def test_a_verified_resident_books_the_doctor_with_a_button(polling: Bridge, emulator):
    resident = await polling.store.resident_for("telegram", Sender(id="1001"))
    await polling.store.verify_resident(
        resident.identities[0], by="administrativa", at=polling.clock()
    )
    said = await emulator.resident_says("Quiero pedir cita con el médico")
    await emulator.wait_confirmed(said)
    assert await settled(polling) == 1
    offer = emulator.last_bot_message(1001)
    slots = [b["callback_data"] for [b] in offer["reply_markup"]["inline_keyboard"]]
    assert len(slots) == 4 and all(s.startswith("slot:") for s in slots)

    pressed = await emulator.resident_presses(offer, slots[1])
    await emulator.wait_confirmed(pressed)
    assert await settled(polling) == 1
    [request] = await polling.requests.all(department="doctor")
    assert request.privacy == "private" and request.details["slot"] == slots[1][5:]
    assert "Cita confirmada" in emulator.last_bot_message(1001)["text"]
    assert len(emulator.sent("answerCallbackQuery")) == 1


async def test_a_location_answers_where_the_lamp_is(polling: Bridge, emulator):
    said = await emulator.resident_says("Hay una farola que parpadea toda la noche")
    await emulator.wait_confirmed(said)
    assert await settled(polling) == 1
    assert "¿Dónde está la farola?" in emulator.last_bot_message(1001)["text"]
    shared = await emulator.resident_sends_location(37.2218, -3.5930)
    await emulator.wait_confirmed(shared)
    assert await settled(polling) == 1
    [request] = await polling.requests.all()
    assert (request.lat, request.long) == (37.2218, -3.5930)
    assert request.state is Status.ASSIGNED


async def test_a_photo_is_kept_by_the_bridge_and_sent_on_as_an_upload(polling: Bridge, emulator):
    sent = await emulator.resident_sends_photo(LAMP, image=PHOTO_BYTES)
    await emulator.wait_confirmed(sent)
    await settled(polling)
    [request] = await polling.requests.all()
    [photo] = request.attachments
    largest = sent.message["photo"][-1]
    # The file id is kept as the reference; the bytes are fetched once and kept locally,
    # because Telegram's download URL carries the bot token and expires.
    assert (photo.kind, photo.platform_ref) == ("photo", largest["file_id"])
    assert emulator.token not in (photo.url or "")
    assert local_path(photo).read_bytes() == PHOTO_BYTES
    channel = telegram_of(polling)
    assert await channel.fetch(photo) == PHOTO_BYTES

    # The electrician's photo of the lamp working again goes out as an upload of that copy.
    ids = await channel.send(
        Reply(text="**Arreglada**", channel="telegram", conversation="1001", photo=photo)
    )
    shown = emulator.last_bot_message(1001)
    assert shown["caption"] == "Arreglada"
    assert emulator.files[shown["photo"][-1]["file_id"]].content == PHOTO_BYTES
    assert ids == [f"1001:{shown['message_id']}"]


async def test_in_a_group_residents_are_answered_and_bots_and_joins_ignored(polling, emulator):
    group = emulator.group()
    bot = emulator.user(4242, "OtroBot", username="otro_bot", is_bot=True)
    ignored = [
        await emulator.resident_says(LAMP, user=bot, chat=group),
        await emulator.member_joins(emulator.user(1002, "Antonio"), chat=group),
    ]
    for update in ignored:
        await emulator.wait_confirmed(update)
    assert await settled(polling) == 0
    assert await polling.requests.all() == []

    said = await emulator.resident_says(LAMP, chat=group)
    await emulator.wait_confirmed(said)
    assert await settled(polling) == 1
    [request] = await polling.requests.all()
    assert request.conversation == str(group["id"])
    [call] = emulator.sent("sendMessage")
    # Lighting is public: the answer goes to the group, quoting the resident's message.
    assert call.params["chat_id"] == group["id"]
    assert call.params["reply_parameters"]["message_id"] == said.message["message_id"]


async def test_stopping_confirms_what_was_stored(polling: Bridge, emulator):
    said = await emulator.resident_says(LAMP)
    await emulator.wait_confirmed(said)
    await polling.stop_channels()
    last = emulator.sent("getUpdates")[-1]
    assert last.params["offset"] == said.update_id + 1 and last.params["timeout"] == 0


async def test_the_token_stays_out_of_logs_and_errors(emulator, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    bridge = await make_bridge(config=town(emulator, mode="polling"), workdir=tmp_path)
    try:
        await bridge.add_channel(bridge.channel("telegram"))
        said = await emulator.resident_says("Hola")
        await emulator.wait_confirmed(said)
        await bridge.stop_channels()
        assert any("getUpdates" in r.getMessage() for r in caplog.records)
        assert not [r for r in caplog.records if emulator.token in r.getMessage()]

        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "7000000001:not-the-token")
        with pytest.raises(TelegramStartError, match="refused the bot token") as refused:
            await bridge.add_channel(bridge.channel("telegram"))
        assert "not-the-token" not in str(refused.value) and refused.value.__cause__ is None
    finally:
        await bridge.close()


async def test_a_private_answer_that_cannot_arrive_is_explained_in_the_group(polling, emulator):
    group = emulator.group()
    # Antonio writes in the town's group and has never opened a chat with the bot.
    antonio = emulator.user(1002, "Antonio", language_code="es")
    said = await emulator.resident_says(
        "Me han robado la bici en la plaza, quiero denunciarlo", user=antonio, chat=group
    )
    await emulator.wait_confirmed(said)
    await settled(polling)
    await polling.outbox.settle()
    [request] = await polling.requests.all()
    assert request.department == "police"
    # The private answer could not be delivered: Telegram does not know a chat with him.
    [private] = [
        c for c in emulator.calls if c.method == "sendMessage" and c.params["chat_id"] == 1002
    ]
    assert private.status == 400
    # So the group hears, under his message, how to receive it: never what it was about.
    in_group = [
        c.params["text"] for c in emulator.sent("sendMessage") if c.params["chat_id"] == group["id"]
    ]
    told = in_group[-1]
    assert request.reference in told and "abras un chat con este bot" in told
    assert "bici" not in " ".join(in_group) and "denuncia" not in told.casefold()
    stored = await polling.requests.get(request.reference)
    assert stored is not None
    assert stored.history[-1].action == "private answer not delivered"
    assert "Chat not found" in (stored.history[-1].note or "")
