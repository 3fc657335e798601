"""Half an emoji and a NUL from Slack: repaired where the event comes in, never stuck.

JSON carries both (``"\\ud83d"``, ``"\\u0000"``), and the emulator signs and POSTs the body
with such escapes; bolt verifies it, the bridge stores and handles it and answers through
slack_sdk. Every test here runs on SQLite and on PostgreSQL, which refuses NUL in text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from slack_town import FIXTURES, Town

from junbridge.model import Reply, Status

HALF_BULB = "\ud83d"  # the first UTF-16 half of 💡: the emoji cut in two
REPORT = f"La farola de la calle\x00 Real no funciona {HALF_BULB}"


@pytest.fixture
def store_url(db_url: str) -> str:
    """The town's store: a SQLite file or a PostgreSQL schema (parametrized)."""
    return db_url


def broken_body() -> dict[str, Any]:
    """A copy of ``message.json`` (bolt's own test of a ``message`` event).

    Derived: its text "Hello World!", in ``event.text`` and in the rich-text block, is
    replaced by a resident's report with a NUL after "calle" and half of 💡 at the end.
    """
    body: dict[str, Any] = json.loads((FIXTURES / "message.json").read_text())
    body["event"]["text"] = REPORT
    [block] = body["event"]["blocks"]
    block["elements"][0]["elements"][0]["text"] = REPORT
    return body


async def test_the_report_is_repaired_answered_and_a_restart_finds_nothing_stuck(
    town: Town, make_town: Callable[..., Awaitable[Town]]
) -> None:
    body = broken_body()
    # The fixture's workspace as the emulator knows it: W111 (whose users.info name the
    # emulator makes, with a NUL in it too) and the channel C111 the bot is in.
    town.slack.workspace.add_user("W111", name="w111", real_name="Vecina\x00 W111")
    town.slack.workspace.add_channel("C111", "general")
    push = await town.slack.push("events_api", body)
    assert push.status == 200
    await town.bridge.drain()

    [request] = await town.bridge.requests.all()
    assert request.description == "La farola de la calle Real no funciona \ufffd"
    assert request.department == "lighting" and request.state is Status.ASSIGNED
    resident = await town.bridge.store.find_resident("slack:W111")
    assert resident is not None and resident.name == "Vecina"
    assert await town.bridge.outbox.flush() == 1
    [call] = town.slack.sent("chat.postMessage")
    assert call.params["channel"] == "C111"
    assert call.params["thread_ts"] == body["event"]["ts"]
    assert f"*{request.reference}*" in call.params["text"]

    # Stopped as `junbridge run` stops, then started again on the same store.
    assert town.server is not None
    await town.server.stop()
    await town.channel.stop()
    await town.bridge.close()
    restarted = await make_town()
    assert await restarted.bridge.store.pending_inbound() == []
    assert [r.reference for r in await restarted.bridge.requests.all()] == [request.reference]


async def test_a_reply_with_half_an_emoji_and_a_nul_still_reaches_the_resident(
    town: Town,
) -> None:
    """A reply whose text never came through a channel: a plugin's own, say."""
    reply = Reply(
        text=f"**Aviso**: corte de luz\x00 mañana {HALF_BULB}",
        channel="slack",
        conversation="C0PLAZA",
    )
    await town.bridge.store.write(lambda tx: tx.enqueue(reply, request_reference=None))
    assert await town.bridge.outbox.flush() == 1
    [call] = town.slack.sent("chat.postMessage")
    assert call.params["text"] == "*Aviso*: corte de luz mañana \ufffd"
