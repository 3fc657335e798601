"""Each department through the whole bridge, in Spanish and English, as residents see it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from junbridge.model import Status
from junbridge.testing import make_bridge, make_message

DATA = Path(__file__).parent / "data"
# Wednesday 25 November 2026 in Jun (UTC+1).
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WEDNESDAY_2330 = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)


@pytest.fixture
def clock():
    now = [WEDNESDAY_10]

    def read() -> datetime:
        return now[0]

    read.now = now  # type: ignore[attr-defined]
    return read


@pytest.fixture
async def bridge(tmp_path, clock):
    b = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path)
    yield b
    await b.close()


def texts(handled) -> list[str]:
    return [reply.text for reply in handled.replies]


@pytest.mark.parametrize(
    ("text", "lang", "words"),
    [
        ("Esta noche hay una fiesta con música alta en la calle Nueva", "es", "Policía Local"),
        ("There is a party with loud music next door", "en", "Local Police"),
    ],
)
async def test_night_noise_gets_a_short_promise(bridge, clock, text, lang, words):
    clock.now[0] = WEDNESDAY_2330
    handled = await bridge.receive(make_message(text, lang=lang))
    request = handled.request
    assert request.department == "police" and request.details["category"] == "noise"
    assert (request.expected_datetime - WEDNESDAY_2330).total_seconds() == 30 * 60
    assert request.assignee == "agente de guardia"
    assert any(words in t and request.reference in t for t in texts(handled))


@pytest.mark.parametrize(
    ("text", "lang", "first"),
    [
        ("Hay una pelea en la plaza y un chico está herido", "es", "llama al **112**"),
        ("Someone has a knife outside the bar", "en", "call **112**"),
    ],
)
async def test_urgent_police_words_answer_with_112_before_anything_else(bridge, text, lang, first):
    handled = await bridge.receive(make_message(text, lang=lang))
    assert first in handled.replies[0].text
    assert handled.request.details["urgent"] is True


async def test_doctor_asked_publicly_on_x_continues_in_private_and_books(bridge):
    await bridge.store.verify_resident(
        (await bridge.store.resident_for("twitter", make_message().sender)).identities[0],
        by="administrativa",
        at=WEDNESDAY_10,
    )
    public = await bridge.receive(
        make_message("@AytoJun quiero cita con el médico, me duele la espalda", channel="twitter")
    )
    [notice, offer] = public.replies
    assert not notice.private and "mensaje privado" in notice.text
    assert "espalda" not in notice.text
    assert offer.private and len(offer.choices) == 4
    # Her answer arrives as a direct message: it reaches the doctor, not triage.
    booked = await bridge.receive(
        make_message(
            choice=offer.choices[1].value, channel="twitter", private=True, conversation="dm-vecina"
        )
    )
    assert booked.department == "doctor"
    assert booked.request.details["slot"] == offer.choices[1].value.removeprefix("slot:")
    assert booked.request.state is Status.ACKNOWLEDGED and booked.request.privacy == "private"
    assert all(r.conversation == "dm-vecina" and not r.private for r in booked.replies)


@pytest.mark.parametrize("lang", ["es", "en"])
async def test_doctor_books_then_changes_the_same_appointment(bridge, lang):
    await bridge.store.verify_resident(
        (await bridge.store.resident_for("telegram", make_message().sender)).identities[0],
        by="administrativa",
        at=WEDNESDAY_10,
    )
    words = {"es": "Quiero pedir cita con el médico", "en": "I need a doctor appointment"}
    offer = (await bridge.receive(make_message(words[lang], lang=lang))).replies[0]
    booked = await bridge.receive(make_message(choice=offer.choices[0].value, lang=lang))
    change = next(c.value for c in booked.replies[0].choices if c.value == "change")
    again = (await bridge.receive(make_message(choice=change, lang=lang))).replies[0]
    moved = await bridge.receive(make_message(choice=again.choices[-1].value, lang=lang))
    [request] = await bridge.requests.all(department="doctor")
    assert request.reference == booked.request.reference == moved.request.reference
    assert request.details["slot"] == again.choices[-1].value.removeprefix("slot:")


async def test_an_unverified_resident_is_told_how_to_verify(bridge):
    handled = await bridge.receive(make_message("Necesito cita con el médico", user="nuevo"))
    assert handled.request is None
    assert "DNI" in handled.replies[0].text


@pytest.mark.parametrize(
    ("text", "lang", "dish"),
    [
        # menu.yaml: week 48 of 2026 is the rotation's first week; Wednesday is chickpea stew.
        ("¿Qué hay de comer hoy en el comedor?", "es", "Potaje de garbanzos con espinacas"),
        ("What's for lunch today at school?", "en", "Chickpea and spinach stew"),
    ],
)
async def test_canteen_menu_is_answered_and_closed_at_once(bridge, text, lang, dish):
    handled = await bridge.receive(make_message(text, lang=lang))
    request = handled.request
    assert request.department == "school"
    assert request.state is Status.CLOSED and request.expected_datetime is not None
    [answer] = texts(handled)
    assert dish in answer and "25" in answer


async def test_canteen_menu_for_the_week_lists_five_days(bridge):
    handled = await bridge.receive(make_message("menú del comedor de esta semana"))
    [answer] = texts(handled)
    assert (
        sum(day in answer.lower() for day in ("lunes", "martes", "miércoles", "jueves", "viernes"))
        == 5
    )


@pytest.mark.parametrize(
    ("text", "lang", "expect"),
    [
        ("La farola 14 de la plaza parpadea", "es", "Previsto"),
        ("Lamp 14 in the square is flickering", "en", "Expected by"),
    ],
)
async def test_lighting_in_both_languages(bridge, text, lang, expect):
    handled = await bridge.receive(make_message(text, lang=lang))
    assert handled.request.address_id == "lamp-14"
    assert expect in texts(handled)[0]


async def test_an_appointment_is_not_a_promise_staff_are_warned_about(bridge):
    resident = await bridge.store.resident_for("telegram", make_message().sender)
    await bridge.store.verify_resident(resident.identities[0], by="desk", at=WEDNESDAY_10)
    offer = (await bridge.receive(make_message("Quiero cita con el médico"))).replies[0]
    booked = await bridge.receive(make_message(choice=offer.choices[0].value))
    kinds = {t.kind for t in await bridge.store.pending_timers(booked.request.reference)}
    assert not kinds & {"sla_warning", "sla_breach"}
