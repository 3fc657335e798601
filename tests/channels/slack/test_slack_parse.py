"""Slack payloads to Messages: each captured fixture, through parse() and through bolt."""

from __future__ import annotations

import contextlib
import copy
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from slack_town import FIXTURES, Town

from junbridge.channels.base import InvalidPayload
from junbridge.channels.slack import SlackChannel
from junbridge.channels.slack_events import parse, plain
from junbridge.model import Attachment, Message, MessageKind, Sender
from junbridge.testing.emulators import slack_payloads as payloads


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def at(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


EXPECTED: dict[str, Message | None] = {
    "message.json": Message(
        channel="slack",
        platform_id="C111:1596183880.004200",
        conversation="C111",
        sender=Sender(id="W111", handle="W111"),
        sent_at=at("1596183880.004200"),
        text="Hello World!",
        thread="1596183880.004200",
    ),
    # The mention of the app opens an app_mention's text; it is not the resident's words.
    "app_mention.json": Message(
        channel="slack",
        platform_id="C111:1595926230.009600",
        conversation="C111",
        sender=Sender(id="W222", handle="W222"),
        sent_at=at("1595926230.009600"),
        text="Hi there!",
        thread="1595926230.009600",
    ),
    "message_file_share.json": Message(
        channel="slack",
        platform_id="C111:1652227646.593159",
        conversation="C111",
        sender=Sender(id="U111", handle="U111"),
        sent_at=at("1652227646.593159"),
        text="Hi there!",
        kind=MessageKind.PHOTO,
        attachments=(
            Attachment(
                kind="photo",
                platform_ref="F111",
                url="https://files.slack.com/files-pri/T111-F111/file.png",
                name="file.png",
                mime_type="image/png",
            ),
        ),
        thread="1652227646.593159",
    ),
    "url_verification.json": None,
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_the_expected_message(name: str) -> None:
    body = load(name)
    message = parse(body)
    assert message == EXPECTED[name]
    if message is not None:
        assert message.raw == body


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_fixture_through_bolt_is_stored_as_the_expected_message(
    town: Town, name: str
) -> None:
    """Signed and POSTed to the web app: bolt verifies it, our listener stores it."""
    raw = (FIXTURES / name).read_text()
    headers = {"Content-Type": "application/json", **town.slack.signature(raw)}
    assert town.server is not None
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.post(
            town.server.url + "/webhooks/slack/events", content=raw, headers=headers
        )
    assert answer.status_code == 200
    await town.bridge.drain()
    with contextlib.closing(sqlite3.connect(town.workdir / "junbridge.db")) as db:
        stored = [
            Message.from_json(json.loads(m)) for (m,) in db.execute("SELECT message FROM inbound")
        ]
    expected = EXPECTED[name]
    if expected is None:
        assert stored == []
        assert answer.json() == {"challenge": load(name)["challenge"]}
    else:
        # The fixtures' users are unknown to the emulator: users.info fails, the message stays.
        assert stored == [expected]


def test_a_file_name_and_text_with_half_an_emoji_and_a_nul_are_repaired() -> None:
    """A copy of message_file_share.json, derived as follows.

    Added: a NUL and half of 💡 at the end of the text and inside the file's name.
    """
    body = load("message_file_share.json")
    body["event"]["text"] += "\x00 \ud83d"
    body["event"]["files"][0]["name"] = "file\x00\ud83d.png"
    message = parse(json.loads(json.dumps(body)))  # through the wire's escapes
    assert message is not None
    assert message.text == "Hi there! \ufffd"
    assert message.attachments[0].name == "file\ufffd.png"
    # The raw body is stored with the message: repaired the same way.
    assert message.raw is not None
    assert message.raw["event"]["files"][0]["name"] == "file\ufffd.png"


def test_a_channel_parses_with_its_own_bot_ignored() -> None:
    settings = SlackChannel.Settings.model_validate(
        {"bot_token": {"$env": "A"}, "signing_secret": {"$env": "B"}}
    )
    channel = SlackChannel(settings)
    channel.bot_user_id = "W111"
    # message.json was written by W111: to a bot whose user is W111, that is its own echo.
    assert channel.parse(load("message.json")) is None
    assert channel.parse(load("app_mention.json")) is not None


def test_an_unconfigured_channel_still_parses() -> None:
    """``junbridge normalize`` parses with no secrets set."""
    channel = SlackChannel(SlackChannel.Settings.model_construct())
    assert channel.parse(load("app_mention.json")) == EXPECTED["app_mention.json"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.pop("type"), "no 'type'"),
        (lambda b: b.pop("event"), "no 'event'"),
        (lambda b: b["event"].pop("channel"), "no 'channel'"),
        (lambda b: b["event"].update(ts="yesterday"), "not a Slack timestamp"),
        (lambda b: b["event"].update(files="F111"), "malformed Slack event_callback"),
    ],
)
def test_malformed_bodies_are_invalid_payloads(change: Any, problem: str) -> None:
    body = copy.deepcopy(load("message_file_share.json"))
    change(body)
    with pytest.raises(InvalidPayload, match=problem):
        parse(body)


def test_a_non_object_interactivity_payload_is_invalid() -> None:
    with pytest.raises(InvalidPayload, match="not JSON"):
        parse({"payload": "{not json"})
    with pytest.raises(InvalidPayload, match="JSON object"):
        parse({"payload": "[1, 2]"})


SLACK = payloads.Identity(team_id="T1", app_id="A1", bot_user_id="U0BOT", bot_id="B0BOT")


def said(text: str, *, channel: str = "C1", channel_type: str = "channel", **extra: Any) -> Any:
    event = payloads.person_message(
        identity=SLACK,
        user="U0VECINA",
        text=text,
        ts="1764061200.000100",
        channel=channel,
        channel_type=channel_type,
        **extra,
    )
    return event


def test_a_direct_message_is_private_and_not_threaded() -> None:
    event = said("hola", channel="D0VECINA", channel_type="im")
    message = parse(payloads.event_callback(identity=SLACK, event=event))
    assert message is not None
    assert message.is_private and message.conversation == "D0VECINA" and message.thread is None


def test_a_thread_reply_answers_in_its_thread() -> None:
    event = said("es la 112", thread_ts="1764061100.000001")
    message = parse(payloads.event_callback(identity=SLACK, event=event))
    assert message is not None and message.thread == "1764061100.000001"


def test_edits_only_when_the_resident_changed_the_text() -> None:
    old = said("La farola de la calle Real")
    edit = payloads.message_changed(
        identity=SLACK, old=old, text="La farola 112 de la calle Real", ts="1764061300.000200"
    )
    message = parse(payloads.event_callback(identity=SLACK, event=edit))
    assert message is not None and message.kind is MessageKind.EDIT
    assert message.edit_of == "C1:1764061200.000100"
    assert message.platform_id == "C1:1764061200.000100:edit:1764061300.000200"
    assert message.text == "La farola 112 de la calle Real"
    assert message.sent_at == at("1764061300.000200")
    # A link preview or a thread's reply count changes the message without an edit mark.
    unfurl = copy.deepcopy(edit)
    del unfurl["message"]["edited"]
    assert parse(payloads.event_callback(identity=SLACK, event=unfurl)) is None
    same = payloads.message_changed(identity=SLACK, old=old, text=old["text"], ts="1.2")
    assert parse(payloads.event_callback(identity=SLACK, event=same)) is None


def test_joins_and_bot_posts_are_ignored() -> None:
    join = payloads.channel_join(user="U0VECINA", channel="C1", channel_type="channel", ts="1.1")
    ours = payloads.bot_message(
        identity=SLACK,
        posted={"type": "message", "text": "JUN-0001", "ts": "1.2", "channel": "C1"},
        channel_type="channel",
    )
    for event in (join, ours):
        assert parse(payloads.event_callback(identity=SLACK, event=event)) is None


def test_a_button_press_is_a_choice_in_the_thread_of_the_question() -> None:
    question = {
        "type": "message",
        "text": "¿De qué se trata?",
        "ts": "1764061250.000300",
        "thread_ts": "1764061200.000100",
        "channel": "C1",
    }
    button = {
        "type": "button",
        "action_id": "choice-1",
        "text": {"type": "plain_text", "text": "Alumbrado público", "emoji": True},
        "value": "dept:lighting",
    }
    body = payloads.block_actions(
        identity=SLACK,
        user={"id": "U0VECINA", "name": "vecina"},
        message=question,
        channel_name="plaza",
        button=button,
        block_id="b1",
        action_ts="1764061260.000400",
        response_url="http://127.0.0.1/actions",
    )
    message = parse({"payload": json.dumps(body)})
    assert message is not None
    assert (message.kind, message.choice, message.text) == (
        MessageKind.BUTTON,
        "dept:lighting",
        "Alumbrado público",
    )
    assert message.platform_id == "action:1764061250.000300:1764061260.000400"
    assert (message.conversation, message.thread) == ("C1", "1764061200.000100")
    other = copy.deepcopy(body)
    other["actions"][0]["action_id"] = "someone-elses-button"
    assert parse(other) is None


def test_slack_markup_is_read_as_plain_text() -> None:
    text = (
        "<@U0BOT> la farola &amp; el banco de <#C1|plaza>, dice <@U2|paco>: "
        "<https://jun.es/r/JUN-0001|el aviso> <!here> &lt;3"
    )
    assert plain(text, bots={"U0BOT"}) == (
        "la farola & el banco de #plaza, dice @paco: el aviso (https://jun.es/r/JUN-0001) @here <3"
    )
    assert plain("<@U9> hola", mention=True) == "hola"
    assert plain("<mailto:a@jun.es|a@jun.es> <https://jun.es>") == "a@jun.es https://jun.es"
