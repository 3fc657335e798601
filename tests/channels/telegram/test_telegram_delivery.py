"""Replies through the real SDK: 429s waited out, blocked residents given up on, ids kept."""

from __future__ import annotations

import pytest

from junbridge.bridge import Bridge
from junbridge.channels.base import DeliveryError
from junbridge.channels.telegram import TelegramChannel
from junbridge.model import Choice, Reply
from junbridge.testing.emulators.telegram import TelegramEmulator, error_body

LAMP = "La farola 12 de la calle Real no funciona"


def telegram_of(bridge: Bridge) -> TelegramChannel:
    channel = bridge.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    return channel


def to_carmen(text: str, *, private: bool = False, choices: tuple[Choice, ...] = ()) -> Reply:
    return Reply(
        text=text, channel="telegram", conversation="1001", private=private, choices=choices
    )


async def handled(bridge: Bridge, emulator: TelegramEmulator, text: str = LAMP) -> None:
    said = await emulator.resident_says(text)
    await emulator.wait_confirmed(said)
    await bridge.drain()


async def test_a_429_holds_the_chat_back_then_the_reply_goes_out_once(polling, emulator):
    emulator.fail_next(
        "sendMessage", status=429, body=error_body(429, "Too Many Requests: retry after 1", 1)
    )
    await handled(polling, emulator)
    # The pass waits out the second Telegram asked for, then sends the reply, once.
    assert await polling.outbox.flush() == 1
    assert await polling.outbox.flush() == 0
    assert [c.status for c in emulator.calls if c.method == "sendMessage"] == [429, 200]
    [sent] = emulator.sent("sendMessage")
    assert "<b>JUN-0001</b>" in sent.params["text"]
    [row] = await polling.store.replies_for("JUN-0001")
    message_id = emulator.last_bot_message(1001)["message_id"]
    assert row.status == "sent" and row.platform_ids == (f"1001:{message_id}",)
    # "Slow down" is not a failed attempt: the one that counted is the one that went.
    assert row.attempts == 1


async def test_replies_keep_to_one_a_second_per_chat_and_arrive_in_order(polling, emulator):
    emulator.per_chat_per_second = 1  # as Telegram: a second 429s within the second
    for chat in (1001, 1002):  # two residents who started the bot
        emulator.known_chat({"id": chat, "type": "private", "first_name": f"Vecino {chat}"})
    texts = [f"Aviso {n}" for n in range(4)]
    await polling.store.write(
        lambda tx: [
            tx.enqueue(Reply(text=t, channel="telegram", conversation=chat), request_reference=None)
            for t in texts
            for chat in ("1001", "1002")
        ]
    )
    while await polling.outbox.flush():
        pass
    calls = [c for c in emulator.calls if c.method == "sendMessage"]
    assert [c.status for c in calls] == [200] * 8
    for chat in (1001, 1002):
        assert [c.params["text"] for c in calls if c.params["chat_id"] == chat] == texts


async def test_a_resident_who_blocked_the_bot_is_given_up_on(polling, emulator):
    await handled(polling, emulator)
    emulator.block(emulator.user())
    assert await polling.outbox.flush() == 0
    [row] = await polling.store.replies_for("JUN-0001")
    assert row.status == "failed" and "blocked" in (row.error or "")


async def test_errors_map_to_what_the_outbox_should_do(polling, emulator):
    channel = telegram_of(polling)
    await handled(polling, emulator)
    with pytest.raises(DeliveryError, match="Chat not found") as unknown:
        await channel.send(Reply(text="Hola", channel="telegram", conversation="999"))
    assert unknown.value.permanent
    with pytest.raises(DeliveryError, match="private reply needs a recipient") as unrenderable:
        await channel.send(to_carmen("Tu cita", private=True))
    assert unrenderable.value.permanent
    emulator.fail_next("sendMessage", status=502, body=error_body(502, "Bad Gateway"))
    with pytest.raises(DeliveryError, match="unreachable") as down:
        await channel.send(to_carmen("Hola"))
    assert not down.value.permanent and down.value.retry_after is None
    emulator.fail_next("sendMessage", status=401, body=error_body(401, "Unauthorized"))
    with pytest.raises(DeliveryError, match="token") as refused:
        await channel.send(to_carmen("Hola"))
    assert not refused.value.permanent and emulator.token not in str(refused.value)


async def test_a_long_reply_waits_out_a_429_between_its_parts(polling, emulator):
    channel = telegram_of(polling)
    await handled(polling, emulator)
    emulator.per_chat_per_second = 1
    words = " ".join(["farola"] * 1200)  # 8399 characters: three messages
    ids = await channel.send(to_carmen(words, choices=(Choice(label="Vale", value="ok"),)))
    sent = emulator.sent("sendMessage")
    assert len(ids) == len(sent) == 3
    assert [c.status for c in emulator.calls if c.method == "sendMessage"].count(429) >= 1
    # No part went twice; the keyboard is under the last one.
    assert " ".join(c.params["text"] for c in sent).split() == words.split()
    assert "reply_markup" in sent[-1].params and "reply_markup" not in sent[0].params


async def test_an_unreachable_api_is_transient(polling, emulator):
    channel = telegram_of(polling)
    await handled(polling, emulator)
    await emulator.stop()
    with pytest.raises(DeliveryError) as down:
        await channel.send(to_carmen("Hola"))
    assert not down.value.permanent and down.value.retry_after is None
