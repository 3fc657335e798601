"""Waste collection: missed bins and bulky items. Settings: departments.waste."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pydantic import Field

import junbridge
from junbridge import (
    WEEKDAY_DAY,
    WEEKDAYS,
    Change,
    Choice,
    Conversation,
    Message,
    Outcome,
    ServiceRequest,
    Status,
    Weekday,
    format_day,
)


class Waste(junbridge.Department):
    """Missed bin collections and bulky-item pick-ups."""

    name = "waste"  # its block in channels.yaml: departments.waste
    titles = {"es": "Recogida de basuras", "en": "Waste collection"}
    privacy = "public"  # "private" never appears in public
    service_code = "waste"  # Open311 service_code

    class Settings(junbridge.DepartmentSettings):
        """departments.waste in channels.yaml."""

        keywords: dict[str, list[str]] = Field(
            default_factory=lambda: {
                "es": ["basura", "contenedor", "contenedores", "enseres", "colchón", "muebles"],
                "en": ["bin", "bins", "rubbish", "garbage", "bulky", "mattress"],
            }
        )
        bulky_day: Weekday = Field("thu", description="the weekday bulky items are collected")
        sla_hours: float = 24

    texts = {
        "es": {
            "ack": "Gracias. **{reference}** ({department}): lo lleva {assignee}. "
            "Previsto: {expected}.",
            "which_day": "Recogemos muebles y colchones los {weekday}. ¿Qué día te viene bien? "
            "(**{reference}**)",
            "which_day_again": "Elige uno de estos días, por favor:",
            "booked": "Apuntado: pasaremos el {day}. Déjalo junto al contenedor la noche antes. "
            "(**{reference}**)",
        },
        "en": {
            "ack": "Thanks. **{reference}** ({department}): {assignee} has it. "
            "Expected by {expected}.",
            "which_day": "We collect furniture and mattresses on {weekday}s. Which day suits "
            "you? (**{reference}**)",
            "which_day_again": "Please pick one of these days:",
            "booked": "Booked: we will come on {day}. Leave it by the bin the night before. "
            "(**{reference}**)",
        },
    }

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """A missed bin goes to the crew; a bulky item gets a pick-up day, chosen by button."""
        if conversation.asked("day"):
            return await self.book(message, conversation)
        if self.is_bulky(message):
            return conversation.ask(
                "day",
                self.say(
                    "which_day",
                    choices=self.day_buttons(conversation.language),
                    weekday=self.weekday_name(conversation.language),
                ),
                change=Change(open=True, location=message.location, details={"bulky": True}),
            )
        crew = await self.assignee()
        return Outcome(
            change=Change(
                open=True,
                location=message.location,
                assignee=crew.name if crew else None,
                states=(Status.ASSIGNED,) if crew else (Status.ACKNOWLEDGED,),
            ),
            says=(self.say("ack"),),
        )

    async def book(self, message: Message, conversation: Conversation) -> Outcome:
        """The resident pressed a day: the request is assigned for it, and the exchange ends."""
        offered = {day.isoformat() for day in self.pick_up_days()}
        chosen = (message.choice or "").removeprefix("day:")
        if chosen not in offered:
            buttons = self.day_buttons(conversation.language)
            return conversation.ask("day", self.say("which_day_again", choices=buttons))
        crew = await self.assignee()
        pick_up = date.fromisoformat(chosen)
        day = format_day(pick_up, WEEKDAY_DAY, conversation.language)
        return Outcome(
            change=Change(
                details={"bulky": True, "pick_up": chosen},
                assignee=crew.name if crew else None,
                states=(Status.ASSIGNED,) if crew else (),
                # Promised for the pick-up day, by the end of the crew's round.
                expected=datetime.combine(pick_up, time(14), tzinfo=self.tz),
            ),
            says=(self.say("booked", day=day),),
        )

    def same_matter(self, report: ServiceRequest, nearby: ServiceRequest) -> bool:
        """A bin missed in one street is one round to redo, whoever reports it; two
        neighbours' mattresses are two pick-ups, however close."""
        return not report.details.get("bulky") and not nearby.details.get("bulky")

    def is_bulky(self, message: Message) -> bool:
        """Furniture or a mattress: the words of the bulky-item service, in any language."""
        text = junbridge.fold(message.text)
        return any(word in text for word in ("mueble", "colchon", "sofa", "mattress", "bulky"))

    def pick_up_days(self, count: int = 2) -> list[date]:
        """The next ``count`` collection days after today, in the town's time zone."""
        today = self.now().astimezone(self.tz).date()
        wanted = WEEKDAYS.index(self.settings.bulky_day)
        first = today + timedelta(days=(wanted - today.weekday() - 1) % 7 + 1)
        return [first + timedelta(weeks=n) for n in range(count)]

    def day_buttons(self, language: str) -> tuple[Choice, ...]:
        """One button per collection day: "jueves, 3 de diciembre" -> ``day:2026-12-03``."""
        return tuple(
            Choice(label=format_day(day, WEEKDAY_DAY, language), value=f"day:{day.isoformat()}")
            for day in self.pick_up_days()
        )

    def weekday_name(self, language: str) -> str:
        """The collection weekday in words: "jueves", "Thursday"."""
        day = self.pick_up_days(1)[0]
        return format_day(day, WEEKDAY_DAY, language).partition(",")[0]


@junbridge.hookimpl
def register_departments(register: junbridge.RegisterDepartment) -> None:
    """Add the waste department."""
    register(Waste)
