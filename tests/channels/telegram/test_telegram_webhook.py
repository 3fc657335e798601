"""Telegram by webhook: the emulator posts updates to the bridge's web app, as Telegram does."""

from __future__ import annotations

import json

import httpx
import pytest
from telegram_town import FIXTURES, WEBHOOK_SECRET, Webhook, settled, town

from junbridge.channels.telegram import TelegramStartError
from junbridge.testing import make_bridge
from junbridge.testing.emulators.telegram import TelegramEmulator

LAMP = "La farola 12 de la calle Real no funciona"


async def test_start_registers_the_public_url_with_the_secret(webhook: Webhook, emulator):
    [call] = emulator.sent("setWebhook")
    assert call.params["url"] == f"{webhook.server.url}/webhooks/telegram"
    assert call.params["secret_token"] == WEBHOOK_SECRET
    assert call.params["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert emulator.token not in call.params["url"]
    assert not emulator.sent("getUpdates") and not emulator.sent("deleteWebhook")


async def test_a_pushed_report_is_stored_before_the_answer(webhook: Webhook, emulator):
    said = await emulator.resident_says(LAMP)
    # The 200 came after bridge.submit: the message is in the store already.
    assert said.status == 200
    assert await settled(webhook.bridge) == 1
    [request] = await webhook.bridge.requests.open()
    assert request.department == "lighting" and request.reference == "JUN-0001"
    [call] = emulator.sent("sendMessage")
    assert call.params["chat_id"] == 1001 and "<b>JUN-0001</b>" in call.params["text"]


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_stored(webhook: Webhook, emulator):
    said = await emulator.resident_says(LAMP, deliver=False)
    assert await emulator.push(said.update, secret_token="not-the-secret") == 403
    assert await emulator.push(said.update, secret_token=None) == 403
    assert await emulator.push(said.update, secret_token=WEBHOOK_SECRET + "x") == 403
    await webhook.bridge.drain()
    assert await webhook.bridge.requests.all() == []
    assert await webhook.bridge.store.pending_inbound() == []
    # Had any refused push been stored, this one would be a duplicate and open nothing.
    assert await emulator.push(said.update) == 200
    await settled(webhook.bridge)
    assert len(await webhook.bridge.requests.all()) == 1


async def test_bad_json_or_an_outdated_update_is_a_400_and_the_server_goes_on(webhook, emulator):
    assert await emulator.push(b'{"update_id": 1, "message": ') == 400
    assert await emulator.push(b"\xff\xfe not utf-8") == 400
    assert await emulator.push(b"[1, 2]") == 400
    # The webhook guide's own example, which Bot API 10 clients no longer accept (no is_bot).
    outdated = json.loads((FIXTURES / "text_message.json").read_text())
    assert await emulator.push(outdated) == 400
    assert await webhook.bridge.requests.all() == []
    said = await emulator.resident_says(LAMP)
    assert said.status == 200
    await settled(webhook.bridge)
    assert len(await webhook.bridge.requests.all()) == 1


async def test_the_same_update_delivered_twice_opens_one_request(webhook: Webhook, emulator):
    said = await emulator.resident_says(LAMP)
    assert await emulator.push(said.update) == 200  # Telegram retries after a lost answer
    assert await settled(webhook.bridge) == 1
    assert len(await webhook.bridge.requests.all()) == 1
    assert len(emulator.sent("sendMessage")) == 1


async def test_an_edit_updates_the_description_of_its_request(webhook: Webhook, emulator):
    said = await emulator.resident_says(LAMP)
    await settled(webhook.bridge)
    edited = await emulator.resident_edits(said, "La farola 12 de la calle Real parpadea")
    assert edited.status == 200
    assert await emulator.push(edited.update) == 200  # the edit redelivered: still one change
    await settled(webhook.bridge)
    [request] = await webhook.bridge.requests.all()
    assert request.description == "La farola 12 de la calle Real parpadea"
    assert [h.action for h in request.history].count("edited") == 1
    # Kept as its own event (kind EDIT), pointing at the request the original opened.
    edit_id = f"1001:{said.message['message_id']}:edit:{edited.message['edit_date']}"
    assert await webhook.bridge.store.inbound_reference("telegram", edit_id) == request.reference


async def test_a_button_press_by_webhook_is_answered(webhook: Webhook, emulator):
    said = await emulator.resident_says("La farola de la esquina: vandalismo otra vez")
    await settled(webhook.bridge)
    pressed = await emulator.resident_presses(emulator.last_bot_message(1001), "dept:police")
    assert pressed.status == 200
    [answer] = emulator.sent("answerCallbackQuery")
    assert answer.params["callback_query_id"] == pressed.update["callback_query"]["id"]
    await settled(webhook.bridge)
    [request] = await webhook.bridge.requests.all()
    assert request.department == "police" and request.description == said.message["text"]


async def test_webhook_only_takes_posts(webhook: Webhook):
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.get(f"{webhook.server.url}/webhooks/telegram")
    assert answer.status_code == 405


async def test_polling_is_refused_while_the_webhook_is_set(webhook, emulator: TelegramEmulator):
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.post(f"{emulator.api_url}{emulator.token}/getUpdates")
    assert answer.status_code == 409 and answer.json()["error_code"] == 409


async def test_a_public_url_telegram_refuses_stops_the_start(emulator, tmp_path):
    config = town(emulator, mode="webhook", public_url="http://jun.example")
    bridge = await make_bridge(config=config, workdir=tmp_path)
    try:
        with pytest.raises(TelegramStartError, match=r"(?i)would not set the webhook.*https url"):
            await bridge.add_channel(bridge.channel("telegram"))
        assert bridge.channels == {}
    finally:
        await bridge.close()
