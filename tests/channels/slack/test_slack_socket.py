"""Slack in Socket Mode: envelopes over the emulator's WebSocket, acknowledged after storing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from slack_town import Town

from junbridge.model import JunbridgeError

LAMP = "La farola de la calle Real no funciona"


@pytest.fixture
async def socket_town(make_town: Callable[..., Awaitable[Town]]) -> Town:
    return await make_town("socket")


async def test_a_message_over_the_socket_is_stored_then_acknowledged(socket_town: Town) -> None:
    town = socket_town
    assert town.channel.routes() == ()
    [opened] = town.slack.sent("apps.connections.open")
    assert opened.response["url"].startswith("ws://127.0.0.1:")
    push = await town.slack.resident_says(LAMP)
    assert push.status == 200
    assert {"envelope_id": push.envelope_id} in town.slack.acks
    # Acknowledged only after the store took it (process_before_response).
    assert [platform_id for platform_id, _ in town.inbound()] == [f"C0PLAZA:{push.ts}"]
    await town.bridge.drain()
    [request] = await town.bridge.requests.open()
    assert request.department == "lighting"
    assert await town.bridge.outbox.flush() == 1
    [call] = town.slack.sent("chat.postMessage")
    assert call.params["thread_ts"] == push.ts and request.reference in call.params["text"]


async def test_socket_retries_mentions_and_presses(socket_town: Town) -> None:
    town = socket_town
    first = await town.slack.resident_says("La farola de la esquina: vandalismo otra vez")
    again = await town.slack.redeliver(first, retry_num=2, reason="timeout")
    assert len(town.slack.acks) == 2
    await town.bridge.drain()
    assert len(town.inbound()) == 1
    await town.bridge.outbox.flush()
    question = town.slack.posts("D0VECINA")[0]
    press = await town.slack.resident_presses(question["ts"], "dept:police")
    assert {"envelope_id": press.envelope_id} in town.slack.acks
    await town.bridge.drain()
    [request] = await town.bridge.requests.all()
    assert request.department == "police"
    assert again.envelope_id != first.envelope_id
    await town.slack.wait_for("chat.update")


async def test_a_wrong_app_token_fails_the_start(
    make_town: Callable[..., Awaitable[Town]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-stolen")
    with pytest.raises(JunbridgeError, match=r"app token \(invalid_auth\).*SLACK_APP_TOKEN"):
        await make_town("socket")


async def test_a_wrong_bot_token_fails_the_start(
    make_town: Callable[..., Awaitable[Town]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    with pytest.raises(JunbridgeError, match=r"bot token \(invalid_auth\).*SLACK_BOT_TOKEN"):
        await make_town("events")
