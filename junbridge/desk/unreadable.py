"""Voice notes, videos, stickers and documents: what the town hall desk cannot read.

A message that carries only one of these (no words) gets an answer in the resident's
language saying what junbridge can take: words, a photo, a location. When the resident's
conversation is about an open request, a voice note, video or document is kept on that
request for the staff who handle it (a sticker is not), and the conversation stays open.
The texts are the desk's (``departments.triage.replies``), one per kind, so admins can
reword them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from junbridge.desk import abuse
from junbridge.effects import Effects
from junbridge.model import Message, Resident
from junbridge.requests.outcomes import resident_label
from junbridge.store import ConversationState

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

UNREADABLE_TEXTS: Mapping[str, Mapping[str, str]] = {
    "es": {
        "media_voice": "No podemos escuchar notas de voz. Escríbenos con palabras qué pasa; "
        "también puedes enviar una foto o compartir tu ubicación.",
        "media_video": "No podemos ver vídeos por aquí. Escríbenos con palabras qué pasa; "
        "también puedes enviar una foto o compartir tu ubicación.",
        "media_sticker": "Los stickers no sabemos leerlos. Escríbenos con palabras qué "
        "necesitas; también puedes enviar una foto o compartir tu ubicación.",
        "media_file": "No podemos leer documentos por aquí. Escríbenos con palabras qué "
        "necesitas; también puedes enviar una foto o compartir tu ubicación.",
        "media_kept": "Lo hemos guardado en **{reference}** para quien lo atiende.",
    },
    "en": {
        "media_voice": "We can't listen to voice messages. Please tell us in words what is "
        "happening; you can also send a photo or share your location.",
        "media_video": "We can't watch videos here. Please tell us in words what is "
        "happening; you can also send a photo or share your location.",
        "media_sticker": "We can't read stickers. Please tell us in words what you need; "
        "you can also send a photo or share your location.",
        "media_file": "We can't read documents here. Please tell us in words what you need; "
        "you can also send a photo or share your location.",
        "media_kept": "We have kept it on **{reference}** for whoever handles it.",
    },
}


def is_unreadable(message: Message) -> bool:
    """Whether ``message`` is only a voice note, video, sticker or document: no words."""
    return message.kind.unreadable and not message.text.strip() and message.location is None


async def answer(
    bridge: Bridge, message: Message, resident: Resident, stored: ConversationState | None
) -> Effects:
    """Say what the desk can take; keep the files on the open conversation's request."""
    department = bridge.departments.get(stored.department) if stored else None
    language = bridge.language_for(message, resident, department)
    desk = bridge.departments["triage"]
    lines = [desk.text(f"media_{message.kind.value}", language)]
    request = None
    if stored is not None and stored.request_reference:
        request = await bridge.store.get_request(stored.request_reference)
    files = tuple(a for a in message.attachments if a.kind == "file")
    if request is None or not request.state.is_open or not files:
        return Effects(replies=Effects.now(abuse.to_sender(message, "\n".join(lines))))
    kept = request.noted(
        "attachment",
        by=resident_label(message),
        at=bridge.clock(),
        note=f"{message.kind.value} from the resident",
        attachments=(*request.attachments, *files),
        via=message.channel,
    )
    lines.insert(0, desk.text("media_kept", language, reference=request.reference))
    return Effects(
        request=kept,
        original=request,
        replies=Effects.now(abuse.to_sender(message, "\n".join(lines), request.reference)),
        department=request.department,
    )
