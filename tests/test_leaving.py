"""An open conversation holds the resident's answers, not everything they write next."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from junbridge.model import Status
from junbridge.testing import make_bridge, make_message

DATA = Path(__file__).parent / "data"
# Wednesday 25 November 2026, 10:00 in Jun: the surgery is open, the canteen serves stew.
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
STEW = "Potaje de garbanzos con espinacas"


@pytest.fixture
async def bridge(tmp_path):
    b = await make_bridge(config=DATA / "jun.yaml", clock=lambda: WEDNESDAY_10, workdir=tmp_path)
    resident = await b.store.resident_for("telegram", make_message().sender)
    await b.store.verify_resident(resident.identities[0], by="administrativa", at=WEDNESDAY_10)
    yield b
    await b.close()


def says(handled) -> str:
    return "\n".join(reply.text for reply in handled.replies)


async def book(bridge):
    """The resident asks for an appointment and takes the first slot offered."""
    offer = (await bridge.receive(make_message("Quiero cita con el médico"))).replies[0]
    return await bridge.receive(make_message(choice=offer.choices[0].value))


async def test_after_booking_the_canteen_a_full_bin_and_thanks_each_get_their_own_answer(bridge):
    booked = (await book(bridge)).request

    canteen = await bridge.receive(make_message("¿Qué hay de comer hoy en el cole?"))
    assert canteen.department == "school" and STEW in says(canteen)
    assert "Tu cita" not in says(canteen)

    bin_ = await bridge.receive(make_message("El contenedor de la plaza está lleno"))
    assert bin_.department == "triage" and bin_.request.reference != booked.reference
    assert bin_.request.reference in says(bin_) and "Tu cita" not in says(bin_)

    thanks = await bridge.receive(make_message("gracias, nada más"))
    assert thanks.request is None
    assert says(thanks) == "¡A ti! Aquí estamos para lo que necesites."

    [appointment] = await bridge.requests.all(department="doctor")
    assert appointment == booked


async def test_a_change_asked_after_the_canteen_question_still_reaches_the_doctor(bridge):
    booked = (await book(bridge)).request
    canteen = await bridge.receive(make_message("¿Qué hay de comer hoy en el cole?"))
    assert STEW in says(canteen)

    again = await bridge.receive(make_message("cámbiala al jueves"))
    assert again.department == "doctor" and again.replies[0].choices
    moved = await bridge.receive(make_message(choice=again.replies[0].choices[-1].value))
    assert moved.request.reference == booked.reference
    assert moved.request.details["slot"] != booked.details["slot"]


async def test_the_canteen_asked_while_slots_are_offered_is_answered_and_the_slot_still_books(
    bridge,
):
    # The README's order: "Quiero cita", then the canteen question, then a slot button.
    offer = (await bridge.receive(make_message("Quiero cita con el médico"))).replies[0]
    canteen = await bridge.receive(make_message("¿Qué hay de comer hoy en el cole?"))
    assert canteen.department == "school" and STEW in says(canteen)
    assert "No he entendido" not in says(canteen)
    booked = await bridge.receive(make_message(choice=offer.choices[1].value))
    assert booked.department == "doctor" and booked.request.state is Status.ACKNOWLEDGED
    assert booked.request.details["slot"] == offer.choices[1].value.removeprefix("slot:")


async def test_thanks_ends_the_conversation_the_next_words_are_routed_afresh(bridge):
    await book(bridge)
    await bridge.receive(make_message("muchas gracias"))
    anew = await bridge.receive(make_message("cámbiala al jueves"))
    assert anew.department == "triage" and "Tu cita" not in says(anew)


@pytest.mark.parametrize(
    ("text", "lang", "answer"),
    [
        ("thanks, bye!", None, "You're welcome! We're here whenever you need us."),
        ("Gracias", "es", "¡A ti! Aquí estamos para lo que necesites."),
    ],
)
async def test_a_thank_you_with_nothing_open_is_answered_and_opens_no_request(
    bridge, text, lang, answer
):
    handled = await bridge.receive(make_message(text, lang=lang, user="otra"))
    assert says(handled) == answer
    assert await bridge.requests.all() == []


async def test_admins_override_the_goodbye_under_triage_replies(tmp_path):
    import yaml

    config = yaml.safe_load((DATA / "jun.yaml").read_text())
    root = Path(__file__).parents[1]
    config["departments"]["school"]["menu_file"] = str(root / "menu.yaml")
    config["departments"]["triage"] = {"replies": {"es": {"goodbye": "¡Hasta pronto!"}}}
    bridge = await make_bridge(config=config, clock=lambda: WEDNESDAY_10, workdir=tmp_path)
    try:
        handled = await bridge.receive(make_message("gracias", lang="es"))
        assert says(handled) == "¡Hasta pronto!"
    finally:
        await bridge.close()
