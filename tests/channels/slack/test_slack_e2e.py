"""Slack end to end in events mode: the emulator signs and POSTs events as Slack does, bolt
verifies them in the bridge's web app, the bridge answers through the real slack_sdk client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from slack_town import Town

from junbridge.channels.slack_people import PROFILE_SECONDS
from junbridge.model import MessageKind, Status
from junbridge.testing.emulators.slack import SlackEmulator

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
    # Her profile (users.list) says es-ES: the answer is Spanish, the reference in bold.
    assert f"*{request.reference}*" in call.params["text"]
    assert "electricista" in call.params["text"]
    resident = await town.bridge.store.find_resident("slack:U0VECINA")
    assert resident is not None and resident.name == "María"


async def test_slack_gets_its_answer_before_the_profile_lookup(town: Town) -> None:
    # Lucía joined the workspace after the bridge read its members: she is looked up
    # (users.info) when she writes. users.info does not answer until the test lets it: the
    # event must be answered anyway (Slack allows 3 s), so the lookup comes after answering.
    town.slack.workspace.add_user("U0LUCIA", name="lucia", real_name="Lucía Nueva")
    slow = town.slack.hold("users.info")
    push = await asyncio.wait_for(town.slack.resident_says(LAMP, user="U0LUCIA"), timeout=10)
    assert push.status == 200
    assert town.inbound() == [(f"C0PLAZA:{push.ts}", "pending")]
    slow.set()
    await town.bridge.drain()
    [request] = await town.bridge.requests.open()
    assert await town.bridge.outbox.flush() == 1
    # The profile still arrived in time for the answer: Spanish, and Lucía's name kept.
    [call] = town.slack.sent("chat.postMessage")
    assert f"*{request.reference}*" in call.params["text"] and "electricista" in call.params["text"]
    assert [c.params["user"] for c in town.slack.sent("users.info")] == ["U0LUCIA"]
    resident = await town.bridge.store.find_resident("slack:U0LUCIA")
    assert resident is not None and resident.name == "Lucía"


async def test_members_read_at_the_start_cost_no_call_when_they_write(town: Town) -> None:
    # The bridge read the workspace's members once, as it started (users.list, with their
    # locales). Residents writing at once then cost no users.info call each: a burst of
    # them after a restart stays far from Slack's limit on it.
    [listed] = town.slack.sent("users.list")
    assert str(listed.params["include_locale"]).lower() in ("1", "true")
    await asyncio.gather(
        town.slack.resident_says(LAMP),
        town.slack.resident_says("The street light on Real Street is out", user="U0NEIGHBOR"),
    )
    await town.bridge.drain()
    assert await town.bridge.outbox.flush() == 2
    assert town.slack.sent("users.info") == []
    maria = await town.bridge.store.find_resident("slack:U0VECINA")
    tom = await town.bridge.store.find_resident("slack:U0NEIGHBOR")
    assert maria is not None and maria.name == "María"
    assert tom is not None and tom.name == "Tom"
    # Each answered in the language of their profile.
    answers = {c.params["thread_ts"]: c.params["text"] for c in town.slack.sent("chat.postMessage")}
    assert sum("Expected by" in text for text in answers.values()) == 1


async def test_a_long_member_list_is_read_page_by_page_through_slack_slowing_it_down(
    slack: SlackEmulator, make_town: Callable[..., Awaitable[Town]]
) -> None:
    # A town's workspace of 450 members: three pages of users.list, the first answered
    # "slow down" (429) once, as Slack does past its Tier 2 limit: asked again, not given up.
    for n in range(447):
        slack.workspace.add_user(f"U1{n:05d}", name=f"vecino{n}", real_name=f"Vecino {n}")
    slack.fail_next(
        "users.list",
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "0"},
    )
    town = await make_town("events")
    calls = [c.params.get("cursor") for c in town.slack.calls if c.method == "users.list"]
    assert len(calls) == 4 and calls[0] is None  # one page asked twice
    await town.slack.resident_says(LAMP, user="U100446")
    await town.bridge.drain()
    assert town.slack.sent("users.info") == []
    resident = await town.bridge.store.find_resident("slack:U100446")
    assert resident is not None and resident.name == "Vecino"


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
    # His profile says en-GB.
    assert "Expected by" in call.params["text"]


async def test_a_failing_users_info_loses_nothing(town: Town) -> None:
    # Lucía joined after the start: her profile is asked for, and Slack fails to answer.
    town.slack.workspace.add_user("U0LUCIA", name="lucia", real_name="Lucía Nueva")
    town.slack.fail_next("users.info", status=200, body={"ok": False, "error": "fatal_error"})
    push = await town.slack.resident_says(LAMP, user="U0LUCIA")
    assert push.status == 200
    await town.bridge.drain()
    assert len(town.slack.refused("users.info")) == 1
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
    # Two messages in minutes: her profile as read at the start, no call, the name as it was.
    assert town.slack.sent("users.info") == []
    resident = await town.bridge.store.find_resident("slack:U0VECINA")
    assert resident is not None and resident.name == "María"
    # An hour later her next message reads the profile again: the town knows her as Maruja.
    town.clock.advance(PROFILE_SECONDS + 1)
    await town.slack.resident_says("La farola de la plaza parpadea")
    await town.bridge.drain()
    assert len(town.slack.sent("users.info")) == 1
    resident = await town.bridge.store.find_resident("slack:U0VECINA")
    assert resident is not None and resident.name == "Maruja"
