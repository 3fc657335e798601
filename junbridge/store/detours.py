"""Replies for a channel that is down, sent to the resident's linked account elsewhere.

A resident who linked their accounts (``/vincular``) is one person on several platforms.
When the platform a reply waits for is down (``junbridge.outages``), the replies still
waiting there for such a resident are queued on a linked platform that works, as private
messages with a line saying why, and the originals are given up on with where they went: in
one transaction, so each reply arrives once, on one platform. Replies being sent at that
moment (claimed by a worker), and those for residents with no other account, wait.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, select, update

from junbridge.model import Reply
from junbridge.store import records
from junbridge.store.schema import identities, outbox, residents
from junbridge.store.transaction import Transaction

_this = identities.alias("this")
# Each original, given up on with where it went (rows locked above: still pending).
_GIVEN_UP = (
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"), outbox.c.status == "pending")
    .values(status="failed", error=bindparam("b_error"))
)


def reroute(
    tx: Transaction, channel: str, up: Sequence[str], *, preface: Callable[[Reply], str]
) -> int:
    """Move what waits on ``channel`` for residents with an account on one of ``up``; how
    many replies were moved."""
    connection = tx.connection
    waiting = [
        records.outbox_row(row)
        for row in connection.execute(
            select(outbox)
            .where(outbox.c.channel == channel, outbox.c.status == "pending")
            .order_by(outbox.c.id)
            # Another worker claiming one now keeps it; this one skips it.
            .with_for_update(skip_locked=True)
        )
    ]
    recipients = sorted({row.reply.recipient for row in waiting if row.reply.recipient})
    if not recipients:
        return 0
    linked = connection.execute(
        select(
            _this.c.platform_user_id.label("recipient"),
            identities.c.channel,
            identities.c.platform_user_id,
            residents.c.preferred_channel,
        )
        .select_from(
            _this.join(identities, identities.c.resident_id == _this.c.resident_id).join(
                residents, residents.c.id == _this.c.resident_id
            )
        )
        .where(
            _this.c.channel == channel,
            _this.c.platform_user_id.in_(recipients),
            identities.c.channel.in_(list(up)),
        )
        .order_by(identities.c.id)
    )
    elsewhere: dict[str, tuple[str, str]] = {}
    for account in linked:
        # The platform they prefer, else the account they linked first.
        if account.recipient not in elsewhere or account.channel == account.preferred_channel:
            elsewhere[account.recipient] = (account.channel, account.platform_user_id)
    moved = []
    for row in waiting:
        where = elsewhere.get(row.reply.recipient or "")
        if where is None:
            continue
        other, user = where
        reply = row.reply
        copy = Reply(
            text=f"{preface(reply)}\n\n{reply.text}",
            channel=other,
            conversation=user,
            recipient=user,
            private=True,
            choices=reply.choices,
            photo=reply.photo,
            reference=reply.reference,
            language=reply.language,
        )
        moved.append((row.id, copy, f"sent on {other} instead: {channel} is down"))
    if not moved:
        return 0
    tx.enqueue_many([(copy, None) for _, copy, _ in moved])
    connection.execute(_GIVEN_UP, [{"b_id": i, "b_error": error} for i, _, error in moved])
    return len(moved)
