"""The inbound queue's batches: residents of one busy channel share a commit, and a
resident's own messages stay in the order they were written."""

from __future__ import annotations

from junbridge.inbound import LOOK_AHEAD, Held, InboundQueue
from junbridge.testing import make_message


async def batches_of(messages: list[tuple[str, str]]) -> list[list[int]]:
    """The batches the worker hands over, by position, for messages queued all at once."""
    handed: list[list[int]] = []

    async def handle(batch: list[Held]) -> None:
        handed.append([inbound_id for inbound_id, _ in batch])

    queue = InboundQueue(handle)
    for n, (user, conversation) in enumerate(messages):
        message = make_message(
            f"mensaje {n}", channel="slack", user_id=user, conversation=conversation
        )
        queue.put(n, message)
    await queue.close()
    return handed


async def test_residents_in_one_channel_share_a_batch_and_each_keeps_their_order() -> None:
    plaza = [
        ("U0ANA", "C0PLAZA"),
        ("U0LUIS", "C0PLAZA"),
        ("U0ANA", "C0PLAZA"),
        ("U0EVA", "C0PLAZA"),
    ]
    assert await batches_of(plaza) == [[0, 1, 3], [2]]


async def test_a_mention_in_public_and_the_answer_in_private_are_never_in_one_batch() -> None:
    moved = [("U0ANA", "C0PLAZA"), ("U0ANA", "D0ANA"), ("U0LUIS", "D0LUIS")]
    assert await batches_of(moved) == [[0, 2], [1]]


async def test_a_long_backlog_from_one_resident_is_handled_in_order() -> None:
    backlog = [("U0ANA", "D0ANA")] * (2 * LOOK_AHEAD) + [("U0LUIS", "D0LUIS")]
    handed = await batches_of(backlog)
    assert [n for batch in handed for n in batch if n < 2 * LOOK_AHEAD] == list(
        range(2 * LOOK_AHEAD)
    )
    assert all(len(batch) <= 2 for batch in handed)
    assert sum(len(batch) for batch in handed) == len(backlog)
