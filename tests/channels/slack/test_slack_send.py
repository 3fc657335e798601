"""Slack delivery: rate limits, refusals, outages, long replies, photos, private replies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from slack_town import Town

from junbridge.channels.base import DeliveryError
from junbridge.model import Attachment, Reply
from junbridge.outbox import STUCK_AFTER
from junbridge.store import OutboxRow

LAMP = "La farola de la calle Real no funciona"


def reply(text: str = "Arreglada", **fields: object) -> Reply:
    values: dict[str, object] = {
        "channel": "slack",
        "conversation": "C0PLAZA",
        "thread": "1764061200.000100",
        **fields,
    }
    return Reply(text=text, **values)  # type: ignore[arg-type]


async def test_a_429_holds_the_channel_back_and_the_post_goes_once(town: Town) -> None:
    await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    town.slack.fail_next(
        "chat.postMessage",
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "1"},
    )
    # The pass waits out the second Slack asked for, then posts what was refused.
    sent = await town.bridge.outbox.flush()
    assert await town.bridge.outbox.flush() == 0
    [refused] = town.slack.refused("chat.postMessage")
    assert refused.status == 429
    [request] = await town.bridge.requests.all()
    rows = await town.bridge.store.replies_for(request.reference)
    # Every post went once, the refused one included, and "slow down" did not count as a
    # failed attempt.
    assert len(town.slack.sent("chat.postMessage")) == sent == len(rows)
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * len(rows)


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
async def test_a_refusal_is_permanent(town: Town, error: str) -> None:
    await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    town.slack.fail_next("chat.postMessage", status=200, body={"ok": False, "error": error})
    assert await town.bridge.outbox.flush() == 0
    [request] = await town.bridge.requests.all()
    [row] = await town.bridge.store.replies_for(request.reference)
    assert row.status == "failed" and error in (row.error or "")
    town.clock.advance(3600)
    assert await town.bridge.outbox.flush() == 0
    assert town.slack.sent("chat.postMessage") == []


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked"])
async def test_a_refused_token_keeps_the_reply_waiting_for_the_fix(town: Town, error: str) -> None:
    """Every reply would fail the same way until an admin fixes the token: none is given up
    on for it (and a channel failing for minutes is marked down: test_outages.py)."""
    await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    town.slack.fail_next("chat.postMessage", status=200, body={"ok": False, "error": error})
    assert await town.bridge.outbox.flush() == 0
    [request] = await town.bridge.requests.all()
    [row] = await town.bridge.store.replies_for(request.reference)
    assert row.status == "pending" and error in (row.error or "")
    town.clock.advance(60)
    assert await town.bridge.outbox.flush() == 1
    [row] = await town.bridge.store.replies_for(request.reference)
    assert row.status == "sent" and len(town.slack.sent("chat.postMessage")) == 1


async def test_slack_errors_map_to_delivery_errors(town: Town) -> None:
    town.slack.fail_next(
        "chat.postMessage", status=200, body={"ok": False, "error": "internal_error"}
    )
    with pytest.raises(DeliveryError) as transient:
        await town.channel.send(reply())
    assert not transient.value.permanent and transient.value.retry_after is None
    with pytest.raises(DeliveryError) as oversized:
        await town.channel.send(reply(conversation="C0NOWHERE"))
    assert oversized.value.permanent
    with pytest.raises(DeliveryError, match="needs text") as empty:
        await town.channel.send(reply(""))
    assert empty.value.permanent
    with pytest.raises(DeliveryError, match="not a file") as gone:
        await town.channel.send(reply(photo=Attachment(platform_ref="x", url="/no/farola.jpg")))
    assert gone.value.permanent
    await town.slack.stop()
    with pytest.raises(DeliveryError, match="unreachable") as down:
        await town.channel.send(reply())
    assert not down.value.permanent


async def test_a_long_reply_resumes_where_a_rate_limit_stopped_it(town: Town) -> None:
    long = reply("palabra " * 5000)  # 40,000 characters: two messages of sections
    town.slack.limit("chat.postMessage", calls=1, per=3600, retry_after=30)
    with pytest.raises(DeliveryError) as limited:
        await town.channel.send(long)
    assert limited.value.retry_after == 30
    assert len(town.slack.sent("chat.postMessage")) == 1
    town.slack.rate_limits.clear()
    first, second = await town.channel.send(long)
    posted = town.slack.sent("chat.postMessage")
    assert [c.response["ts"] for c in posted] == [first, second]
    assert all(c.params["thread_ts"] == "1764061200.000100" for c in posted)


async def test_a_worker_that_dies_mid_reply_leaves_its_parts_known_to_the_next(
    make_town: Callable[..., Awaitable[Town]],
) -> None:
    """Each part of a long reply is recorded as it arrives: the worker that takes over a
    dead one's reply (its claim ran out) sends only the parts still missing."""
    town = await make_town("events")
    long = reply("palabra " * 5000)  # 40,000 characters: two messages of sections
    outbox_id = await town.bridge.store.write(lambda tx: tx.enqueue(long, request_reference=None))
    held = town.slack.hold("chat.postMessage", after=1)
    dying = asyncio.create_task(town.bridge.outbox.flush())

    async def first_part_recorded() -> OutboxRow:
        while True:
            [row] = await town.bridge.store.undelivered()
            if row.platform_ids:
                return row
            await asyncio.sleep(0.01)

    try:
        row = await asyncio.wait_for(first_part_recorded(), 10)
        assert row.id == outbox_id and row.status == "sending" and len(row.platform_ids) == 1
    finally:
        # The worker dies with the second part on the wire; it never reaches the channel.
        dying.cancel()
        town.slack.fail_next(
            "chat.postMessage", status=500, body={"ok": False, "error": "fatal_error"}
        )
        held.set()

    async def answered_to_nobody() -> None:
        while True:
            if town.slack.refused("chat.postMessage"):
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(answered_to_nobody(), 10)
    del town.slack.held["chat.postMessage"]

    # Another worker, on the same store, takes the reply over once its claim has run out.
    other = await make_town("events")
    town.clock.advance(31)
    await other.bridge.store.requeue_stuck(older_than=town.clock() - STUCK_AFTER)
    assert await other.bridge.outbox.flush() == 1
    posted = town.slack.sent("chat.postMessage")
    assert len(posted) == 2  # the first part once, the second once
    [sent] = await town.bridge.store.delivered_since(0)
    assert sent.id == outbox_id and list(sent.platform_ids) == [c.response["ts"] for c in posted]
    assert " ".join(c.params["text"] for c in posted).split() == long.text.split()


async def test_a_reply_posted_by_a_worker_that_died_before_recording_it_is_not_posted_again(
    town: Town,
) -> None:
    """Slack has no idempotency key: the worker that takes the reply over reads the thread
    back (conversations.replies) and finds the dead worker's post instead of posting twice."""
    await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    store = town.bridge.store
    # A worker claims the resident's answer, posts it, and dies before recording it.
    [claimed] = await store.claim_outbox(now=town.clock(), limit=1, channel="slack")
    assert claimed.reply.thread is not None
    [ts] = await town.channel.send(claimed.reply)
    town.clock.advance(31)
    await store.requeue_stuck(older_than=town.clock() - STUCK_AFTER)

    await town.bridge.outbox.flush()
    in_thread = [
        c
        for c in town.slack.sent("chat.postMessage")
        if c.params.get("thread_ts") == claimed.reply.thread
    ]
    assert [c.response["ts"] for c in in_thread] == [ts]  # posted once, by the dead worker
    [row] = [r for r in await store.delivered_since(0) if r.id == claimed.id]
    assert row.platform_ids == (ts,)
    assert town.slack.sent("conversations.replies")


async def test_a_photo_on_disk_is_uploaded_into_the_thread(town: Town, tmp_path: Path) -> None:
    photo = tmp_path / "farola-arreglada.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 the lamp shines again \xff\xd9")
    file_id, ts = await town.channel.send(
        reply("**JUN-0001** arreglada", photo=Attachment(platform_ref="local", url=photo.as_uri()))
    )
    assert [c.method for c in town.slack.calls[-4:]] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
        "chat.postMessage",
    ]
    assert town.slack.workspace.uploads[file_id] == photo.read_bytes()
    [complete] = town.slack.sent("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0PLAZA"
    assert complete.params["thread_ts"] == "1764061200.000100"
    [post] = town.slack.sent("chat.postMessage")
    assert post.response["ts"] == ts
    assert [b["type"] for b in post.params["blocks"]] == ["section"]


async def test_a_photo_with_a_public_url_is_an_image_block(town: Town) -> None:
    url = "https://jun.es/media/JUN-0001.jpg"
    await town.channel.send(reply(photo=Attachment(platform_ref="x", url=url, name="JUN-0001")))
    [post] = town.slack.sent("chat.postMessage")
    assert post.params["blocks"][-1] == {"type": "image", "alt_text": "JUN-0001", "image_url": url}
    assert town.slack.sent("files.getUploadURLExternal") == []


async def test_a_private_reply_opens_the_dm_once(town: Town) -> None:
    private = reply("Tu cita: lunes 09:00", private=True, recipient="U0VECINA")
    await town.channel.send(private)
    await town.channel.send(private)
    assert len(town.slack.sent("conversations.open")) == 1
    posts = town.slack.sent("chat.postMessage")
    assert [p.params["channel"] for p in posts] == ["D0VECINA", "D0VECINA"]
    assert all("thread_ts" not in p.params for p in posts)
