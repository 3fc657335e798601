"""The consultorio médico plugin, tested directly: offering, booking, cancelling, changing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from junbridge.config.settings import TownSettings
from junbridge.departments import Conversation, DepartmentContext, Outcome
from junbridge.model import Message, MessageKind, Resident, Sender, ServiceRequest, Status
from junbridge_jun import doctor
from junbridge_jun.doctor import Doctor

# Madrid is UTC+1 in winter: the 09:00-13:00 session is 08:00-12:00 UTC.
FRIDAY_1020 = datetime(2026, 11, 27, 9, 20, tzinfo=UTC)
FRIDAY_AFTERNOON = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
VERIFIED = Resident(
    id=31,
    identities=("telegram:60233115", "twitter:1498823"),
    name="Antonio Jiménez",
    verified_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    verified_by="administrativa",
)
NOT_VERIFIED = Resident(id=32, identities=("telegram:60299001",), name="Lucía Ortega")


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def appointment(slot: datetime, reference: str = "JUN-0140", **fields: Any) -> ServiceRequest:
    """A booked appointment as the store keeps it."""
    values: dict[str, Any] = {
        "service_request_id": reference.removeprefix("JUN-"),
        "service_code": "doctor",
        "service_name": "Consultorio médico",
        "description": "Quiero cita con el médico",
        "requested_datetime": FRIDAY_1020 - timedelta(days=2),
        "updated_datetime": FRIDAY_1020 - timedelta(days=2),
        "expected_datetime": slot,
        "reference": reference,
        "department": "doctor",
        "state": Status.ACKNOWLEDGED,
        "privacy": "private",
        "details": {"slot": slot.isoformat()},
    }
    return ServiceRequest(**{**values, **fields})


class Appointments:
    """The stored requests the department reads to know which slots are taken."""

    def __init__(self, *requests: ServiceRequest) -> None:
        self.requests = list(requests)

    async def list(
        self, *, department: str | None = None, open_only: bool = False
    ) -> Sequence[ServiceRequest]:
        return [
            r
            for r in self.requests
            if (department is None or r.department == department)
            and (not open_only or r.state.is_open)
        ]


def department(
    now: datetime, *booked: ServiceRequest, holidays: Sequence[date] = (), **settings: Any
) -> Doctor:
    context = DepartmentContext(
        town=TownSettings(name="Jun", holidays=list(holidays)),
        clock=lambda: now,
        requests=Appointments(*booked),
    )
    return Doctor(Doctor.Settings(**settings), context)


def message(text: str = "", *, choice: str | None = None) -> Message:
    return Message(
        channel="telegram",
        platform_id="77120",
        conversation="60233115",
        sender=Sender(id="60233115", name="Antonio Jiménez", language="es"),
        sent_at=FRIDAY_1020,
        text=text,
        kind=MessageKind.BUTTON if choice else MessageKind.TEXT,
        choice=choice,
        is_private=True,
    )


def conversation(
    resident: Resident = VERIFIED, language: str = "es", **fields: Any
) -> Conversation:
    return Conversation(department="doctor", resident=resident, language=language, **fields)


def offered_slots(outcome: Outcome) -> list[datetime]:
    return [datetime.fromisoformat(iso) for iso in outcome.remember["offered"]]


def text(dept: Doctor, outcome: Outcome, language: str = "es", index: int = 0) -> str:
    """What the resident reads, rendered as the bridge does once the request is JUN-0142."""
    request = appointment(utc(30, 8), reference="JUN-0142")
    return dept.render(outcome.says[index], request=request, language=language)


async def test_four_slots_are_offered_as_buttons_from_now_on() -> None:
    dept = department(FRIDAY_1020)
    outcome = await dept.handle(message("Quiero pedir cita con el médico"), conversation())

    assert outcome.ask == "slot"
    # 10:20 in Jun: 10:00 and 10:15 have gone, 10:30 is the first free one.
    assert offered_slots(outcome) == [utc(27, 9, 30), utc(27, 9, 45), utc(27, 10), utc(27, 10, 15)]
    [say] = outcome.says
    assert [c.label for c in say.choices] == [
        "vie, 27 nov 10:30",
        "vie, 27 nov 10:45",
        "vie, 27 nov 11:00",
        "vie, 27 nov 11:15",
    ]
    assert say.choices[0].value == "slot:2026-11-27T10:30:00+01:00"  # town time, as labelled
    shown = text(dept, outcome)
    assert "Consultorio médico" in shown and "1. vie, 27 nov 10:30" in shown
    assert outcome.change is None


async def test_booked_slots_are_skipped() -> None:
    dept = department(FRIDAY_1020, appointment(utc(27, 9, 30)), appointment(utc(27, 10)))
    outcome = await dept.handle(message("cita"), conversation())

    assert offered_slots(outcome) == [
        utc(27, 9, 45),
        utc(27, 10, 15),
        utc(27, 10, 30),
        utc(27, 10, 45),
    ]


async def test_a_cancelled_appointment_frees_its_slot() -> None:
    cancelled = appointment(utc(27, 9, 30), state=Status.CLOSED)
    dept = department(FRIDAY_1020, cancelled)
    outcome = await dept.handle(message("cita"), conversation())

    assert offered_slots(outcome)[0] == utc(27, 9, 30)


async def test_holidays_and_days_without_surgery_are_skipped() -> None:
    # Friday afternoon; Monday 7 December is the Constitution Day holiday moved from Sunday.
    dept = department(FRIDAY_AFTERNOON, holidays=[date(2026, 12, 7)])
    outcome = await dept.handle(
        message("I'd like an appointment with the GP"), conversation(language="en")
    )

    wednesday_9 = utc(9, 8, month=12)
    assert offered_slots(outcome) == [wednesday_9 + timedelta(minutes=15 * n) for n in range(4)]
    assert outcome.says[0].choices[0].label == "Wed, Dec 9 09:00"
    assert "1. Wed, Dec 9 09:00" in text(dept, outcome, "en")


async def test_the_schedule_comes_from_channels_yaml() -> None:
    afternoons = [{"days": ["tue", "thu"], "from": "16:00", "to": "18:00"}]
    dept = department(FRIDAY_1020, schedule=afternoons, slot_minutes=20, offer=2)
    outcome = await dept.handle(message("cita"), conversation())

    # Tuesday 1 December, 16:00 and 16:20 in Jun.
    assert offered_slots(outcome) == [utc(1, 15, month=12), utc(1, 15, 20, month=12)]


async def test_with_no_free_slot_the_resident_is_told_and_nothing_waits() -> None:
    dept = department(FRIDAY_AFTERNOON, days_ahead=2)  # Saturday and Sunday: no surgery
    outcome = await dept.handle(message("cita"), conversation())

    assert outcome.ask is None and outcome.change is None
    assert text(dept, outcome).startswith(
        "Ahora mismo no quedan citas libres en los próximos 2 días"
    )


async def test_an_unverified_resident_is_told_how_to_get_verified_and_nothing_is_opened() -> None:
    dept = department(FRIDAY_1020)
    outcome = await dept.handle(message("Necesito cita con la doctora"), conversation(NOT_VERIFIED))

    assert outcome.change is None and outcome.ask is None
    shown = text(dept, outcome)
    assert "DNI" in shown and "ayuntamiento" in shown

    english = await dept.handle(message("GP appointment please"), conversation(NOT_VERIFIED, "en"))
    assert "town hall" in text(dept, english, "en")


async def test_verification_can_be_switched_off() -> None:
    dept = department(FRIDAY_1020, require_verified=False)
    outcome = await dept.handle(message("cita"), conversation(NOT_VERIFIED))

    assert outcome.ask == "slot"


async def asked_for_a_slot(dept: Doctor, **fields: Any) -> Conversation:
    first = message("Quiero pedir cita con el médico")
    outcome = await dept.handle(first, conversation(**fields))
    return conversation(awaiting="slot", data=outcome.remember, first_message=first, **fields)


async def test_pressing_a_slot_books_it() -> None:
    dept = department(FRIDAY_1020)
    waiting = await asked_for_a_slot(dept)
    outcome = await dept.handle(message(choice="slot:2026-11-27T09:45:00+00:00"), waiting)

    change = outcome.change
    assert change is not None and change.open is True
    assert change.details == {"slot": "2026-11-27T09:45:00+00:00"}
    assert change.expected == utc(27, 9, 45)
    assert change.states == (Status.ACKNOWLEDGED,)
    assert change.description == "Quiero pedir cita con el médico"
    assert outcome.ask == "manage"
    [say] = outcome.says
    assert [c.value for c in say.choices] == ["cancel", "change"]
    shown = text(dept, outcome)
    assert "vie, 27 de noviembre, 10:45" in shown and "JUN-0142" in shown


async def test_answering_with_the_options_number_books_it() -> None:
    dept = department(FRIDAY_1020)
    waiting = await asked_for_a_slot(dept)
    outcome = await dept.handle(message("la 3"), waiting)

    assert outcome.change is not None
    assert outcome.change.details == {"slot": utc(27, 10).isoformat()}


async def test_answering_with_the_time_books_it_in_english() -> None:
    dept = department(FRIDAY_1020)
    waiting = await asked_for_a_slot(dept, language="en")
    outcome = await dept.handle(message("11:15 please"), waiting)

    assert outcome.change is not None and outcome.change.expected == utc(27, 10, 15)
    assert text(dept, outcome, "en").startswith("Appointment confirmed: **Fri, Nov 27, 11:15 AM**")


async def test_an_answer_that_is_no_slot_offers_them_again() -> None:
    dept = department(FRIDAY_1020)
    waiting = await asked_for_a_slot(dept)
    for answer in (
        message("el jueves por la tarde"),
        message("9"),
        message(choice="slot:2026-11-30T08:00:00+00:00"),
    ):
        outcome = await dept.handle(answer, waiting)
        assert outcome.change is None and outcome.ask == "slot"
        assert text(dept, outcome).startswith("No he entendido qué cita quieres")


async def test_a_slot_taken_meanwhile_is_not_booked_twice() -> None:
    dept = department(FRIDAY_1020)
    waiting = await asked_for_a_slot(dept)
    dept.context.requests.requests.append(appointment(utc(27, 9, 30), reference="JUN-0141"))

    outcome = await dept.handle(message("1"), waiting)

    assert outcome.change is None and outcome.ask == "slot"
    assert text(dept, outcome).startswith("Esa cita ya no está libre")
    assert utc(27, 9, 30) not in offered_slots(outcome)


async def test_a_slot_that_went_by_while_the_resident_thought_is_not_booked() -> None:
    waiting = await asked_for_a_slot(department(FRIDAY_1020))
    half_an_hour_later = department(FRIDAY_1020 + timedelta(minutes=30))

    outcome = await half_an_hour_later.handle(message("1"), waiting)  # 10:30, now past

    assert outcome.change is None and outcome.ask == "slot"
    assert offered_slots(outcome)[0] == utc(27, 10)


async def test_saying_cancelar_while_choosing_books_nothing() -> None:
    dept = department(FRIDAY_1020)
    waiting = await asked_for_a_slot(dept)
    outcome = await dept.handle(message("cancelar"), waiting)

    assert outcome.change is None and outcome.ask is None
    assert text(dept, outcome) == "De acuerdo, no te he reservado ninguna cita."


def booked_conversation(slot: datetime, language: str = "es") -> Conversation:
    return conversation(
        language=language,
        awaiting="manage",
        request=appointment(slot, reference="JUN-0142"),
        data={"offered": []},
    )


async def test_cancel_closes_the_appointment() -> None:
    slot = utc(30, 8, 15)
    dept = department(FRIDAY_1020, appointment(slot, reference="JUN-0142"))
    outcome = await dept.handle(message("cancelar"), booked_conversation(slot))

    change = outcome.change
    assert change is not None and change.open is False
    assert change.states == (Status.CLOSED,)
    assert change.note == "cancelled by the resident"
    assert change.details == {"slot": None, "cancelled_slot": slot.isoformat()}
    assert outcome.ask is None
    assert text(dept, outcome) == (
        "Cita del **lun, 30 de noviembre, 9:15** anulada (JUN-0142). Gracias por avisar."
    )


async def test_the_cancel_button_works_in_english() -> None:
    slot = utc(30, 8, 15)
    dept = department(FRIDAY_1020, appointment(slot, reference="JUN-0142"))
    outcome = await dept.handle(message(choice="cancel"), booked_conversation(slot, "en"))

    assert outcome.change is not None and outcome.change.states == (Status.CLOSED,)
    assert text(dept, outcome, "en").startswith("Appointment on **Mon, Nov 30, 9:15 AM** cancelled")


async def test_change_offers_other_slots_and_moves_the_same_request() -> None:
    slot = utc(27, 9, 30)
    dept = department(FRIDAY_1020, appointment(slot, reference="JUN-0142"))
    booked = booked_conversation(slot)

    offer = await dept.handle(message("¿Puedo cambiarla?"), booked)
    assert offer.ask == "slot" and offer.remember["rebook"] is True
    assert offer.change is None
    assert offered_slots(offer) == [utc(27, 9, 45), utc(27, 10), utc(27, 10, 15), utc(27, 10, 30)]

    rebooking = conversation(awaiting="slot", request=booked.request, data=offer.remember)
    moved = await dept.handle(message("2"), rebooking)
    change = moved.change
    assert change is not None and change.open is False
    assert change.details == {"slot": utc(27, 10).isoformat()}
    assert change.expected == utc(27, 10)
    assert change.states == ()  # already acknowledged; only the time moves
    assert moved.ask == "manage"


async def test_cancelar_while_changing_keeps_the_appointment() -> None:
    slot = utc(27, 9, 30)
    dept = department(FRIDAY_1020, appointment(slot, reference="JUN-0142"))
    booked = booked_conversation(slot)
    offer = await dept.handle(message(choice="change"), booked)
    rebooking = conversation(awaiting="slot", request=booked.request, data=offer.remember)

    outcome = await dept.handle(message("cancelar"), rebooking)

    assert outcome.change is None and outcome.ask == "manage"
    assert "mantienes tu cita del **vie, 27 de noviembre, 10:30**" in text(dept, outcome)


async def test_anything_else_about_a_booking_explains_the_buttons() -> None:
    slot = utc(30, 8, 15)
    dept = department(FRIDAY_1020, appointment(slot, reference="JUN-0142"))
    outcome = await dept.handle(message("¿tengo que ir en ayunas?"), booked_conversation(slot))

    assert outcome.change is None and outcome.ask == "manage"
    assert [c.value for c in outcome.says[0].choices] == ["cancel", "change"]
    assert "escribe «anular» o «cambiar»" in text(dept, outcome)


def test_appointment_words_bring_a_message_here() -> None:
    dept = department(FRIDAY_1020)
    assert dept.match(message("Buenos días, ¿me dan cita para el médico?")) > 0
    assert dept.match(message("Can I book a GP appointment?")) > 0
    assert dept.match(message("Me han robado la bici")) == 0


def test_the_doctor_is_private_and_every_reply_exists_in_both_languages() -> None:
    assert Doctor.privacy == "private" and Doctor.service_code == "doctor"
    assert set(Doctor.texts["es"]) == set(Doctor.texts["en"])
    assert department(FRIDAY_1020).missing_translations() == []


def test_the_schedule_reads_from_and_to_like_the_rota() -> None:
    settings = Doctor.Settings.model_validate(
        {"schedule": [{"days": ["mon", "wed", "fri"], "from": "09:00", "to": "13:00"}]}
    )
    [session] = settings.schedule
    assert (session.start.hour, session.end.hour) == (9, 13)


def test_the_plugin_registers_the_doctor() -> None:
    registered: list[type] = []
    doctor.register_departments(registered.append)
    assert registered == [Doctor]
