"""A town on X by polling: tweepy's AsyncClient against the X emulator, the real bridge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import tweepy  # type: ignore[import-untyped]
from x_town import WEDNESDAY_10, Town, x_config

from junbridge.channels.base import DeliveryError
from junbridge.channels.twitter import DMS_CURSOR, MENTIONS_CURSOR, TwitterChannel
from junbridge.channels.twitter_length import parse_tweet
from junbridge.media import local_path
from junbridge.model import MessageKind, Reply, Status
from junbridge.testing import make_bridge
from junbridge.testing.emulators.x import XEmulator

STREET_LAMP = "@AytoJun La farola de la calle Real no funciona"
LONG = ("El camión de la basura pasará el jueves por la calle Real y la plaza. " * 9).strip()


async def enqueue(town: Town, reply: Reply) -> None:
    """Put a reply in the outbox as a department's answer would be."""
    await town.bridge.store.write(lambda tx: tx.enqueue(reply, request_reference=reply.reference))


def posts_by_town(x: XEmulator) -> list[str]:
    return [t["text"] for t in x.world.tweets.values() if t["author_id"] == x.user_id]


async def test_a_mention_with_a_photo_becomes_a_request_answered_in_its_thread(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP, media=["farola.jpg"])
    assert await town.poll() == 1
    [request] = await town.bridge.requests.open()
    assert request.department == "lighting" and request.address == "calle Real"
    assert request.description == "La farola de la calle Real no funciona"  # no @, no t.co
    assert request.conversation == request.thread == mention["id"]
    [photo] = request.attachments
    [key] = mention["attachments"]["media_keys"]
    # The bridge keeps its own copy of the resident's photo, so any channel can send it on.
    assert (photo.kind, photo.platform_ref) == ("photo", key)
    assert local_path(photo).read_bytes() == town.x.world.media_bytes[key]
    assert await town.bridge.outbox.flush() == 1
    [reply] = town.x.replies_to(mention["id"])
    assert request.reference in reply["text"] and parse_tweet(reply["text"]).valid
    [call] = town.x.sent(XEmulator.POST)
    assert call.params["reply"] == {"in_reply_to_tweet_id": mention["id"]}


async def test_since_id_is_saved_and_a_restart_carries_on_from_it(
    town: Town, make_town: Callable[..., Awaitable[Town]]
) -> None:
    first = town.x.resident_mentions(STREET_LAMP)
    assert await town.poll() == 1
    assert await town.bridge.store.get_cursor(MENTIONS_CURSOR) == first["id"]
    assert await town.poll() == 0
    assert town.x.sent(XEmulator.MENTIONS)[-1].params["since_id"] == first["id"]
    await town.close()

    second = town.x.resident_mentions("La farola 14 de la plaza parpadea", user="vecino")
    restarted = await make_town()
    assert await restarted.poll() == 1
    assert restarted.x.sent(XEmulator.MENTIONS)[-1].params["since_id"] == first["id"]
    assert await restarted.bridge.store.get_cursor(MENTIONS_CURSOR) == second["id"]
    requests = await restarted.bridge.requests.all()
    assert sorted(r.thread or "" for r in requests) == sorted([first["id"], second["id"]])


async def test_a_crash_before_the_cursor_is_saved_reads_again_without_duplicates(
    town: Town,
) -> None:
    town.x.resident_mentions(STREET_LAMP)
    assert await town.poll() == 1
    await town.bridge.store.set_cursor(MENTIONS_CURSOR, "1")  # as if it had never been saved
    assert await town.poll() == 0
    assert len(await town.bridge.requests.all()) == 1


async def test_a_police_report_in_public_is_answered_in_private(town: Town) -> None:
    text = "Esta noche hay una fiesta con música alta en la calle Nueva y no se puede dormir"
    mention = town.x.resident_mentions(text)
    await town.poll()
    [request] = await town.bridge.requests.open()
    assert request.department == "police" and request.privacy == "private"
    await town.bridge.outbox.flush()
    [notice] = town.x.replies_to(mention["id"])
    assert "mensaje privado" in notice["text"]
    dms = town.x.dms_with(mention["author_id"])
    assert dms and request.reference in " ".join(dm["text"] for dm in dms)
    for public in posts_by_town(town.x):
        assert request.reference not in public
        assert not {"fiesta", "música", "Nueva"} & set(public.split())


async def test_the_doctor_continues_by_dm_and_the_answer_comes_back_by_dm(town: Town) -> None:
    mention = town.x.resident_mentions("Quiero cita con el médico, me duele la espalda")
    await town.poll()
    await town.bridge.outbox.flush()
    [notice] = town.x.replies_to(mention["id"])
    assert "espalda" not in notice["text"]
    [offer] = town.x.dms_with(mention["author_id"])
    assert "\n1) " in offer["text"] and "\n2) " in offer["text"]

    answer = town.x.resident_dms("2")
    assert await town.poll() == 1
    assert await town.bridge.store.get_cursor(DMS_CURSOR) == answer["id"]
    [request] = await town.bridge.requests.all(department="doctor")
    assert request.state is Status.ACKNOWLEDGED and request.details["slot"]
    await town.bridge.outbox.flush()
    booked = town.x.dms_with(mention["author_id"])[-1]
    assert request.reference in booked["text"]
    [call] = town.x.sent(XEmulator.DM_IN_CONVERSATION)
    assert call.params["dm_conversation_id"] == answer["dm_conversation_id"]
    assert await town.poll() == 0  # the town's own DMs and the old answer are not news


async def test_a_long_reply_is_a_chained_thread_of_valid_posts(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP)
    reply = Reply(text=LONG, channel="twitter", conversation=mention["id"], thread=mention["id"])
    await enqueue(town, reply)
    assert await town.bridge.outbox.flush() == 1
    parts = town.x.thread_from(mention["id"])
    assert len(parts) == 3
    for number, part in enumerate(parts, start=1):
        assert parse_tweet(part["text"]).valid and part["text"].endswith(f" {number}/3")
    assert parts[0]["referenced_tweets"] == [{"type": "replied_to", "id": mention["id"]}]
    assert parts[2]["referenced_tweets"] == [{"type": "replied_to", "id": parts[1]["id"]}]


async def test_a_thread_cut_by_the_rate_limit_carries_on_where_it_stopped(
    make_town: Callable[..., Awaitable[Town]], x: XEmulator
) -> None:
    x.rate_limits[XEmulator.POST] = 2
    town = await make_town()
    mention = x.resident_mentions(STREET_LAMP)
    reply = Reply(
        text=LONG,
        channel="twitter",
        conversation=mention["id"],
        thread=mention["id"],
        reference="JUN-0001",
    )
    await enqueue(town, reply)
    assert await town.bridge.outbox.flush() == 0
    assert len(x.thread_from(mention["id"])) == 2
    # The two parts that went are kept with the reply, in the store ...
    [row] = await town.bridge.store.replies_for("JUN-0001")
    assert row.status == "pending" and len(row.platform_ids) == 2
    # ... so a worker that knows nothing of them (this one restarted) sends only the rest.
    town.channel._posted.clear()
    town.clock.advance(15 * 60)  # X's window and the outbox's retry time both pass
    assert await town.bridge.outbox.flush() == 1
    parts = x.thread_from(mention["id"])
    assert [p["text"][-4:] for p in parts] == [" 1/3", " 2/3", " 3/3"]
    assert len(posts_by_town(x)) == 3


async def test_a_429_is_retried_after_x_reset_time_and_delivered_once(town: Town) -> None:
    town.x.resident_mentions(STREET_LAMP)
    await town.poll()
    town.x.throttle_next(XEmulator.POST, reset=town.clock.now + timedelta(seconds=60))
    assert await town.bridge.outbox.flush() == 0
    assert await town.bridge.outbox.flush() == 0  # not before X's reset time
    town.clock.advance(30)
    assert await town.bridge.outbox.flush() == 0
    town.clock.advance(31)
    assert await town.bridge.outbox.flush() == 1
    assert [c.status for c in town.x.calls if c.method == XEmulator.POST] == [429, 201]
    assert len(posts_by_town(town.x)) == 1


async def test_a_photo_is_uploaded_and_attached(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP, media=[b"\xff\xd8 the lamp \xff\xd9"])
    await town.poll()
    [request] = await town.bridge.requests.open()
    reply = Reply(
        text="Arreglada",
        channel="twitter",
        conversation=mention["id"],
        thread=mention["id"],
        photo=request.attachments[0],
    )
    await enqueue(town, reply)
    await town.bridge.outbox.flush()
    [upload] = town.x.sent(XEmulator.UPLOAD)
    assert upload.params["media_category"] == "tweet_image"
    fixed = next(t for t in town.x.replies_to(mention["id"]) if t["text"] == "Arreglada")
    [key] = fixed["attachments"]["media_keys"]
    assert town.x.world.media_bytes[key] == b"\xff\xd8 the lamp \xff\xd9"


async def test_x_refusals_are_permanent_failures(town: Town) -> None:
    with pytest.raises(DeliveryError, match="must answer") as no_thread:
        await town.channel.send(Reply(text="Hola", channel="twitter", conversation="1"))
    assert no_thread.value.permanent
    stranger = town.x.world.add_tweet(town.x.world.add_user("nadie")["id"], "sin mención")
    with pytest.raises(DeliveryError, match="403") as unsummoned:
        await town.channel.send(
            Reply(text="Hola", channel="twitter", conversation="1", thread=stranger["id"])
        )
    assert unsummoned.value.permanent
    town.x.closed_dms.add(stranger["author_id"])
    with pytest.raises(DeliveryError, match="cannot send messages") as closed:
        await town.channel.send(
            Reply(
                text="Privado",
                channel="twitter",
                conversation="1",
                recipient=stranger["author_id"],
                private=True,
            )
        )
    assert closed.value.permanent
    assert posts_by_town(town.x) == []


async def test_retweets_and_the_towns_own_posts_are_ignored(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP)
    await town.poll()
    await town.bridge.outbox.flush()
    [reply] = town.x.replies_to(mention["id"])
    town.x.resident_retweets(mention["id"], user="vecino")
    assert await town.poll() == 0
    assert len(await town.bridge.requests.all()) == 1
    cursor = await town.bridge.store.get_cursor(MENTIONS_CURSOR)
    assert cursor is not None and int(cursor) > int(reply["id"])


async def test_an_edited_mention_updates_its_request(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP)
    await town.poll()
    edited = town.x.resident_edits(mention["id"], "La farola 112 de la calle Real no funciona")
    assert await town.poll() == 1
    [message_id, edit_id] = [row[0] for row in town.inbound()]
    assert (message_id, edit_id) == (mention["id"], edited["id"])
    [request] = await town.bridge.requests.all()
    assert request.description == "La farola 112 de la calle Real no funciona"
    assert request.history[-1].action == "edited"


async def test_a_rate_limited_poll_waits_for_x_reset_time(town: Town) -> None:
    town.x.throttle_next(XEmulator.MENTIONS, reset=town.clock.now + timedelta(minutes=5))
    town.x.resident_mentions(STREET_LAMP)
    assert await town.poll() == 0
    assert await town.poll() == 0
    assert (
        len([c for c in town.x.calls if c.method == XEmulator.MENTIONS]) == 1
    )  # the second poll did not ask
    town.clock.advance(5 * 60)
    assert await town.poll() == 1


async def test_the_background_poller_takes_mentions_in_and_stops_cleanly(
    make_town: Callable[..., Awaitable[Town]], x: XEmulator
) -> None:
    mention = x.resident_mentions(STREET_LAMP)
    town = await make_town(background=True, poll_seconds=3600)
    await x.wait_for(XEmulator.DM_EVENTS)  # DMs are read after the mentions are stored
    assert await town.bridge.store.get_cursor(MENTIONS_CURSOR) == mention["id"]
    await town.close()
    assert town.channel._poller is None


class TickingClock:
    """A clock that moves on each time it is read, as the real one does."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


async def test_polling_reads_mentions_with_a_clock_that_moves_between_reads(
    x: XEmulator, secrets: None, tmp_path: Path
) -> None:
    """``junbridge run``'s clock is the real one: a poll reads the mentions and the DMs,
    whatever time passes while it decides whether an endpoint is paused."""
    bridge = await make_bridge(
        config=x_config(x), workdir=tmp_path, clock=TickingClock(WEDNESDAY_10)
    )
    channel = TwitterChannel(bridge.config.channels["twitter"], poll_in_background=False)
    try:
        await bridge.add_channel(channel)
        mention = x.resident_mentions(STREET_LAMP)
        assert await channel.poll_once() == 1
        assert await bridge.store.get_cursor(MENTIONS_CURSOR) == mention["id"]
        assert x.sent(XEmulator.DM_EVENTS)
    finally:
        await bridge.stop_channels()
        await bridge.close()


async def test_a_bearer_token_alone_reads_mentions_but_cannot_post(
    make_town: Callable[..., Awaitable[Town]], x: XEmulator
) -> None:
    oauth = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    town = await make_town(**dict.fromkeys(oauth))
    assert town.channel.user_id == x.user_id  # looked up by username with the bearer token
    mention = x.resident_mentions(STREET_LAMP)
    assert await town.poll() == 1
    assert x.sent(XEmulator.DM_EVENTS) == []  # DMs need the user context
    with pytest.raises(DeliveryError, match="user context") as failed:
        await town.channel.send(
            Reply(text="Hola", channel="twitter", conversation="1", thread=mention["id"])
        )
    assert failed.value.permanent


async def test_wrong_credentials_fail_at_start(
    make_town: Callable[..., Awaitable[Town]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "not-the-secret")
    with pytest.raises(tweepy.Unauthorized):
        await make_town()


async def test_mentions_keep_the_platform_details(town: Town) -> None:
    town.x.resident_mentions("@AytoJun @vecino mirad: la farola", lang="und")
    await town.poll()
    [(platform_id, _)] = town.inbound()
    message = town.channel.parse_all(
        {"data": [dict(town.x.world.tweets[platform_id])], "includes": {}}
    )[0]
    assert message.text == "mirad: la farola" and message.kind is MessageKind.TEXT
    assert message.sender.language is None  # "und" is no language
    assert message.sender.handle is None  # no includes.users in this payload


async def test_the_background_poller_survives_a_failing_round(
    make_town: Callable[..., Awaitable[Town]], x: XEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    problem = {"title": "Service Unavailable", "detail": "Over capacity", "status": 503}
    x.fail_next(XEmulator.MENTIONS, status=503, body=problem)
    mention = x.resident_mentions(STREET_LAMP)
    town = await make_town(background=True, poll_seconds=0.01)
    await x.wait_for(XEmulator.DM_EVENTS)  # only reached by a round that read the mentions
    assert await town.bridge.store.get_cursor(MENTIONS_CURSOR) == mention["id"]
    assert "polling X failed" in caplog.text
    assert next(c.status for c in x.calls if c.method == XEmulator.MENTIONS) == 503
