"""The Policía Local plugin, tested directly: what a resident reads and what gets recorded."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from junbridge.config.settings import TownSettings
from junbridge.departments import Change, Conversation, DepartmentContext, Outcome
from junbridge.model import Message, Resident, Sender, ServiceRequest, Status
from junbridge_jun import police
from junbridge_jun.police import Police

# Madrid is UTC+1 in November: 23:30 in Jun is 22:30 UTC.
FRIDAY_NIGHT = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)
SATURDAY_SMALL_HOURS = datetime(2026, 11, 28, 0, 45, tzinfo=UTC)
SATURDAY_MORNING = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CARMEN = Resident(id=14, identities=("telegram:51877203",), name="Carmen Morales")
OFFICERS = {
    "staff": [
        {"name": "Agente Ruiz", "handles": {"slack": "U04RUIZ"}},
        {"name": "Agente Fernández", "handles": {"telegram": "afernandez_jun"}},
    ],
    "on_duty": [
        {"staff": "Agente Fernández", "days": ["sat", "sun"], "from": "08:00", "to": "20:00"}
    ],
}


class NoRequests:
    """The police read no stored requests."""

    async def list(
        self, *, department: str | None = None, open_only: bool = False
    ) -> Sequence[ServiceRequest]:
        return []


def department(now: datetime, **settings: object) -> Police:
    context = DepartmentContext(
        town=TownSettings(name="Jun"), clock=lambda: now, requests=NoRequests()
    )
    return Police(Police.Settings(**settings), context)


def message(text: str, at: datetime) -> Message:
    return Message(
        channel="telegram",
        platform_id="884213",
        conversation="51877203",
        sender=Sender(id="51877203", name="Carmen Morales", language="es"),
        sent_at=at,
        text=text,
        is_private=True,
    )


async def report(dept: Police, text: str, at: datetime, language: str = "es") -> Outcome:
    conversation = Conversation(department="police", resident=CARMEN, language=language)
    return await dept.handle(message(text, at), conversation)


def replies(dept: Police, outcome: Outcome, at: datetime, language: str = "es") -> list[str]:
    """The texts the resident reads once the bridge has saved the request as JUN-0142."""
    assert outcome.change is not None
    # The bridge fills the expected time from sla_hours when the plugin leaves it out.
    expected = outcome.change.expected or at + timedelta(hours=24)
    request = ServiceRequest(
        service_request_id="142",
        service_code="police",
        service_name="Policía Local",
        description=outcome.change.description or "",
        requested_datetime=at,
        updated_datetime=at,
        expected_datetime=expected,
        reference="JUN-0142",
        department="police",
        privacy="private",
        assignee=outcome.change.assignee,
    )
    return [dept.render(say, request=request, language=language) for say in outcome.says]


async def test_a_fight_with_a_knife_tells_the_resident_to_call_112_first() -> None:
    dept = department(SATURDAY_MORNING)
    outcome = await report(
        dept, "Hay una pelea en la plaza de la Iglesia y uno lleva un cuchillo", SATURDAY_MORNING
    )

    first, acknowledgement = replies(dept, outcome, SATURDAY_MORNING)
    assert first == "Si hay peligro ahora mismo, llama al **112**."
    assert "JUN-0142" in acknowledgement and "Policía Local" in acknowledgement
    assert outcome.change is not None
    assert outcome.change.details == {"category": "other", "urgent": True}
    assert outcome.change.expected == SATURDAY_MORNING + timedelta(minutes=15)


async def test_urgent_in_english_uses_the_towns_emergency_number() -> None:
    dept = Police(
        Police.Settings(),
        DepartmentContext(
            town=TownSettings(name="Jun", emergency_number="062"),
            clock=lambda: SATURDAY_MORNING,
            requests=NoRequests(),
        ),
    )
    outcome = await report(
        dept, "Someone is injured after a fight by the bus stop", SATURDAY_MORNING, "en"
    )

    texts = replies(dept, outcome, SATURDAY_MORNING, "en")
    assert texts[0] == "If anyone is in danger right now, call **062**."
    assert "JUN-0142" in texts[1] and "Local Police" in texts[1]
    assert outcome.change is not None and outcome.change.details["urgent"] is True


async def test_loud_music_at_night_gets_a_patrol_within_half_an_hour() -> None:
    dept = department(FRIDAY_NIGHT)
    outcome = await report(dept, "Música alta en la calle Real, no se puede dormir", FRIDAY_NIGHT)

    assert outcome.change is not None
    assert outcome.change.details == {"category": "noise", "urgent": False}
    assert outcome.change.expected == FRIDAY_NIGHT + timedelta(minutes=30)
    [text] = replies(dept, outcome, FRIDAY_NIGHT)
    assert "112" not in text
    assert text.endswith("**JUN-0142**. Previsto: sáb, 28 de noviembre, 0:00.")


async def test_the_night_runs_past_midnight() -> None:
    dept = department(SATURDAY_SMALL_HOURS)
    outcome = await report(
        dept, "Loud music and a party next door at 2am", SATURDAY_SMALL_HOURS, "en"
    )

    assert outcome.change is not None
    assert outcome.change.expected == SATURDAY_SMALL_HOURS + timedelta(minutes=30)


async def test_noise_by_day_is_left_to_the_24_hour_promise() -> None:
    dept = department(SATURDAY_MORNING)
    outcome = await report(dept, "Los vecinos tienen la música alta todo el día", SATURDAY_MORNING)

    assert outcome.change is not None
    assert outcome.change.details["category"] == "noise"
    assert outcome.change.expected is None
    assert dept.settings.sla_hours == 24 and dept.settings.business_hours is False


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Me han robado la bici en la puerta del ayuntamiento", "theft"),
        ("Han hecho pintadas en la fachada del colegio", "vandalism"),
        ("Hay un coche mal aparcado tapando mi vado en la calle Ermita", "parking"),
        ("Un coche en doble fila no deja pasar al autobús", "parking"),
        ("My bike was stolen outside the pharmacy", "theft"),
        ("Somebody sprayed graffiti on the bus shelter", "vandalism"),
        ("A van is parked blocking my driveway", "parking"),
    ],
)
async def test_reports_are_filed_by_category(text: str, category: str) -> None:
    dept = department(SATURDAY_MORNING)
    outcome = await report(dept, text, SATURDAY_MORNING)

    assert outcome.change is not None
    assert outcome.change.open is True and outcome.change.description == text
    assert outcome.change.details == {"category": category, "urgent": False}
    assert len(outcome.says) == 1


async def test_the_officer_on_duty_gets_the_report() -> None:
    dept = department(SATURDAY_MORNING, **OFFICERS)
    outcome = await report(dept, "Me han robado el bolso en el mercadillo", SATURDAY_MORNING)

    assert outcome.change is not None
    assert outcome.change.assignee == "Agente Fernández"
    assert outcome.change.states == (Status.ASSIGNED,)
    [text] = replies(dept, outcome, SATURDAY_MORNING)
    assert "Agente Fernández" in text


async def test_with_nobody_on_duty_the_first_officer_gets_it() -> None:
    dept = department(FRIDAY_NIGHT, **OFFICERS)
    outcome = await report(dept, "Hay un botellón en el parque con mucho ruido", FRIDAY_NIGHT)

    assert outcome.change is not None
    assert outcome.change.assignee == "Agente Ruiz"
    assert outcome.change.states == (Status.ASSIGNED,)


async def test_without_officers_the_report_is_acknowledged() -> None:
    dept = department(SATURDAY_MORNING)
    outcome = await report(dept, "Han roto la marquesina de la parada", SATURDAY_MORNING)

    assert outcome.change is not None
    assert outcome.change.assignee is None
    assert outcome.change.states == (Status.ACKNOWLEDGED,)
    [text] = replies(dept, outcome, SATURDAY_MORNING)
    assert text.startswith("Gracias. Tu aviso a la Policía Local es **JUN-0142**.")


def test_police_words_bring_a_message_here_and_others_do_not() -> None:
    dept = department(SATURDAY_MORNING)
    assert dept.match(message("Quiero poner una denuncia", SATURDAY_MORNING)) > 0
    assert dept.match(message("There's a fire in the olive grove", SATURDAY_MORNING)) > 0
    assert dept.match(message("La farola de mi calle no funciona", SATURDAY_MORNING)) == 0


def test_police_is_private_and_every_reply_exists_in_both_languages() -> None:
    assert Police.privacy == "private"
    assert set(Police.texts["es"]) == set(Police.texts["en"])
    assert department(SATURDAY_MORNING).missing_translations() == []


def test_the_plugin_registers_the_police() -> None:
    registered: list[type] = []
    police.register_departments(registered.append)
    assert registered == [Police]


def test_assignee_reads_as_the_team_when_nobody_is_assigned_yet() -> None:
    """An admin's template may name {assignee} in any state: before anyone is assigned the
    resident reads who has it, never "Lo lleva . Previsto"."""
    dept = department(
        SATURDAY_MORNING,
        replies={"es": {"acknowledged": "**{reference}**: lo lleva {assignee}."}},
    )
    outcome = Outcome(says=(dept.say("acknowledged"),))
    [text] = replies(dept, dataclasses.replace(outcome, change=Change(open=True)), SATURDAY_MORNING)
    assert text == "**JUN-0142**: lo lleva el equipo de Policía Local."
