"""Promises kept: "is it fixed?", ratings, SLA warnings and escalations, quiet hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from junbridge.model import MessageKind, Status
from junbridge.requests import scheduler
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock

DATA = Path(__file__).parent / "data"
# Friday 4 December 2026, 14:00 in Jun: one business hour left before the weekend, and
# Tuesday 8 December is a holiday.
FRIDAY_14 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
STAFF = dict(channel="slack", conversation="C0LIGHTSTAFF", private=False, user="U0ELECTRIC")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY_14)


def town_config(tmp_path: Path, **town: object) -> Path:
    config = yaml.safe_load((DATA / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(DATA.parent.parent / "menu.yaml")
    lighting = config["departments"]["lighting"]
    lighting["staff"][0]["handles"]["slack"] = "U0ELECTRIC"
    lighting["staff"][1]["handles"] = {"slack": "U0JEFA"}
    lighting["on_duty"] = [{"staff": "electricista"}]  # always on duty in these tests
    config["town"].update(town)
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@pytest.fixture
async def bridge(tmp_path, db_url, clock):
    b = await make_bridge(
        config=town_config(tmp_path), clock=clock, workdir=tmp_path, store_url=db_url
    )
    yield b
    await b.close()


def staff_says(text: str, **extra: object):
    return make_message(text, **{**STAFF, **extra})


async def lamp(bridge):
    handled = await bridge.receive(
        make_message(
            "La farola 12 de la calle Real no funciona",
            channel="twitter",
            photo="3_lamp",
            platform_id="1590000000000000002",
        )
    )
    return handled.request


async def test_the_lamp_story_reopened_then_fixed_closed_and_rated(bridge, clock):
    request = await lamp(bridge)
    ref = request.reference
    # The electrician resolves it with a photo: the resident's X thread gets it.
    resolved = await bridge.receive(staff_says(f"resolve {ref} bombilla nueva", photo="F0FIXED"))
    [notice] = [r for r in resolved.replies if r.channel == "twitter"]
    assert notice.thread == "1590000000000000002" and notice.photo.platform_ref == "F0FIXED"

    # A day later the resident is asked, with buttons.
    clock.advance(24 * 3600)
    assert await scheduler.tick(bridge) >= 1
    asked = [r for r in await bridge.store.replies_for(ref) if r.reply.choices]
    [question] = [r.reply for r in asked if r.reply.channel == "twitter"]
    assert {c.value for c in question.choices} == {f"fixed:yes:{ref}", f"fixed:no:{ref}"}

    # "No": reopened, the electrician told in the staff place, the clock restarted.
    no = await bridge.receive(
        make_message(choice=f"fixed:no:{ref}", channel="twitter", kind=MessageKind.BUTTON)
    )
    assert no.request.state is Status.REOPENED
    assert no.request.expected_datetime > clock.now
    [to_staff] = [r for r in no.replies if r.channel == "slack"]
    assert "reabierta" in to_staff.text and "@U0ELECTRIC" in to_staff.text

    # Fixed for real this time; asked again; on X, a plain "sí" answers.
    await bridge.receive(staff_says(f"resolve {ref} cambiado el cable"))
    clock.advance(24 * 3600)
    await scheduler.tick(bridge)
    yes = await bridge.receive(make_message("sí", channel="twitter"))
    assert yes.request.state is Status.CLOSED
    [rate] = yes.replies
    assert [c.label for c in rate.choices] == ["1", "2", "3", "4", "5"]
    rated = await bridge.receive(
        make_message(choice=f"rating:4:{ref}", channel="twitter", kind=MessageKind.BUTTON)
    )
    assert rated.request.details["rating"] == 4
    actions = [h.action for h in rated.request.history]
    assert actions.count("resolved") == 2 and "reopened" in actions and actions[-1] == "rated"


async def test_silence_after_is_it_fixed_closes_the_request(bridge, clock):
    request = await lamp(bridge)
    await bridge.receive(staff_says(f"resolve {request.reference}"))
    clock.advance(24 * 3600)
    await scheduler.tick(bridge)
    clock.advance(71 * 3600)
    await scheduler.tick(bridge)
    assert (await bridge.requests.get(request.reference)).state is Status.RESOLVED
    clock.advance(2 * 3600)
    await scheduler.tick(bridge)
    closed = await bridge.requests.get(request.reference)
    assert closed.state is Status.CLOSED and "sin respuesta" in closed.history[-1].note


async def test_sla_breaches_at_the_business_hours_moment_and_the_lead_is_told_once(bridge, clock):
    request = await lamp(bridge)
    # 48 business hours (7 a day) from Friday 14:00, skipping the weekend and Tuesday 8
    # December (a holiday): Wednesday 16 December, 13:00 in Jun.
    assert request.expected_datetime == datetime(2026, 12, 16, 12, 0, tzinfo=UTC)
    [warning, breach] = await bridge.store.pending_timers(request.reference)
    # 75% (36 business hours) ends at Monday 14 December's closing time, 15:00.
    assert warning.due_at == datetime(2026, 12, 14, 14, 0, tzinfo=UTC)
    assert breach.due_at == request.expected_datetime

    clock.now = warning.due_at - timedelta(minutes=1)
    assert await scheduler.tick(bridge) == 0
    clock.now = warning.due_at
    assert await scheduler.tick(bridge) == 1
    clock.now = breach.due_at + timedelta(minutes=5)
    assert await scheduler.tick(bridge) == 1
    assert await scheduler.tick(bridge) == 0  # told once
    rows = [
        r.reply
        for r in await bridge.store.replies_for(request.reference)
        if r.reply.conversation == "C0LIGHTSTAFF"
    ]
    alerts = [r.text for r in rows if "plazo" in r.text]
    assert len(alerts) == 2
    assert "25%" in alerts[0] and "@U0ELECTRIC" in alerts[0]
    assert "superado" in alerts[1] and "@U0JEFA" in alerts[1]
    history = [h.action for h in (await bridge.requests.get(request.reference)).history]
    assert history.count("sla_warning") == 1 and history.count("sla_breach") == 1


async def test_a_resolved_request_is_never_escalated(bridge, clock):
    request = await lamp(bridge)
    await bridge.receive(staff_says(f"resolve {request.reference}"))
    clock.now = request.expected_datetime + timedelta(hours=1)
    await scheduler.tick(bridge)
    texts = [r.reply.text for r in await bridge.store.replies_for(request.reference)]
    assert not any("superado" in t for t in texts)


async def test_notices_in_quiet_hours_wait_for_the_morning(tmp_path, clock):
    clock.now = datetime(2026, 12, 3, 22, 30, tzinfo=UTC)  # Thursday 23:30 in Jun
    bridge = await make_bridge(
        config=town_config(tmp_path, quiet_hours="22:00-08:00"), clock=clock, workdir=tmp_path
    )
    try:
        request = await lamp(bridge)
        # The answer to a resident who just wrote goes at once: they are awake.
        [answer] = [
            r
            for r in await bridge.store.replies_for(request.reference)
            if r.reply.channel == "twitter"
        ]
        assert answer.next_attempt_at == clock.now
        await bridge.receive(staff_says(f"resolve {request.reference}"))
        [notice] = [
            r
            for r in await bridge.store.replies_for(request.reference)
            if r.reply.channel == "twitter" and "resuelto" in r.reply.text
        ]
        assert notice.next_attempt_at == datetime(2026, 12, 4, 7, 0, tzinfo=UTC)  # 08:00
    finally:
        await bridge.close()


async def test_card_buttons_work_for_staff(bridge):
    request = await lamp(bridge)
    [card] = [
        r.reply
        for r in await bridge.store.replies_for(request.reference)
        if r.reply.conversation == "C0LIGHTSTAFF"
    ]
    values = [c.value for c in card.choices]
    assert f"staff:start:{request.reference}" in values
    pressed = await bridge.receive(
        staff_says("", choice=f"staff:start:{request.reference}", kind=MessageKind.BUTTON)
    )
    assert pressed.request.state is Status.IN_PROGRESS
    [needs_more] = (
        await bridge.receive(
            staff_says("", choice=f"staff:reject:{request.reference}", kind=MessageKind.BUTTON)
        )
    ).replies
    assert "necesita un motivo" in needs_more.text


async def test_refer_moves_the_request_with_its_history(bridge):
    request = await lamp(bridge)
    referred = await bridge.receive(staff_says(f"refer {request.reference} policía local"))
    moved = referred.request
    assert moved.department == "police" and moved.state is Status.REFERRED
    assert moved.privacy == "private"
    assert [h.action for h in moved.history][:2] == ["received", "assigned"]


async def test_staff_ack_on_an_assigned_request_is_recorded_not_refused(bridge):
    request = await lamp(bridge)
    acked = await bridge.receive(staff_says(f"ack {request.reference}"))
    assert acked.request.state is Status.ASSIGNED
    assert acked.request.history[-1].action == "acknowledged"
    assert any(r.channel == "twitter" for r in acked.replies)


async def test_a_first_response_target_alerts_staff_when_nobody_answered(tmp_path, clock):
    path = town_config(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["departments"]["lighting"]["first_response_hours"] = 2
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    bridge = await make_bridge(config=path, clock=clock, workdir=tmp_path)
    try:
        quiet = await lamp(bridge)
        answered = await bridge.receive(
            make_message("La farola 13 de la calle Real parpadea", channel="twitter", user="otra")
        )
        await bridge.receive(staff_says(f"ack {answered.request.reference}"))
        clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday 09:00: 2 business hours on
        await scheduler.tick(bridge)
        for request, alerted in ((quiet, True), (answered.request, False)):
            texts = [r.reply.text for r in await bridge.store.replies_for(request.reference)]
            assert any("nadie ha respondido" in t for t in texts) is alerted
    finally:
        await bridge.close()


async def test_staff_act_on_their_requests_from_any_staff_place_and_only_on_theirs(tmp_path, clock):
    path = town_config(tmp_path)
    config = yaml.safe_load(path.read_text())
    police = config["departments"]["police"]
    police["staff_place"] = "slack:C0POLICESTAFF"
    police["staff"][0]["handles"] = {"slack": "U0AGENTE"}
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    bridge = await make_bridge(config=path, clock=clock, workdir=tmp_path)
    try:
        request = await lamp(bridge)
        ref = request.reference
        # The police officer may not resolve the lamp, even from the lighting channel.
        refused = await bridge.receive(staff_says(f"resolve {ref}", user="U0AGENTE"))
        assert "Solo el personal de Alumbrado" in refused.replies[0].text
        # The electrician may, even from the police channel.
        done = await bridge.receive(staff_says(f"resolve {ref}", conversation="C0POLICESTAFF"))
        assert done.request.state is Status.RESOLVED
    finally:
        await bridge.close()


async def test_answers_arriving_together_each_reach_the_request_that_asked(bridge, clock):
    # Ana reports lamp 5 and Berta reports it again (she joins Ana's request); Carlos and
    # Diego report lamps 6 and 7. All are resolved, and a day later everyone is asked.
    reports = {}
    for user, number in (("ana", 5), ("berta", 5), ("carlos", 6), ("diego", 7)):
        text = f"La farola {number} de la calle Real no funciona"
        reports[user] = (await bridge.receive(make_message(text, user=user))).request
    assert reports["berta"].reference == reports["ana"].reference
    for user in ("ana", "carlos", "diego"):
        await bridge.receive(staff_says(f"resolve {reports[user].reference}"))
    clock.advance(24 * 3600)
    await scheduler.tick(bridge)

    # Their answers arrive in one burst with a new report: the worker reads and decides
    # them together. Each answer reaches the request that asked that resident.
    burst = [
        make_message("sí", user="berta"),
        make_message("no, sigue apagada", user="carlos"),
        make_message("sí", user="diego"),
        make_message("La farola 8 de la calle Real no funciona", user="elena"),
    ]
    await asyncio.gather(*(bridge.submit(m) for m in burst))
    await bridge.drain()

    state = {u: (await bridge.requests.get(r.reference)).state for u, r in reports.items()}
    assert state == {
        "ana": Status.CLOSED,  # Berta, who reported it too, said it is fixed
        "berta": Status.CLOSED,
        "carlos": Status.REOPENED,
        "diego": Status.CLOSED,
    }
    new = [r for r in await bridge.requests.all() if r.address_id == "lamp-8"]
    assert [r.state for r in new] == [Status.ASSIGNED]
