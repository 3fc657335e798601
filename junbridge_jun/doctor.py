"""The doctor's surgery (consultorio médico): appointments. Settings: departments.doctor.

Only verified residents book: the town hall desk checks an ID once, then a resident asks for
an appointment on any messenger. We offer the next free slots of the surgery's weekly
sessions (never a holiday, never a slot already taken); the resident picks one with a button
or its number, and can later cancel it or change it in the same conversation. A booking is a
private service request whose expected time is the appointment itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import Field

import junbridge
from junbridge import (
    SLOT,
    WEEKDAYS,
    Change,
    Choice,
    Conversation,
    Message,
    MessageKind,
    Outcome,
    Status,
    Weekday,
    fold,
    format_moment,
    keyword_hits,
)

# What a resident writes to manage a booking, besides pressing its buttons.
ANSWERS: dict[str, list[str]] = {
    "cancel": [
        "cancel*",
        "anul*",
        "borra*",
        "no puedo ir",
        "no voy a poder ir",
        "can't come",
        "cannot come",
        "can't make it",
    ],
    "change": [
        "change",
        "cambi*",
        "mover",
        "moverla",
        "otra hora",
        "otro dia",
        "another time",
        "another day",
        "reschedule",
        "move it",
    ],
}
# "2", "2.", "la 2", "opción 2", "option 2"
OPTION_NUMBER = re.compile(r"(?:(?:la|el|opcion|option|numero|number|n[ºo°])\.?\s*)?(\d{1,2})[.)]?")
CLOCK = re.compile(r"\b(\d{1,2})[:.h](\d{2})\b")


class Session(junbridge.Settings):
    """One weekly surgery session: which days, from when to when (town time)."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: time = Field(alias="from")
    end: time = Field(alias="to")


class Doctor(junbridge.Department):
    """Appointments with the village doctor."""

    name = "doctor"
    titles = {"es": "Consultorio médico", "en": "Doctor's surgery"}
    # The expected time is the appointment itself, not a promise that can be broken.
    sla_alerts = False
    privacy = "private"
    service_code = "doctor"

    class Settings(junbridge.DepartmentSettings):
        """departments.doctor in channels.yaml."""

        keywords: dict[str, list[str]] = Field(
            default_factory=lambda: {
                "es": [
                    "cita",
                    "cita previa",
                    "médico",
                    "médica",
                    "doctor",
                    "doctora",
                    "consulta",
                    "consultorio",
                    "centro de salud",
                    "enfermera",
                ],
                "en": [
                    "appointment",
                    "gp",
                    "doctor",
                    "doctor's",
                    "surgery",
                    "nurse",
                    "see the doctor",
                ],
            }
        )
        require_verified: bool = True
        schedule: list[Session] = Field(
            default_factory=lambda: [
                Session(days=["mon", "wed", "fri"], start=time(9), end=time(13)),
            ]
        )
        slot_minutes: int = Field(15, gt=0)
        offer: int = Field(4, ge=1, le=10, description="how many free slots to offer at once")
        days_ahead: int = Field(14, ge=1)
        closed_dates: list[date] = Field(
            default_factory=list, description="days the surgery is closed besides town holidays"
        )

    texts = {
        "es": {
            "verify": "Para pedir cita con el médico necesitamos saber que eres tú. Pásate por "
            "el mostrador del ayuntamiento con tu DNI o NIE: te verificamos en un momento y "
            "a partir de entonces podrás pedir cita por aquí escribiendo «cita».",
            "slots": "Estas son las próximas citas libres en el {department}. Pulsa una o "
            "responde con su número:\n{options}",
            "slot_again": "No he entendido qué cita quieres. Pulsa una de estas o responde "
            "con su número:\n{options}",
            "slot_taken": "Esa cita ya no está libre, lo siento. Estas sí lo están:\n{options}",
            "no_slots": "Ahora mismo no quedan citas libres en los próximos {days} días. "
            "Llama o pásate por el {department} y te buscamos un hueco.",
            "booked": "Cita confirmada: **{when}**, {department}. Referencia **{reference}**. "
            "Si no puedes venir, anúlala para que otra persona pueda usarla.",
            "no_other_slots": "No hay otras citas libres en los próximos {days} días, así "
            "que mantienes la del **{when}** ({reference}).",
            "not_booked": "De acuerdo, no te he reservado ninguna cita.",
            "kept": "De acuerdo, mantienes tu cita del **{when}** ({reference}).",
            "cancelled": "Cita del **{when}** anulada ({reference}). Gracias por avisar.",
            "manage_help": "Tu cita es el **{when}** ({reference}). Puedes anularla o "
            "cambiarla: pulsa un botón o escribe «anular» o «cambiar».",
            "cancel_button": "Anular la cita",
            "change_button": "Cambiar de hora",
        },
        "en": {
            "verify": "To book with the doctor we need to know it is you. Bring your ID "
            "(DNI, NIE or passport) to the town hall desk: the staff will verify you in a "
            'minute, and from then on you can book here by writing "appointment".',
            "slots": "These are the next free appointments at the {department}. Tap one or "
            "answer with its number:\n{options}",
            "slot_again": "I didn't understand which appointment you want. Tap one of these "
            "or answer with its number:\n{options}",
            "slot_taken": "Sorry, that appointment is no longer free. These are:\n{options}",
            "no_slots": "There are no free appointments in the next {days} days right now. "
            "Call or drop in at the {department} and we will find you a time.",
            "booked": "Appointment confirmed: **{when}**, {department}. Reference "
            "**{reference}**. If you can't come, please cancel so someone else can use it.",
            "no_other_slots": "There are no other free appointments in the next {days} days, "
            "so you keep the one on **{when}** ({reference}).",
            "not_booked": "All right, I haven't booked anything.",
            "kept": "All right, you keep your appointment on **{when}** ({reference}).",
            "cancelled": "Appointment on **{when}** cancelled ({reference}). Thanks for "
            "letting us know.",
            "manage_help": "Your appointment is on **{when}** ({reference}). You can cancel "
            'or change it: tap a button or write "cancel" or "change".',
            "cancel_button": "Cancel it",
            "change_button": "Change the time",
        },
    }

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """Offer slots, book the one chosen, then cancel or change it on request."""
        if conversation.asked("slot"):
            return await self.choose(message, conversation)
        if conversation.asked("manage") and conversation.request is not None:
            return await self.manage(message, conversation.request, conversation)
        if self.settings.require_verified and not conversation.resident.verified:
            return Outcome(says=(self.say("verify"),))
        return await self.offer(conversation, "slots")

    def keeps(self, message: Message, conversation: Conversation) -> bool | None:
        """Buttons, "anular"/"cambiar" and a slot picked answer the doctor. Once booked, any
        other message not about the doctor is something else ("gracias", the canteen)."""
        if message.kind is MessageKind.BUTTON or answer(message) is not None:
            return True
        if conversation.asked("slot"):
            offered = [datetime.fromisoformat(iso) for iso in conversation.data.get("offered", [])]
            return True if self.picked(message, offered) is not None else None
        if conversation.asked("manage") and self.match(message) == 0:
            return False
        return None

    async def offer(self, conversation: Conversation, key: str, **remember: Any) -> Outcome:
        """Show the next free slots as buttons and a numbered list, and wait for a pick."""
        slots = (await self.free_slots())[: self.settings.offer]
        if not slots and conversation.request is not None:
            return self.manage_prompt(conversation.request, conversation, "no_other_slots")
        if not slots:
            return Outcome(says=(self.say("no_slots", days=self.settings.days_ahead),))
        language = conversation.language
        labels = [self.label(at, language) for at in slots]
        options = "\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1))
        # The value in town time too: it is what `junbridge simulate --choice` tells admins to
        # type, and the same moment as the UTC slot it is compared with.
        choices = [
            Choice(label=label, value=f"slot:{at.astimezone(self.tz).isoformat()}")
            for at, label in zip(slots, labels, strict=True)
        ]
        say = self.say(key, choices=choices, options=options)
        return conversation.ask("slot", say, offered=[at.isoformat() for at in slots], **remember)

    async def choose(self, message: Message, conversation: Conversation) -> Outcome:
        """Book the slot the resident picked, if it was offered and is still free."""
        if answer(message) == "cancel":
            # While changing a booking, "cancel" stops the change, not the appointment.
            if conversation.request is not None:
                return self.manage_prompt(conversation.request, conversation, "kept")
            return Outcome(says=(self.say("not_booked"),))
        offered = [datetime.fromisoformat(iso) for iso in conversation.data.get("offered", [])]
        picked = self.picked(message, offered)
        if picked is None:
            return await self.offer(conversation, "slot_again")
        if picked not in await self.free_slots():
            return await self.offer(conversation, "slot_taken")
        request = conversation.request
        first = conversation.first_message or message
        change = Change(
            open=request is None,
            description=first.text if request is None else None,
            expected=picked,
            details={"slot": picked.isoformat()},
            states=() if request is not None else (Status.ACKNOWLEDGED,),
            note="appointment changed by the resident" if request is not None else "booked",
        )
        booked = self.say(
            "booked",
            choices=self.manage_choices(conversation.language),
            when=self.format_time(picked, conversation.language),
        )
        return conversation.ask("manage", booked, change=change)

    async def manage(
        self, message: Message, request: junbridge.ServiceRequest, conversation: Conversation
    ) -> Outcome:
        """Cancel or change the booking; anything else explains the two buttons again."""
        what = answer(message)
        if what == "change":
            return await self.offer(conversation, "slots", rebook=True)
        if what != "cancel":
            return self.manage_prompt(request, conversation, "manage_help")
        old = request.details.get("slot")
        change = Change(
            states=(Status.CLOSED,),
            note="cancelled by the resident",
            details={"slot": None, "cancelled_slot": old},
        )
        when = self.format_time(datetime.fromisoformat(old), conversation.language) if old else ""
        return Outcome(change=change, says=(self.say("cancelled", when=when),))

    def manage_prompt(
        self, request: junbridge.ServiceRequest, conversation: Conversation, key: str
    ) -> Outcome:
        """Remind the resident of their booking, with the cancel and change buttons."""
        slot = request.details.get("slot")
        when = self.format_time(datetime.fromisoformat(slot), conversation.language) if slot else ""
        say = self.say(
            key,
            choices=self.manage_choices(conversation.language),
            when=when,
            days=self.settings.days_ahead,
        )
        return conversation.ask("manage", say)

    def manage_choices(self, language: str) -> list[Choice]:
        """The two buttons under a booking."""
        return [
            Choice(label=self.text("cancel_button", language), value="cancel"),
            Choice(label=self.text("change_button", language), value="change"),
        ]

    async def free_slots(self) -> list[datetime]:
        """Every free slot (UTC) in the coming days, soonest first."""
        taken = await self.booked()
        return [at for at in self.schedule_slots() if at not in taken]

    async def booked(self) -> set[datetime]:
        """Slots held by open appointments, the resident's own included."""
        requests = await self.context.requests.list(department=self.name, open_only=True)
        return {
            datetime.fromisoformat(r.details["slot"]) for r in requests if r.details.get("slot")
        }

    def schedule_slots(self) -> Iterable[datetime]:
        """Every future slot of the weekly sessions in the coming days, skipping closed days."""
        now = self.now()
        today = now.astimezone(self.tz).date()
        closed = {*self.town.holidays, *self.settings.closed_dates}
        step = timedelta(minutes=self.settings.slot_minutes)
        for offset in range(self.settings.days_ahead + 1):
            day = today + timedelta(days=offset)
            if day in closed:
                continue
            starts: set[datetime] = set()
            for session in self.settings.schedule:
                if WEEKDAYS[day.weekday()] not in session.days:
                    continue
                start = datetime.combine(day, session.start, tzinfo=self.tz)
                end = datetime.combine(day, session.end, tzinfo=self.tz)
                while start + step <= end:
                    starts.add(start.astimezone(UTC))
                    start += step
            yield from sorted(at for at in starts if at > now)

    def label(self, at: datetime, language: str) -> str:
        """A slot as a short button label: ``lun, 30 nov 09:00``."""
        return format_moment(at, SLOT, language, self.tz)

    def picked(self, message: Message, offered: list[datetime]) -> datetime | None:
        """The offered slot the resident chose: a button, the option's number or its time."""
        if message.kind is MessageKind.BUTTON and message.choice:
            value = message.choice.removeprefix("slot:")
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                return None
            return at if at in offered else None
        text = fold(message.text).strip()
        number = OPTION_NUMBER.fullmatch(text)
        if number and 1 <= int(number.group(1)) <= len(offered):
            return offered[int(number.group(1)) - 1]
        clock = CLOCK.search(text)
        if clock:
            wanted = (int(clock.group(1)), int(clock.group(2)))
            local = [(at, at.astimezone(self.tz)) for at in offered]
            matching = [at for at, lt in local if (lt.hour, lt.minute) == wanted]
            if len(matching) == 1:
                return matching[0]
        return None


def answer(message: Message) -> str | None:
    """``cancel`` or ``change`` from a button or the resident's words, else None."""
    if message.kind is MessageKind.BUTTON and message.choice in ANSWERS:
        return message.choice
    hits = keyword_hits(message.text, ANSWERS)
    if len(hits) == 1:
        return next(iter(hits))
    return None


@junbridge.hookimpl
def register_departments(register: junbridge.RegisterDepartment) -> None:
    """Add the doctor's surgery."""
    register(Doctor)
