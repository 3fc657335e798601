"""Half an emoji and a NUL from X: repaired where the post comes in, never stuck.

X's JSON carries characters past U+FFFF as two escapes (``"\\uD83E\\uDD28"`` in the recorded
cassette), so a post cut inside an emoji holds a lone ``"\\ud83d"``; ``"\\u0000"`` is a NUL.
tweepy polls the emulator, which answers with such escapes; the bridge stores and handles
the post and answers through tweepy. Every test here runs on SQLite and on PostgreSQL, which
refuses NUL in text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from x_town import FIXTURES, Town

from junbridge.model import Reply, Status

HALF_BULB = "\ud83d"  # the first UTF-16 half of 💡: the emoji cut in two


@pytest.fixture
def store_url(db_url: str) -> str:
    """The town's store: a SQLite file or a PostgreSQL schema (parametrized)."""
    return db_url


def broken_mention(town: Town) -> tuple[dict[str, Any], dict[str, Any]]:
    """The post and author of ``mentions_author_expansion_docs.json`` (X's docs), derived.

    The text "Hey @XDevelopers, love the new API!" is replaced by a resident's report to
    the town's account with a NUL after "calle" and half of 💡 at the end; half of 💡 is
    added to the author's name. Added as X keeps a post that mentions the town, so the
    emulator serves it: ``entities.mentions``, ``conversation_id``, ``edit_history_tweet_ids``
    and ``lang``.
    """
    captured = json.loads((FIXTURES / "mentions_author_expansion_docs.json").read_text())
    [post], [author] = captured["data"], captured["includes"]["users"]
    text = f"@{town.x.handle} La farola de la calle\x00 Real no funciona {HALF_BULB}"
    mention = {"start": 0, "end": len(town.x.handle) + 1, "username": town.x.handle}
    post |= {
        "text": text,
        "entities": {"mentions": [mention | {"id": town.x.user_id}]},
        "conversation_id": post["id"],
        "edit_history_tweet_ids": [post["id"]],
        "lang": "es",
    }
    author["name"] = f"Dev Person {HALF_BULB}"
    return post, author


async def test_the_report_is_repaired_answered_and_a_restart_finds_nothing_stuck(
    town: Town, make_town: Callable[..., Awaitable[Town]]
) -> None:
    post, author = broken_mention(town)
    town.x.world.users[author["id"]] = author
    town.x.world.tweets[post["id"]] = post
    assert await town.poll() == 1

    [request] = await town.bridge.requests.all()
    assert request.description == "La farola de la calle Real no funciona \ufffd"
    assert request.department == "lighting" and request.state is Status.ASSIGNED
    resident = await town.bridge.store.find_resident(f"twitter:{author['id']}")
    assert resident is not None and resident.name == "Dev Person \ufffd"
    assert await town.bridge.outbox.flush() == 1
    [reply] = town.x.replies_to(post["id"])
    assert request.reference in reply["text"]

    # Stopped as `junbridge run` stops, then started again on the same store.
    await town.close()
    restarted = await make_town()
    assert await restarted.bridge.store.pending_inbound() == []
    assert await restarted.poll() == 0
    assert [r.reference for r in await restarted.bridge.requests.all()] == [request.reference]


async def test_a_reply_with_half_an_emoji_and_a_nul_still_reaches_the_resident(town: Town) -> None:
    """A reply whose text never came through a channel: a plugin's own, say."""
    mention = town.x.resident_mentions("La farola de la calle Real no funciona")
    reply = Reply(
        text=f"Aviso: corte de luz\x00 mañana {HALF_BULB}",
        channel="twitter",
        conversation=mention["id"],
        thread=mention["id"],
    )
    await town.bridge.store.write(lambda tx: tx.enqueue(reply, request_reference=None))
    assert await town.bridge.outbox.flush() == 1
    [answer] = town.x.replies_to(mention["id"])
    assert answer["text"] == "Aviso: corte de luz mañana \ufffd"
