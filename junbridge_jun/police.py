"""Local police: noise, theft, vandalism, badly parked cars. Settings: departments.police.

Reports to the police are private. Words of danger (a knife, a fight, blood, fire) come first:
we tell the resident to call the emergency number before anything else, and promise a patrol
within minutes. Noise at night gets a patrol within half an hour; everything else is answered
within a day, wall-clock time, because the police work nights and weekends.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pydantic import Field

import junbridge
from junbridge import Change, Conversation, Message, Outcome, Status, keyword_hits

# What each kind of report sounds like; the first category with the most hits wins.
CATEGORIES: dict[str, dict[str, list[str]]] = {
    "noise": {
        "es": [
            "ruido*",
            "música alta",
            "música a tope",
            "fiesta",
            "botellón",
            "gritos",
            "escándalo",
            "no se puede dormir",
        ],
        "en": ["noise", "noisy", "loud music", "party", "shouting", "can't sleep"],
    },
    "theft": {
        "es": [
            "robo",
            "robos",
            "me han robado",
            "han robado",
            "robado*",
            "hurto*",
            "ladrón*",
            "han entrado en",
        ],
        "en": ["theft", "stolen", "stole", "robbed", "robbery", "burglary", "thief", "thieves"],
    },
    "vandalism": {
        "es": ["vandalismo", "vándalos", "pintadas", "grafiti*", "rotura", "han roto", "destroz*"],
        "en": ["vandalism", "vandal*", "graffiti", "smashed", "broken window"],
    },
    "parking": {
        "es": [
            "aparcado*",
            "mal aparcado*",
            "aparcamiento",
            "doble fila",
            "vado",
            "tapando la salida",
            "grúa",
        ],
        "en": [
            "parked",
            "parking",
            "double parked",
            "blocking my driveway",
            "driveway",
            "tow truck",
        ],
    },
}

# Danger now: the resident must call the emergency number before writing to us.
URGENT: dict[str, list[str]] = {
    "es": [
        "arma",
        "armas",
        "cuchillo",
        "navaja",
        "pistola",
        "escopeta",
        "pelea",
        "peleando",
        "herido",
        "herida",
        "heridos",
        "sangre",
        "sangrando",
        "fuego",
        "incendio",
        "agresión",
        "agredido",
        "agredida",
        "me están pegando",
    ],
    "en": [
        "weapon",
        "knife",
        "gun",
        "fight",
        "fighting",
        "hurt",
        "injured",
        "bleeding",
        "blood",
        "fire",
        "assault",
        "attacked",
    ],
}


class Police(junbridge.Department):
    """The Policía Local: public order, theft, vandalism and parking."""

    name = "police"
    titles = {"es": "Policía Local", "en": "Local Police"}
    privacy = "private"
    service_code = "police"

    class Settings(junbridge.DepartmentSettings):
        """departments.police in channels.yaml.

        ``keywords`` name the police; ``categories`` and ``urgent`` describe what happened.
        All three bring a message here; the last two also decide how it is filed and how
        fast we promise to come.
        """

        keywords: dict[str, list[str]] = Field(
            default_factory=lambda: {
                "es": ["policía", "policía local", "municipal", "municipales", "denuncia*"],
                "en": ["police", "officer", "report a crime"],
            }
        )
        categories: dict[str, dict[str, list[str]]] = CATEGORIES
        urgent: dict[str, list[str]] = URGENT
        sla_hours: float = 24
        business_hours: bool = False
        urgent_minutes: int = Field(15, gt=0)
        night_noise_minutes: int = Field(30, gt=0)
        night_start: time = time(22)
        night_end: time = time(7)

    texts = {
        "es": {
            "emergency": "Si hay peligro ahora mismo, llama al **{emergency}**.",
            "assigned": "Gracias. Tu aviso a la {department} es **{reference}**. "
            "Lo lleva {assignee}. Previsto: {expected}.",
            "acknowledged": "Gracias. Tu aviso a la {department} es **{reference}**. "
            "Previsto: {expected}.",
        },
        "en": {
            "emergency": "If anyone is in danger right now, call **{emergency}**.",
            "assigned": "Thank you. Your report to the {department} is **{reference}**. "
            "{assignee} is on it. Expected by {expected}.",
            "acknowledged": "Thank you. Your report to the {department} is **{reference}**. "
            "Expected by {expected}.",
        },
    }

    def match(self, message: Message) -> float:
        """The keyword score, counting each kind of report once.

        "Han roto" and "vandalismo" are one vandalism, so that another department's word in
        the same message ("farola") still leaves the resident a choice.
        """
        tables = [self.settings.keywords, self.settings.urgent, *self.settings.categories.values()]
        found = sum(1 for words in tables if keyword_hits(message.text, words))
        return 0.0 if found == 0 else min(1.0, 0.5 + 0.2 * found)

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """File the report, warn about the emergency number if needed, assign the officer."""
        category = self.category(message.text)
        urgent = bool(keyword_hits(message.text, self.settings.urgent))
        expected, why = self.expected(category, urgent)
        # The police always answer: off the rota, the first officer listed takes it.
        officer = await self.assignee() or (self.settings.staff[0] if self.settings.staff else None)
        change = Change(
            open=conversation.request is None,
            description=message.text,
            expected=expected,
            assignee=officer.name if officer else None,
            details={"category": category, "urgent": urgent},
            states=(Status.ASSIGNED,) if officer else (Status.ACKNOWLEDGED,),
            note=why,
        )
        acknowledgement = self.say("assigned" if officer else "acknowledged")
        if urgent:
            warning = self.say("emergency", emergency=self.town.emergency_number)
            return Outcome(change=change, says=(warning, acknowledgement))
        return Outcome(change=change, says=(acknowledgement,))

    def category(self, text: str) -> str:
        """``noise``, ``theft``, ``vandalism``, ``parking`` (or an admin's own), else ``other``."""
        best, most = "other", 0
        for name, words in self.settings.categories.items():
            hits = sum(keyword_hits(text, words).values())
            if hits > most:
                best, most = name, hits
        return best

    def expected(self, category: str, urgent: bool) -> tuple[datetime | None, str]:
        """When we promise to come, and why; None leaves it to the SLA in channels.yaml."""
        now = self.now()
        if urgent:
            return now + timedelta(minutes=self.settings.urgent_minutes), "urgent"
        if category == "noise" and self.is_night(now):
            return now + timedelta(minutes=self.settings.night_noise_minutes), "noise at night"
        return None, category

    def is_night(self, when: datetime) -> bool:
        """Whether ``when`` falls in the night hours (town time), which may cross midnight."""
        local = when.astimezone(self.tz).time()
        start, end = self.settings.night_start, self.settings.night_end
        if start <= end:
            return start <= local < end
        return local >= start or local < end


@junbridge.hookimpl
def register_departments(register: junbridge.RegisterDepartment) -> None:
    """Add the local police."""
    register(Police)
