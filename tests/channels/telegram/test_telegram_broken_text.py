"""Half an emoji and a NUL from Telegram: repaired where the update comes in, never stuck.

JSON carries both (``"\\ud83d"``, ``"\\u0000"``), and the emulator posts the update to the
webhook as such escapes; python-telegram-bot reads it, the bridge stores and handles it.
Every test here runs on SQLite and on PostgreSQL, which refuses NUL in text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from telegram_town import FIXTURES, Clock, Webhook, settled, town

from junbridge.model import Reply, Status
from junbridge.testing import make_bridge
from junbridge.testing.emulators.telegram import TelegramEmulator

HALF_BULB = "\ud83d"  # the first UTF-16 half of 💡: the emoji cut in two


@pytest.fixture
def store_url(db_url: str) -> str:
    """The webhook town's store: a SQLite file or a PostgreSQL schema (parametrized)."""
    return db_url


def broken_update() -> dict[str, Any]:
    """A copy of ``text_message.ptb22.json`` (the Bot API webhook guide's text message).

    Derived: its text "/start" is replaced by a resident's report with a NUL after "calle"
    and half of 💡 at the end, and half of 💡 is added to the sender's first name.
    """
    update: dict[str, Any] = json.loads((FIXTURES / "text_message.ptb22.json").read_text())
    update["message"]["text"] = f"La farola 12 de la calle\x00 Real no funciona {HALF_BULB}"
    update["message"]["from"]["first_name"] = f"Test Firstname {HALF_BULB}"
    return update


async def test_the_report_is_repaired_answered_and_a_restart_finds_nothing_stuck(
    webhook: Webhook, emulator: TelegramEmulator, tmp_path, clock: Clock, store_url: str
):
    update = broken_update()
    emulator.known_chat(update["message"]["chat"])  # the resident wrote: the bot may answer
    assert await emulator.push(update) == 200
    assert await settled(webhook.bridge) == 1

    [request] = await webhook.bridge.requests.all()
    assert request.description == "La farola 12 de la calle Real no funciona \ufffd"
    assert request.department == "lighting" and request.state is Status.ASSIGNED
    resident = await webhook.bridge.store.find_resident("telegram:1111111")
    assert resident is not None and resident.name == "Test Firstname \ufffd Test Lastname"
    [call] = emulator.sent("sendMessage")
    assert (
        call.params["chat_id"] == 1111111 and f"<b>{request.reference}</b>" in call.params["text"]
    )

    # Stopped as `junbridge run` stops, then started again on the same store.
    await webhook.server.stop()
    await webhook.bridge.stop_channels()
    await webhook.bridge.close()
    config = town(emulator, mode="webhook", public_url=webhook.server.url)
    restarted = await make_bridge(config=config, workdir=tmp_path, clock=clock, store_url=store_url)
    try:
        assert await restarted.store.pending_inbound() == []
        await restarted.add_channel(restarted.channel("telegram"))
        assert [r.reference for r in await restarted.requests.all()] == [request.reference]
    finally:
        await restarted.stop_channels()
        await restarted.close()


async def test_a_reply_with_half_an_emoji_and_a_nul_still_reaches_the_resident(
    webhook: Webhook, emulator: TelegramEmulator
):
    """A reply whose text never came through a channel: a plugin's own, say."""
    await emulator.resident_says("Hola")
    await settled(webhook.bridge)
    reply = Reply(
        text=f"**Aviso**: corte de luz\x00 mañana {HALF_BULB}",
        channel="telegram",
        conversation="1001",
    )
    await webhook.bridge.store.write(lambda tx: tx.enqueue(reply, request_reference=None))
    assert await webhook.bridge.outbox.flush() == 1
    assert emulator.last_bot_message(1001)["text"] == "Aviso: corte de luz mañana \ufffd"
