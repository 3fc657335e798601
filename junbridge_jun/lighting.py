"""Street lighting: dead or flickering lamps. Settings: departments.lighting.

A report needs a place: the phone's location, the number painted on the lamp post, or a
street. Without one we open the request and ask; with one we assign the on-duty electrician
and promise a time (48 business hours unless channels.yaml says otherwise).
"""

from __future__ import annotations

import re

from pydantic import Field

import junbridge
from junbridge import Attribute, Change, Conversation, Message, Outcome, Service, Status, fold

# "farola 112", "farola nº 112", "lamp #112", "poste 112"
LAMP_NUMBER = re.compile(
    r"(?:farola|poste|lamp|lamppost|post|numero|number|n[ºo°]|num|#)\.?\s*(\d{1,5})\b"
)
STREET = re.compile(
    r"\b(?i:calle|c/|avenida|avda\.?|plaza|paseo|camino|carretera|barrio)\s+"
    r"(?:(?:de|del)\s+(?:la\s+|los\s+|las\s+)?)?"
    r"([A-ZÁÉÍÓÚÑ][\w'’-]*(?:\s+(?:de\s+)?[A-ZÁÉÍÓÚÑ][\w'’-]*)*)"
    r"|\b([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)\s+(?:Street|St\.?|Road|Avenue|Square|Lane)\b"
)


class Lighting(junbridge.Department):
    """Dead or flickering street lamps."""

    name = "lighting"
    titles = {"es": "Alumbrado público", "en": "Street lighting"}
    privacy = "public"
    service_code = "streetlight"
    # What a town's apps report through Open311: a lamp, by the number on its post if known.
    services = (
        Service(
            code="streetlight",
            name={"es": "Farola apagada o que parpadea", "en": "Street lamp out or flickering"},
            attributes=(
                Attribute(
                    code="lamp",
                    description={
                        "es": "Número pintado en el poste",
                        "en": "Number painted on the post",
                    },
                    datatype="number",
                ),
            ),
        ),
    )

    class Settings(junbridge.DepartmentSettings):
        """departments.lighting in channels.yaml."""

        keywords: dict[str, list[str]] = Field(
            default_factory=lambda: {
                "es": [
                    "farola",
                    "farolas",
                    "alumbrado",
                    "bombilla",
                    "fundida",
                    "parpadea",
                    "sin luz",
                    "apagada",
                    "luz de la calle",
                ],
                "en": [
                    "street light",
                    "streetlight",
                    "street lamp",
                    "lamp post",
                    "lamppost",
                    "flickering",
                    "light is out",
                    "lights are out",
                ],
            }
        )
        sla_hours: float = 48

    texts = {
        "es": {
            "where": "Gracias por avisar. Hemos abierto {reference} ({department}). "
            "¿Dónde está la farola? Envía la ubicación, el número pintado en el poste "
            "o el nombre de la calle.",
            "where_again": "No encuentro el sitio en tu mensaje. Envía la ubicación desde el "
            "móvil, el número de la farola (por ejemplo «farola 112») o la calle.",
            "assigned": "Gracias. **{reference}** ({department}): se lo hemos pasado a "
            "{assignee}. Previsto: {expected}.",
            "acknowledged": "Gracias. **{reference}** ({department}) queda registrada. "
            "Previsto: {expected}.",
            "off_hours": "Gracias. **{reference}** ({department}) queda registrada. Ahora no "
            "hay nadie de guardia: {who} lo verá a partir del {when}. Previsto: {expected}.",
            "notice": "Las averías de alumbrado se reparan en {hours} horas hábiles.",
            "already_reported": "Ya nos lo han avisado: **{reference}**, lo lleva {assignee}. "
            "Te avisaremos cuando esté arreglada. Si es otra farola, responde «es otra».",
        },
        "en": {
            "where": "Thanks for telling us. We opened {reference} ({department}). "
            "Where is the lamp? Send your location, the number painted on the post "
            "or the street name.",
            "where_again": "I can't find the place in your message. Send your phone's "
            'location, the lamp number (e.g. "lamp 112") or the street.',
            "assigned": "Thanks. **{reference}** ({department}): {assignee} has it. "
            "Expected by {expected}.",
            "acknowledged": "Thanks. **{reference}** ({department}) is registered. "
            "Expected by {expected}.",
            "off_hours": "Thanks. **{reference}** ({department}) is registered. Nobody is on "
            "duty right now: {who} will see it from {when}. Expected by {expected}.",
            "notice": "Street lighting faults are repaired within {hours} business hours.",
            "already_reported": "Already reported: **{reference}**, {assignee} has it. We will "
            "let you know when it is fixed. If yours is another lamp, reply “different one”.",
        },
    }

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """Open the request, ask where it is if we don't know, then assign it."""
        place = self.place(message)
        if place is None:
            if conversation.asked("location"):
                return conversation.ask("location", self.say("where_again"))
            return conversation.ask(
                "location", self.say("where"), change=Change(open=True, description=message.text)
            )
        staff = await self.assignee()
        notice = self.text("notice", conversation.language, hours=f"{self.settings.sla_hours:g}")
        change = Change(
            open=conversation.request is None,
            description=None if conversation.asked("location") else message.text,
            service_notice=notice,
            assignee=staff.name if staff else None,
            states=(Status.ASSIGNED,) if staff else (Status.ACKNOWLEDGED,),
            note="on duty" if staff else "nobody on duty",
            **place,
        )
        if staff is not None:
            return Outcome(change=change, says=(self.say("assigned"),))
        # Nobody on duty now: it waits for the next shift, and the resident knows until when.
        upcoming = self.next_shift()
        if upcoming is None:
            return Outcome(change=change, says=(self.say("acknowledged"),))
        who, when = upcoming
        said = self.say(
            "off_hours", who=who.name, when=self.format_time(when, conversation.language)
        )
        return Outcome(change=change, says=(said,))

    def where(self, message: Message) -> Change | None:
        """Where the lamp is, as ``handle`` will file it: read before it decides."""
        place = self.place(message)
        return Change(**place) if place is not None else None

    def keeps(self, message: Message, conversation: Conversation) -> bool | None:
        """Where the lamp is answers "where?", whatever else the words match ("by the police
        station")."""
        if conversation.asked("location") and self.place(message) is not None:
            return True
        return None

    @staticmethod
    def place(message: Message) -> dict[str, object] | None:
        """Where the lamp is: location (with the lamp's number if given), lamp number or
        street; None when the message says not."""
        number = LAMP_NUMBER.search(fold(message.text))
        lamp = {"address_id": f"lamp-{number.group(1)}"} if number else {}
        if message.location is not None:
            # The number too: two lamps side by side are told apart by it.
            return {"location": message.location, **lamp}
        if lamp:
            return lamp
        street = STREET.search(message.text)
        if street:
            return {"address": street_name(street.group(0).strip())}
        return None


# How the kind of a street (STREET) may be written, and the one way it is kept.
STREET_KINDS = {
    **{kind: kind for kind in ("calle", "avenida", "plaza", "paseo", "camino", "carretera")},
    **{"barrio": "barrio", "c/": "calle", "avda": "avenida", "avda.": "avenida"},
}


def street_name(found: str) -> str:
    """A street written one way ("Calle Real", "c/ Real" -> "calle Real"): two reports of
    one street are then the same place, and a new one joins an open one there."""
    kind, _, name = found.partition(" ")
    written = STREET_KINDS.get(kind.casefold())
    return f"{written} {name.strip()}" if written and name.strip() else found


@junbridge.hookimpl
def register_departments(register: junbridge.RegisterDepartment) -> None:
    """Add the lighting department."""
    register(Lighting)
