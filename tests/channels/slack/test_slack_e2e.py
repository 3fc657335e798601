"""Slack end to end in events mode: the emulator signs and POSTs events as Slack does, bolt
verifies them in the bridge's web app, the bridge answers through the real slack_sdk client.
"""

from __future__ import annotations

import asyncio
import time

from slack_town import Town

from junbridge.channels.slack import PROFILE_SECONDS
from junbridge.model import MessageKind, Status

LAMP = "La farola de la calle Real no funciona"
AMBIGUOUS = "La farola de la esquina: vandalismo otra vez"


async def test_a_signed_message_becomes_a_request_answered_in_its_thread(town: Town) -> None:
    push = await town.slack.resident_says(LAMP)
    assert push.status == 200
    await town.bridge.drain()
    [request] = await town.bridge.requests.open()
    assert request.department == "lighting" and request.state is Status.ASSIGNED
    assert request.description == LAMP
    assert await town.bridge.outbox.flush() == 1
    [call] = town.slack.sent("chat.postMessage")
    assert call.params["channel"] == "C0PLAZA"
    assert call.params["thread_ts"] == push.ts
    # users.info said es-ES: the answer is Spanish, with the reference in bold mrkdwn.
    assert f"*{request.reference}*" in call.params["text"]
    assert "electricista" in call.params["text"]
    resident = await town.bridge.store.find_resident("slack:U0VECINA")
    assert resident is not None and resident.name == "María"


async def test_slack_gets_its_answer_before_the_profile_lookup(town: Town) -> None:
    # users.info does not answer until the test lets it: the event must be answered anyway
    # (Slack allows 3 s), so the profile is looked up after answering, by the worker.
    slow = town.slack.hold("users.info")
    push = await asyncio.wait_for(town.slack.resident_says(LAMP), timeout=10)
    assert push.status == 200
    assert town.inbound() == [(f"C0PLAZA:{push.ts}", "pending")]
    slow.set()
    await town.bridge.drain()
    [request] = await town.bridge.requests.open()
    assert await town.bridge.outbox.flush() == 1
    # The profile still arrived in time for the answer: Spanish, and María's name kept.
    [call] = town.slack.sent("chat.postMessage")
    assert f"*{request.reference}*" in call.params["text"] and "electricista" in call.params["text"]
    resident = await town.bridge.store.find_resident("slack:U0VECINA")
    assert resident is not None and resident.name == "María"


async def test_forged_unsigned_and_stale_events_are_refused_and_nothing_is_stored(
    town: Town,
) -> None:
    forged = await town.slack.resident_says(LAMP, signing_secret="not-the-town-secret")
    unsigned = await town.slack.resident_says(LAMP, signed=False)
    stale = await town.slack.resident_says(LAMP, timestamp=int(time.time()) - 6 * 60)
    assert (forged.status, unsigned.status, stale.status) == (401, 401, 401)
    await town.bridge.drain()
    assert town.inbound() == []
    assert await town.bridge.requests.all() == []


async def test_a_retried_event_makes_one_request(town: Town) -> None:
    push = await town.slack.resident_says(LAMP)
    retry = await town.slack.redeliver(push, retry_num=1, reason="http_timeout")
    assert (push.status, retry.status) == (200, 200)
    await town.bridge.drain()
    assert len(await town.bridge.requests.all()) == 1
    assert town.inbound() == [(f"C0PLAZA:{push.ts}", "done")]
    assert await town.bridge.outbox.flush() == 1


async def test_a_mention_sends_two_events_and_makes_one_request(town: Town) -> None:
    mention, message = await town.slack.resident_mentions_bot(LAMP)
    assert mention.body["event"]["type"] == "app_mention"
    assert message.body["event"]["type"] == "message"
    assert (mention.status, message.status) == (200, 200)
    await town.bridge.drain()
    [request] = await town.bridge.requests.all()
    assert request.description == LAMP  # without "<@U0JUNBOT>"
    assert len(town.inbound()) == 1
    assert await town.bridge.outbox.flush() == 1


async def test_a_button_press_reaches_the_bridge_through_the_interactivity_url(
    town: Town,
) -> None:
    await town.slack.resident_says(AMBIGUOUS)
    await town.bridge.drain()
    assert await town.bridge.outbox.flush() == 2
    notice, question = town.slack.posts()
    # Triage is private: a notice in the thread, the question in the resident's DM.
    assert notice["channel"] == "C0PLAZA" and "mensaje privado" in notice["text"]
    assert question["channel"] == "D0VECINA" and "thread_ts" not in question
    assert [c.params["users"] for c in town.slack.sent("conversations.open")] == ["U0VECINA"]

    press = await town.slack.resident_presses(question["ts"], "dept:lighting")
    assert press.status == 200
    assert press.body["type"] == "block_actions"
    await town.bridge.drain()
    [request] = await town.bridge.requests.all()
    assert request.department == "lighting"
    assert request.description == AMBIGUOUS
    # The pressed message loses its buttons, so the choice is made once.
    [update] = await town.slack.wait_for("chat.update")
    assert update.params["ts"] == question["ts"]
    shown = town.slack.posts("D0VECINA")[0]["blocks"]
    assert [b["type"] for b in shown] == ["section", "context"]
    assert shown[-1]["elements"][0]["text"] == "✓ Alumbrado público"


async def test_an_edit_updates_the_description_and_opens_nothing_new(town: Town) -> None:
    push = await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    await town.bridge.outbox.flush()
    assert push.ts is not None
    edited = "La farola 112 de la calle Real no funciona"
    edit = await town.slack.resident_edits(push.ts, edited)
    assert edit.status == 200
    await town.bridge.drain()
    [request] = await town.bridge.requests.all()
    assert request.description == edited
    assert request.history[-1].action == "edited"
    assert [status for _, status in town.inbound()] == ["done", "done"]
    assert await town.bridge.outbox.flush() == 0


async def test_bot_echoes_joins_and_other_events_are_acknowledged_and_ignored(
    town: Town,
) -> None:
    join = await town.slack.resident_joins(user="U0NEIGHBOR")
    await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    await town.bridge.outbox.flush()
    echo = await town.slack.bot_echoes()
    assert echo.body["event"]["bot_id"] == "B0JUNBOT"
    reaction = await town.slack.push_event(
        {
            "type": "reaction_added",
            "user": "U0VECINA",
            "reaction": "thumbsup",
            "item": {"type": "message", "channel": "C0PLAZA", "ts": echo.ts},
            "event_ts": town.slack.next_ts(),
        }
    )
    # Answered 200 all the same: Slack disables apps that fail too many deliveries.
    assert (join.status, echo.status, reaction.status) == (200, 200, 200)
    await town.bridge.drain()
    assert len(town.inbound()) == 1
    assert len(await town.bridge.requests.all()) == 1


async def test_a_shared_photo_is_a_photo_message(town: Town) -> None:
    push = await town.slack.resident_shares_file(LAMP)
    await town.bridge.drain()
    [request] = await town.bridge.requests.all()
    assert request.department == "lighting"
    [(platform_id, _)] = town.inbound()
    assert platform_id == f"C0PLAZA:{push.ts}"
    [file] = push.body["event"]["files"]
    message = town.channel.parse(push.body)
    assert message is not None and message.kind is MessageKind.PHOTO
    assert message.attachments[0].platform_ref == file["id"]
    assert message.attachments[0].url == file["url_private"]


async def test_a_direct_message_is_answered_in_the_direct_message(town: Town) -> None:
    push = await town.slack.resident_says(
        "The street light on Real Street is flickering", user="U0NEIGHBOR", channel_type="im"
    )
    await town.bridge.drain()
    assert await town.bridge.outbox.flush() == 1
    [call] = town.slack.sent("chat.postMessage")
    assert call.params["channel"] == "D0NEIGHBOR" and "thread_ts" not in call.params
    assert push.body["event"]["channel"] == "D0NEIGHBOR"
    # users.info said en-GB.
    assert "Expected by" in call.params["text"]


async def test_a_failing_users_info_loses_nothing(town: Town) -> None:
    town.slack.fail_next("users.info", status=200, body={"ok": False, "error": "fatal_error"})
    push = await town.slack.resident_says(LAMP)
    assert push.status == 200
    await town.bridge.drain()
    assert len(await town.bridge.requests.all()) == 1
    # A stranger users.info does not know is still heard.
    await town.slack.resident_says("Hay un bache enorme en la plaza", user="U0STRANGER")
    await town.bridge.drain()
    assert len(await town.bridge.requests.all()) == 2


async def test_a_member_who_renames_herself_is_known_by_the_new_name_within_the_hour(
    town: Town,
) -> None:
    await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    # María calls herself Maruja on Slack now.
    town.slack.workspace.add_user("U0VECINA", name="vecina", real_name="Maruja", locale="es-ES")
    await town.slack.resident_says("Hay un bache enorme en la plaza")
    await town.bridge.drain()
    # Two messages in minutes: the profile was asked for once, the name is as it was.
    assert len(town.slack.sent("users.info")) == 1
    resident = await town.bridge.store.find_resident("slack:U0VECINA")
    assert resident is not None and resident.name == "María"
    # An hour later her next message reads the profile again: the town knows her as Maruja.
    town.clock.advance(PROFILE_SECONDS + 1)
    await town.slack.resident_says("La farola de la plaza parpadea")
    await town.bridge.drain()
    assert len(town.slack.sent("users.info")) == 2
    resident = await town.bridge.store.find_resident("slack:U0VECINA")
    assert resident is not None and resident.name == "Maruja"
