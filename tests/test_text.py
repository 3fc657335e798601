"""Platform text repaired where it comes in: storable by any store, sendable as UTF-8."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from junbridge.model import Attachment, Location, Message, MessageKind, Sender
from junbridge.text import storable, storable_text

BULB = "💡"
HIGH, LOW = "\ud83d", "\udca1"  # the two UTF-16 halves of 💡


def test_a_pair_left_as_two_halves_becomes_the_character():
    assert HIGH + LOW == "\ud83d\udca1" != BULB
    assert storable_text(f"La farola {HIGH}{LOW} no va") == f"La farola {BULB} no va"


@pytest.mark.parametrize(
    ("text", "repaired"),
    [
        (f"no funciona {HIGH}", "no funciona \ufffd"),  # the emoji cut at the end
        (f"{LOW} al principio", "\ufffd al principio"),
        (f"dos {HIGH}{HIGH} altas", "dos \ufffd\ufffd altas"),
        (f"al revés {LOW}{HIGH}", "al revés \ufffd\ufffd"),
        (f"{HIGH}{HIGH}{LOW}", f"\ufffd{BULB}"),  # the half before a whole pair
    ],
)
def test_a_lone_half_becomes_the_replacement_character(text: str, repaired: str):
    assert storable_text(text) == repaired
    repaired.encode("utf-8")  # no UnicodeEncodeError


def test_nul_and_control_characters_go_and_line_breaks_and_tabs_stay():
    text = "calle\x00 Real\x07\x1b[0m\r\n1.\tfarola\x0b\x0c\x1f\n2.\x08 banco"
    assert storable_text(text) == "calle Real[0m\r\n1.\tfarola\n2. banco"


@pytest.mark.parametrize(
    "text",
    [
        "La farola 12 de la calle Real no funciona",
        "¿Dónde está el contenedor? Año nuevo, señal rota: ¡ñandú, pingüino!",
        "Gracias 🙏🏽 la fuente 🚰 ya va 👍 👨‍👩‍👧 🇪🇸",
        "Línea uno\nLínea dos\r\n\tsangría",
        "",
    ],
)
def test_ordinary_text_and_whole_emoji_are_kept_as_they_are(text: str):
    assert storable_text(text) is text


def test_a_whole_message_is_repaired_raw_payload_included():
    raw = json.loads('{"text": "no va \\ud83d", "from": {"first_name": "Ana\\u0000"}, "n": 1}')
    message = Message(
        channel="telegram",
        platform_id="7:1\x00",
        conversation="7",
        sender=Sender(id="7", handle=f"ana{HIGH}", name="Ana\x00", language="es"),
        sent_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        text=f"La farola\x00 no va {HIGH}",
        kind=MessageKind.PHOTO,
        attachments=(Attachment(platform_ref="f1", name=f"foto{LOW}.jpg"),),
        location=Location(lat=37.2, long=-3.6, address="calle\x00 Real"),
        choice=f"dept:{HIGH}",
        raw=raw,
    )
    repaired = storable(message)
    assert repaired.text == "La farola no va \ufffd"
    assert repaired.platform_id == "7:1"
    assert repaired.sender == Sender(id="7", handle="ana\ufffd", name="Ana", language="es")
    assert repaired.attachments[0].name == "foto\ufffd.jpg"
    assert repaired.location == Location(lat=37.2, long=-3.6, address="calle Real")
    assert repaired.choice == "dept:\ufffd"
    assert repaired.raw == {"text": "no va \ufffd", "from": {"first_name": "Ana"}, "n": 1}
    assert repaired.kind is MessageKind.PHOTO and repaired.sent_at == message.sent_at
    # What the store writes is plain UTF-8 now.
    json.dumps(repaired.to_json(), ensure_ascii=False).encode("utf-8")


def test_a_sound_message_comes_through_equal():
    message = Message(
        channel="slack",
        platform_id="C1:1.2",
        conversation="C1",
        sender=Sender(id="U1", name="María"),
        sent_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        text="La farola de la calle Real no funciona 💡",
        raw={"event": {"text": "La farola de la calle Real no funciona 💡", "n": [1, 2.5]}},
    )
    repaired = storable(message)
    assert repaired == message and repaired.raw == message.raw
