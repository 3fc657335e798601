"""Voice notes, stickers, videos and documents: the resident hears what the town can take."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from junbridge.channels.telegram_parse import parse_update
from junbridge.model import Message, MessageKind
from junbridge.testing import make_bridge, make_message

DATA = Path(__file__).parent / "data"
FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
WEDNESDAY_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
# The sender and chat of the captured updates below (tests/fixtures/telegram/SOURCES.md).
SENDER = "12345678"


@pytest.fixture
async def bridge(tmp_path):
    b = await make_bridge(config=DATA / "jun.yaml", clock=lambda: WEDNESDAY_10, workdir=tmp_path)
    yield b
    await b.close()


def captured(name: str, **derived: Any) -> Message:
    """A captured update as its Message; ``derived`` replaces fields of ``message`` first."""
    update = json.loads((FIXTURES / name).read_text())
    update["message"].update(derived)
    update["message"] = {k: v for k, v in update["message"].items() if v is not None}
    message = parse_update(update)
    assert message is not None
    return message


def says(handled) -> str:
    return "\n".join(reply.text for reply in handled.replies)


async def report_a_lamp(bridge):
    """The same resident reports a dead lamp; lighting asks where it is."""
    handled = await bridge.receive(
        make_message(
            "La farola de la plaza no funciona", user_id=SENDER, user="UserName", lang="es"
        )
    )
    assert handled.department == "lighting" and handled.request is not None
    return handled.request


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("voice.ptb22.json", "No podemos escuchar notas de voz"),
        ("sticker.ptb22.json", "Los stickers no sabemos leerlos"),
    ],
)
async def test_a_voice_note_or_sticker_is_told_what_the_town_can_take(bridge, name, words):
    handled = await bridge.receive(captured(name))
    assert words in says(handled)
    assert "una foto" in says(handled) and "ubicación" in says(handled)
    assert await bridge.requests.all() == []


async def test_in_english_the_answer_is_in_english(bridge):
    handled = await bridge.receive(make_message(kind=MessageKind.VIDEO, lang="en"))
    assert says(handled).startswith("We can't watch videos here.")
    assert "photo" in says(handled) and "location" in says(handled)


async def test_a_voice_note_during_a_report_is_kept_on_it_and_the_report_goes_on(bridge):
    lamp = await report_a_lamp(bridge)
    voice = await bridge.receive(captured("voice.ptb22.json"))
    assert f"Lo hemos guardado en **{lamp.reference}**" in says(voice)
    assert "No podemos escuchar notas de voz" in says(voice)
    [kept] = await bridge.requests.all()
    assert [a.mime_type for a in kept.attachments] == ["audio/ogg"]
    assert kept.history[-1].action == "attachment"
    # Lighting still waits for the place: the location finishes the report.
    located = await bridge.receive(
        make_message(location=(37.22, -3.59), user_id=SENDER, user="UserName")
    )
    assert located.request.reference == lamp.reference and located.request.lat == 37.22


async def test_a_document_during_a_report_is_kept_on_it(bridge):
    lamp = await report_a_lamp(bridge)
    # Derived from the capture: its caption removed, so the document comes alone.
    document = captured("document_with_caption.ptb22.json", caption=None)
    handled = await bridge.receive(document)
    assert "No podemos leer documentos" in says(handled) and lamp.reference in says(handled)
    [kept] = await bridge.requests.all()
    assert [a.name for a in kept.attachments] == ["test.docx"]


async def test_a_sticker_during_a_report_is_answered_and_not_kept(bridge):
    await report_a_lamp(bridge)
    handled = await bridge.receive(captured("sticker.ptb22.json"))
    assert "Los stickers no sabemos leerlos" in says(handled)
    [lamp] = await bridge.requests.all()
    assert lamp.attachments == ()


async def test_a_report_sent_with_a_document_reaches_staff_without_it_as_a_photo(bridge):
    # Derived from the capture: the caption is a lamp report.
    report = captured("document_with_caption.ptb22.json", caption="La farola 14 está apagada")
    handled = await bridge.receive(report)
    assert handled.request.attachments[0].name == "test.docx"
    [card] = [
        row.reply
        for row in await bridge.store.replies_for(handled.request.reference)
        if row.reply.conversation == "C0LIGHTSTAFF"
    ]
    assert handled.request.reference in card.text and card.photo is None
