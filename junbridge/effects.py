"""Steps decide, one commit writes.

Each step of the pipeline (blocked sender, rate limit, staff desk, resident command, "is it
fixed?", edit, department) reads what it needs and returns :class:`Effects`: the request it
changed, the replies to send, the timers and conversation state to keep. No step opens a
transaction. ``junbridge.commit`` writes all of it in one transaction, with the inbound message
marked handled in the same one: either the whole outcome of a message is stored, or none of
it (and the message is handled again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from junbridge.model import Reply, Reporter, ServiceRequest
from junbridge.store import ConversationState
from junbridge.store.staff_access import SignIn

# Replies that can only be written once the request is saved (they name its reference).
Render = Callable[[ServiceRequest | None], Sequence[Reply]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Other:
    """A second request one message changes, in the same commit: as changed and as read
    (saved with its version check). A report that joined an open request nearby makes the
    resident's own one its duplicate; "es otra" takes the resident off the one they joined
    (``leaving``: their resident id)."""

    request: ServiceRequest
    original: ServiceRequest
    leaving: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Effects:
    """What handling one message changes; ``commit`` writes it in one transaction."""

    #: The request as the step left it: new when its reference is "", else version-checked.
    request: ServiceRequest | None = None
    #: The request as it was read (None for a new one): timers follow the change of state.
    original: ServiceRequest | None = None
    #: Replies to send, each with the earliest time it may go (quiet hours), or None.
    replies: tuple[tuple[Reply, datetime | None], ...] = ()
    #: Replies made from the saved request, e.g. ones that name a new request's reference.
    render: Render | None = None
    #: A resident who reported ``request`` again, added to its reporters (the request's
    #: count and history line are in ``request``).
    reporter: Reporter | None = None
    #: Another request the message changes, in the same commit.
    other: Other | None = None
    #: Timers to drop (kinds) and to add (kind, due) for the request.
    cancel_timers: tuple[str, ...] = ()
    add_timers: tuple[tuple[str, datetime], ...] = ()
    #: Conversations to forget (resident id, channel, conversation), then one to keep.
    end: tuple[tuple[int, str, str], ...] = ()
    keep: ConversationState | None = None
    #: Whether the inbound row records the request (a command about JUN-1 must not).
    link_request: bool = True
    #: Why the message was stopped or failed, kept on the inbound row.
    error: str | None = None
    #: (resident id, when written): the message counts toward the resident's rate limits.
    counted: tuple[int, datetime] | None = None
    #: (resident id, until): told they are over a limit; no second notice before then.
    notice: tuple[int, datetime] | None = None
    #: (resident id, language): the language the resident chose for their replies.
    language: tuple[int, str] | None = None
    #: A staff member's one-time link to the console (``login``), stored with its reply.
    sign_in: SignIn | None = None
    department: str | None = None

    @staticmethod
    def now(*replies: Reply) -> tuple[tuple[Reply, datetime | None], ...]:
        """Replies that may go at once."""
        return tuple((reply, None) for reply in replies)
