"""Resident commands: what a resident notices when asking about their own requests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from junbridge.desk.commands import Command, parse
from junbridge.model import MessageKind, Status
from junbridge.testing import make_bridge, make_message
from junbridge.testing.clock import ManualClock

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def bridge(tmp_path, clock):
    b = await make_bridge(config=DATA / "jun.yaml", clock=clock, workdir=tmp_path)
    yield b
    await b.close()


def says(handled) -> str:
    return "\n".join(reply.text for reply in handled.replies)


async def lamp(bridge, user="vecina", channel="twitter", location=(37.2218, -3.5930)):
    handled = await bridge.receive(
        make_message(
            "La farola de la calle Real no funciona",
            channel=channel,
            user=user,
            location=location,
        )
    )
    return handled.request


async def command(bridge, text, **kwargs):
    return await bridge.receive(make_message(text, kind=MessageKind.COMMAND, **kwargs))


async def test_status_shows_the_state_department_and_expected_time_privately(bridge):
    request = await lamp(bridge)
    handled = await command(bridge, f"/estado {request.reference}", channel="twitter")
    [reply] = handled.replies
    assert request.reference in reply.text and "Alumbrado público" in reply.text
    assert "asignado" in reply.text and "abierto" in reply.text
    assert "4 de diciembre" in reply.text and "electricista" in reply.text
    # Written as a public mention on X: the answer is a private message to the sender.
    assert reply.private and reply.recipient == "vecina"
    assert handled.request.reference == request.reference
    # A command opens no request and leaves the inbound message unlinked.
    assert len(await bridge.requests.all()) == 1


async def test_status_without_a_reference_is_about_the_latest_request(bridge):
    await lamp(bridge)
    second = await bridge.receive(make_message("Hay ruido de música alta en la plaza"))
    handled = await command(bridge, "/estado")
    assert second.request.reference in says(handled)
    assert "Policía Local" in says(handled)


async def test_someone_elses_reference_is_not_found(bridge):
    request = await lamp(bridge, user="vecina")
    handled = await command(bridge, f"/status {request.reference}", user="curioso")
    assert f"No encuentro **{request.reference}**" in says(handled)
    assert "farola" not in says(handled)


async def test_mine_lists_only_the_residents_open_requests(bridge):
    mine = await lamp(bridge, user="vecina", channel="telegram")
    # Another lamp of the same street, 300 m along it: a request of its own.
    theirs = await lamp(bridge, user="vecino", channel="telegram", location=(37.2245, -3.5930))
    handled = await command(bridge, "/mis")
    assert mine.reference in says(handled) and theirs.reference not in says(handled)
    assert "calle Real" in says(handled)
    # The references in bold, as the list is written: not escaped like a resident's words.
    assert f"**{mine.reference}**" in says(handled) and "\\*" not in says(handled)
    nothing = await command(bridge, "/mine", user="nadie")
    assert "No tienes avisos abiertos" in says(nothing)


async def test_cancel_closes_the_residents_own_request_and_tells_the_staff(bridge):
    request = await lamp(bridge, channel="telegram")
    assert await bridge.store.pending_timers(request.reference)
    refused = await command(bridge, f"/cancelar {request.reference}", user="curioso")
    assert "No encuentro" in says(refused)
    handled = await command(bridge, f"/cancelar {request.reference}")
    closed = await bridge.requests.get(request.reference)
    assert closed.state is Status.CLOSED and closed.status == "closed"
    assert closed.history[-1].note == "cancelled by the resident"
    assert closed.history[-1].by == "telegram:@vecina"
    # No SLA alert or "is it fixed?" question will follow a withdrawn request.
    assert await bridge.store.pending_timers(request.reference) == []
    [to_resident, to_staff] = handled.replies
    assert "anulado" in to_resident.text and to_resident.conversation == "vecina"
    assert to_staff.conversation == "C0LIGHTSTAFF" and request.reference in to_staff.text
    again = await command(bridge, f"/cancelar {request.reference}")
    assert "ya está cerrado" in says(again)
    which = await command(bridge, "/cancelar")
    assert "/cancelar JUN-0001" in says(which)


async def test_cancelling_a_doctor_appointment_frees_the_slot(bridge):
    for name in ("vecina", "vecino"):
        await bridge.store.resident_for("telegram", make_message(user=name).sender)
        await bridge.store.verify_resident(
            f"telegram:{name}", by="administrativa", at=bridge.clock()
        )
    offered = await bridge.receive(make_message("Quiero cita con el médico"))
    first = offered.replies[0].choices[0]
    booked = await bridge.receive(make_message(first.label, choice=first.value))
    assert booked.request.details["slot"] in first.value
    # Someone else is not offered the booked slot...
    others = await bridge.receive(make_message("Quiero cita con el médico", user="vecino"))
    assert first.value not in [c.value for c in others.replies[0].choices]
    await bridge.receive(make_message("no, gracias, cancelar", user="vecino"))
    await command(bridge, f"/cancelar {booked.request.reference}")
    # ...until the resident cancels it with the command: then it is offered again.
    again = await bridge.receive(make_message("Quiero cita con el médico", user="vecino"))
    assert again.replies[0].choices[0].value == first.value
    # The booking conversation ended with it: "cambiar" no longer reaches the closed booking.
    after = await bridge.receive(make_message("cambiar"))
    assert after.department != "doctor"


async def test_lang_en_then_replies_come_in_english(bridge):
    handled = await command(bridge, "/idioma en")
    assert says(handled) == "Done: from now on I will answer you in English."
    report = await bridge.receive(make_message("La farola 7 de la calle Real no se enciende"))
    assert "Expected by" in says(report)
    status = await command(bridge, "/estado")
    assert "Street lighting" in says(status) and "assigned" in says(status)
    back = await command(bridge, "/lang español")
    assert "te contesto en español" in says(back)


async def test_lang_unsupported_lists_the_towns_languages(bridge):
    handled = await command(bridge, "/idioma fr")
    # Each language by its own name, as its speakers look for it.
    assert "español (es), English (en)" in says(handled)
    assert (await bridge.store.find_resident("telegram:vecina")).language is None


async def test_help_lists_departments_and_commands(bridge):
    handled = await command(bridge, "/help", lang="en")
    text = says(handled)
    assert "Street lighting" in text and "Doctor's surgery" in text
    assert "/status REF" in text and "/link" in text and "112" in text
    # Telegram's /start, when someone opens the bot, gets the same help.
    start = await command(bridge, "/start", user="vecino")
    assert "/estado REF" in says(start)


async def test_verify_explains_the_desk_and_says_when_already_verified(bridge):
    handled = await command(bridge, "/verificar")
    assert "DNI o NIE" in says(handled) and "telegram:vecina" in says(handled)
    await bridge.store.verify_resident("telegram:vecina", by="administrativa", at=bridge.clock())
    handled = await command(bridge, "/verificar")
    assert "verificada desde el 25 de noviembre de 2026" in says(handled)


async def test_department_commands_and_buttons_are_not_swallowed(bridge):
    police = await command(bridge, "/policia me han robado la bici")
    assert police.request.department == "police"
    pressed = await bridge.receive(make_message("Estado", choice="estado"))
    assert pressed.department is not None


async def test_a_bare_word_answers_a_department_that_asked(bridge):
    await bridge.store.resident_for("telegram", make_message().sender)
    await bridge.store.verify_resident("telegram:vecina", by="administrativa", at=bridge.clock())
    offered = await bridge.receive(make_message("Quiero cita con el médico"))
    # The doctor awaits a slot: "ayuda" is the resident's answer, not the help command.
    answer = await bridge.receive(make_message("ayuda"))
    assert answer.department == "doctor"
    assert offered.replies[0].choices
    # With no question pending, the same word is the command.
    await bridge.receive(make_message("no, gracias, cancelar"))
    handled = await bridge.receive(make_message("ayuda"))
    assert handled.department is None and "/estado REF" in says(handled)


async def test_admins_override_command_texts_under_triage_replies(tmp_path, clock):
    config = yaml.safe_load((DATA / "jun.yaml").read_text())
    config["departments"]["school"]["menu_file"] = str(ROOT / "menu.yaml")
    config["departments"]["triage"] = {"replies": {"es": {"mine_none": "Nada pendiente."}}}
    bridge = await make_bridge(config=config, clock=clock, workdir=tmp_path)
    try:
        handled = await command(bridge, "/mis")
        assert says(handled) == "Nada pendiente."
        english = await command(bridge, "/mine", lang="en")
        assert says(english) == "You have no open requests."
    finally:
        await bridge.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/estado JUN-0001", Command(name="status", argument="jun-0001")),
        ("/Status@JunBot", Command(name="status")),
        ("  /MIS avisos ", Command(name="mine", argument="avisos")),
        ("cancelar JUN-0042", Command(name="cancel", argument="jun-0042")),
        ("vincular 123456", Command(name="link", argument="123456")),
        ("idioma en", Command(name="lang", argument="en")),
        ("Ayuda", Command(name="help", bare=True)),
        ("mis avisos", Command(name="mine", bare=True)),
        ("/policia", None),
        ("cancelar la cita", None),
        ("estado de la farola", None),
        ("idioma francés", None),
        ("La farola no funciona", None),
    ],
)
def test_parse_knows_only_its_own_words(text, expected):
    assert parse(text) == expected
