"""A private answer that could not be delivered is never silent.

A resident who wrote in public (a Telegram group, a mention on X) about a private matter is
answered privately. When that answer cannot arrive (they never opened a chat with the bot,
their direct messages are closed), the outbox gives up on it; then the resident is told
where they wrote, with nothing of what it was about, how to receive it, and the
department's staff are told too. The request's history keeps the failure.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from junbridge.departments import Department, place_of
from junbridge.model import HistoryEntry, Reply, ServiceRequest
from junbridge.store import OutboxRow

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)


def worth_telling(row: OutboxRow) -> bool:
    """Whether a failed reply was a private answer to someone who wrote in public."""
    reply = row.reply
    return reply.private and reply.reference is not None and reply.recipient is not None


async def private_failed(bridge: Bridge, row: OutboxRow, error: str) -> None:
    """Record the failure on the request and say so in public (neutrally) and to staff."""
    if not worth_telling(row):
        return
    failed = row.reply

    def edit(
        request: ServiceRequest, department: Department | None
    ) -> tuple[ServiceRequest, list[Reply]]:
        entry = HistoryEntry(
            at=bridge.clock(),
            by="junbridge",
            action="private answer not delivered",
            note=error,
            channel=failed.channel,
        )
        changed = dataclasses.replace(request, history=(*request.history, entry))
        # Only where they wrote in public: a chat with the bot that fails has no other place.
        if department is None or not request.details.get("public"):
            return changed, []
        language = failed.language or request.language or department.town.language
        key = f"private_failed_{failed.channel}"
        if department.template(key, language) is None:
            key = "private_failed"
        notices = [
            Reply(
                text=department.text(key, language, reference=request.reference),
                channel=failed.channel,
                conversation=failed.conversation,
                thread=failed.thread,
                reference=request.reference,
                language=language,
            )
        ]
        place = place_of(department)
        if place is not None:
            notices.append(
                Reply(
                    text=department.text(
                        "staff_private_failed",
                        department.town.language,
                        reference=request.reference,
                        error=error,
                    ),
                    channel=place[0],
                    conversation=place[1],
                    reference=request.reference,
                )
            )
        return changed, notices

    assert failed.reference is not None
    try:
        await bridge.change(failed.reference, edit)
    except LookupError:
        log.info("reply %s was about %s, which is gone", row.id, failed.reference)
