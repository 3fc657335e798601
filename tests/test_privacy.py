"""What the public sees of public requests has no personal data; private ones are never shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from junbridge.model import Reply, ServiceRequest, Status
from junbridge.privacy import is_publishable, public_description, public_reply, redact
from junbridge.requests.lifecycle import open311
from junbridge.testing import make_bridge, make_message

DATA = Path(__file__).parent / "data"
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # phones: mobiles and landlines in the usual groupings, with and without +34
        (
            "La farola no funciona, mi móvil es 612 345 678",
            "La farola no funciona, mi móvil es [teléfono]",
        ),
        ("Llamadme al 612345678 por la tarde", "Llamadme al [teléfono] por la tarde"),
        ("tlf. 958.12.34.56, pregunten por mí", "tlf. [teléfono], pregunten por mí"),
        ("whatsapp +34 612 34 56 78", "whatsapp [teléfono]"),
        ("mi número: 0034 612-345-678", "mi número: [teléfono]"),
        ("o al fijo (+34) 958 12 34 56", "o al fijo [teléfono]"),
        # e-mail
        ("Escribidme a ana.garcia+ayto@correo.es", "Escribidme a [correo]"),
        # DNI and NIE, check letter right or not
        ("Mi DNI es 12345678Z", "Mi DNI es [DNI/NIE]"),
        ("con DNI 87.654.321-X", "con DNI [DNI/NIE]"),
        ("NIE X1234567L", "NIE [DNI/NIE]"),
        # bank accounts and cards
        ("IBAN ES91 2100 0418 4502 0005 1332", "IBAN [cuenta bancaria]"),
        ("cuenta ES9121000418450200051332.", "cuenta [cuenta bancaria]."),
        ("la tarjeta 4111 1111 1111 1111", "la tarjeta [tarjeta]"),
        # plates
        ("el coche 1234 BCD tapa el vado", "el coche [matrícula] tapa el vado"),
        ("un GR-1234-AB en doble fila", "un [matrícula] en doble fila"),
        # names introduced by a phrase
        (
            "Hola, me llamo Ana García López y la farola parpadea",
            "Hola, me llamo [nombre] y la farola parpadea",
        ),
        ("me llamo ana garcía y vivo al lado", "me llamo [nombre] y vivo al lado"),
        ("Soy Pepe Ruiz, el de la panadería", "Soy [nombre], el de la panadería"),
        (
            "Mi vecino de arriba, Juan Pérez, deja la basura fuera",
            "Mi vecino de arriba, [nombre], deja la basura fuera",
        ),
        ("Atentamente, María José López de la Torre", "Atentamente, [nombre]"),
        # addresses: the street stays, the house number and the door go
        ("la farola de la calle Real 12 no funciona", "la farola de la calle Real no funciona"),
        ("Vivo en C/ Nueva nº 3, 2ºB, y no hay luz", "Vivo en C/ Nueva, y no hay luz"),
        ("Avda. de Andalucía, 45 - 3º izq. tiene un bache", "Avda. de Andalucía tiene un bache"),
        ("vivo en el número 12 de la calle Real", "vivo en la calle Real"),
        ("la farola frente al 5 de la Plaza Mayor", "la farola frente a la Plaza Mayor"),
        ("en el nº 3 del paseo del Prado", "en el paseo del Prado"),
        ("plaza de la Constitución 1, bajo A", "plaza de la Constitución"),
        ("el vecino del 3ºB pone la música alta", "el vecino del [piso] pone la música alta"),
    ],
)
def test_spanish_personal_data_is_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi, my name is John Smith and the street light is out",
            "Hi, my name is [name] and the street light is out",
        ),
        ("I'm Sarah O'Connor, call me on 07911 123456", "I'm [name], call me on [phone]"),
        ("phone +44 20 7946 0958 after 6pm", "phone [phone] after 6pm"),
        ("or call (555) 123-4567", "or call [phone]"),
        ("My email is john@example.co.uk.", "My email is [email]."),
        ("I live at 12 Calle Real, flat 3", "I live at Calle Real, [flat]"),
        ("from number 4 Church Lane", "from Church Lane"),
        (
            "my neighbour Peter Jones parks on the pavement",
            "my neighbour [name] parks on the pavement",
        ),
        ("Kind regards, Peter", "Kind regards, [name]"),
    ],
)
def test_english_personal_data_is_replaced(text: str, expected: str) -> None:
    assert redact(text, language="en") == expected


@pytest.mark.parametrize(
    "text",
    [
        "La farola 112 de la calle Real lleva apagada desde las 22:30",
        "farola nº 7 junto al colegio",
        "Lo seguimos en JUN-0042, lo vemos el 3 de diciembre de 2026",
        "Se apagó el 25/11/2026 a las 21:00h, otra vez el 2026-11-26",
        "El arreglo cuesta 3 euros, o 1.500 euros si hay que cambiar el poste",
        "en la calle Real hay 12 farolas apagadas y en la plaza de España 3 más",
        "Soy vecino de la calle Real y soy de Jun",
        "Tengo 85 años y llevo 2 semanas sin luz",
        "Lugar: lamp-112, código postal 18213",
        "carretera A-92 km 12",
        "I'm British and the lamp 112 near Real Street is out since 10:30pm",
        "Ver [el mapa](https://www.openstreetmap.org/?mlat=37.2218&mlon=-3.593#map=19/37.2218/-3.593)",
        "https://x.com/AytoJun/status/1864598234567890123",
        "**JUN-0001** (Alumbrado público): se lo hemos pasado a electricista. "
        "Previsto: viernes, 4 de diciembre, 9:00.",
    ],
)
def test_what_the_public_may_know_is_left_alone(text: str) -> None:
    assert redact(text) == text
    assert redact(text, language="en") == text


def test_placeholders_follow_the_language_and_fall_back_to_english() -> None:
    assert redact("tel 612 345 678", language="es-ES") == "tel [teléfono]"
    assert redact("tel 612 345 678", language="fr") == "tel [phone]"
    assert redact("") == ""


@pytest.fixture
async def bridge(tmp_path: Path):
    b = await make_bridge(config=DATA / "jun.yaml", clock=lambda: WEDNESDAY_10, workdir=tmp_path)
    yield b
    await b.close()


async def test_open311_of_a_public_request_has_no_phone_email_or_name(bridge) -> None:
    handled = await bridge.receive(
        make_message(
            "Me llamo Ana García, la farola de la calle Real 12 no funciona. "
            "Llamadme al 612 345 678 o a ana@correo.es",
            channel="twitter",
            location=(37.2218, -3.5930),
        )
    )
    request = handled.request
    assert request.department == "lighting" and is_publishable(request)
    # Staff see what the resident wrote: the card in their own place is not redacted.
    assert "612 345 678" in request.description
    rows = await bridge.store.replies_for(request.reference)
    [card] = [r.reply for r in rows if r.reply.conversation == "C0LIGHTSTAFF"]
    assert "Ana García" in card.text and "612 345 678" in card.text
    data = open311(request, public_url="https://jun.example")
    assert data["description"] == (
        "Me llamo [nombre], la farola de la calle Real no funciona. "
        "Llamadme al [teléfono] o a [correo]"
    )
    assert public_description(request) == data["description"]
    assert (data["lat"], data["long"]) == (37.2218, -3.5930)


async def test_staff_notes_are_redacted_in_open311_status_notes(bridge) -> None:
    handled = await bridge.receive(make_message("farola 7 apagada", channel="twitter"))
    request = await bridge.set_state(
        handled.request.reference,
        Status.REJECTED,
        by="electricista",
        note="es de Endesa, que la vecina llame al 900 123 456 o escriba a averias@endesa.es",
    )
    notes = open311(request, public_url="https://jun.example")["status_notes"]
    assert notes == "rejected: es de Endesa, que la vecina llame al [teléfono] o escriba a [correo]"


async def test_a_private_request_is_never_projected(bridge) -> None:
    handled = await bridge.receive(
        make_message("Me han robado la bici, soy Ana García, mi móvil 612 345 678")
    )
    request = handled.request
    assert request.department == "police" and request.privacy == "private"
    assert not is_publishable(request)
    assert public_description(request) is None
    with pytest.raises(ValueError, match="private"):
        open311(request, public_url="https://jun.example")


def test_public_replies_are_redacted_and_others_kept_as_they_are() -> None:
    reply = Reply(
        text="**JUN-0001**: llamaremos a Ana al 612 345 678", channel="x", conversation="1"
    )
    assert public_reply(reply, language="es").text == "**JUN-0001**: llamaremos a Ana al [teléfono]"
    clean = Reply(text="**JUN-0001**: lo lleva electricista", channel="x", conversation="1")
    assert public_reply(clean, language="es") is clean


def test_public_description_uses_the_request_language() -> None:
    request = ServiceRequest(
        service_request_id="JUN-0001",
        reference="JUN-0001",
        service_code="lighting",
        service_name="Street lighting",
        description="my name is John Smith, lamp 7 is out",
        requested_datetime=WEDNESDAY_10,
        updated_datetime=WEDNESDAY_10,
        department="lighting",
        language="en",
    )
    assert public_description(request) == "my name is [name], lamp 7 is out"


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (
            "Hablé con Ana García, vive en la calle Mayor 5, 2ºB. Bombilla cambiada.",
            "Hablé con [nombre], vive en la calle Mayor. Bombilla cambiada.",
        ),
        ("Me abrió su hijo Pedro y está arreglada.", "Me abrió su hijo [nombre] y está arreglada."),
        ("Hoy María José Pérez nos enseñó el poste.", "Hoy [nombre] nos enseñó el poste."),
        ("La farola de la Plaza Mayor ya funciona.", "La farola de la Plaza Mayor ya funciona."),
        ("I spoke to John Smith, fixed now.", "I spoke to [nombre], fixed now."),
        ("Cambiada por LED con DNI 12345678Z", "Cambiada por LED con DNI [DNI/NIE]"),
    ],
)
def test_names_in_a_staff_note_are_kept_out_of_public_replies(note: str, expected: str) -> None:
    """A staff note relayed to a public thread names nobody, however the name came up."""
    assert redact(note) == expected
