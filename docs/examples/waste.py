"""Waste collection: missed bins and bulky items. Settings: departments.waste."""

from __future__ import annotations

from pydantic import Field

import junbridge
from junbridge import Change, Conversation, Message, Outcome, Status


class Waste(junbridge.Department):
    """Missed bin collections and bulky-item pick-ups."""

    name = "waste"
    titles = {"es": "Recogida de basuras", "en": "Waste collection"}
    privacy = "public"
    service_code = "waste"

    class Settings(junbridge.DepartmentSettings):
        """departments.waste in channels.yaml."""

        keywords: dict[str, list[str]] = Field(
            default_factory=lambda: {
                "es": ["basura", "contenedor", "contenedores", "enseres", "colchón", "muebles"],
                "en": ["bin", "bins", "rubbish", "garbage", "bulky", "mattress"],
            }
        )
        bulky_day: str = Field("jueves", description="the day bulky items are collected")
        sla_hours: float = 24

    texts = {
        "es": {
            "ack": "Gracias. **{reference}** ({department}): pasará el camión. "
            "Previsto: {expected}.",
            "bulky": "Los muebles y colchones se recogen el {day}. Déjalos junto al contenedor "
            "la noche antes. Referencia: **{reference}**.",
        },
        "en": {
            "ack": "Thanks. **{reference}** ({department}): the lorry will come by. "
            "Expected by {expected}.",
            "bulky": "Furniture and mattresses are collected on {day}. Leave them by the bin "
            "the night before. Reference: **{reference}**.",
        },
    }

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """Bulky items get the collection day; a missed bin goes to the crew on duty."""
        if self.keyword_score(message.text) and any(
            word in message.text.lower()
            for word in ("mueble", "colchón", "colchon", "mattress", "bulky")
        ):
            return Outcome(
                change=Change(
                    open=True,
                    states=(Status.RESOLVED, Status.CLOSED),
                    note="answered: bulky items day",
                ),
                says=(self.say("bulky", day=self.settings.bulky_day),),
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


@junbridge.hookimpl
def register_departments(register: junbridge.RegisterDepartment) -> None:
    """Add the waste department."""
    register(Waste)
