"""A town on X by webhooks: the emulator plays X's Account Activity side against the web app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
from x_town import Town

from junbridge.channels.twitter_api import crc_response_token, signature
from junbridge.testing.emulators.x import XEmulator

STREET_LAMP = "@AytoJun La farola de la calle Real no funciona"


@pytest.fixture
async def town(make_town: Callable[..., Awaitable[Town]]) -> Town:
    """The town receiving X's webhooks on its served web app."""
    return await make_town(mode="webhook")


async def push(town: Town, item: dict[str, object], **signing: object) -> int:
    """X pushes the Account Activity event for ``item``; the bridge then handles it."""
    event = town.x.account_activity(item)
    status = await town.x.deliver_webhook(town.webhook_url, event, **signing)  # type: ignore[arg-type]
    await town.bridge.drain()
    return status


async def test_the_crc_challenge_is_answered_with_the_consumer_secret(town: Town) -> None:
    assert await town.x.crc_check(town.webhook_url)
    # X's documented formula: "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token)).
    digest = hmac.new(b"secret", b"token", hashlib.sha256).digest()
    assert crc_response_token("secret", "token") == "sha256=" + base64.b64encode(digest).decode()
    async with httpx.AsyncClient() as client:
        assert (await client.get(town.webhook_url)).status_code == 400


async def test_a_signed_mention_becomes_a_request_answered_in_its_thread(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP, media=["farola.jpg"])
    assert await push(town, mention) == 200
    [request] = await town.bridge.requests.open()
    assert request.department == "lighting" and request.address == "calle Real"
    assert request.description == "La farola de la calle Real no funciona"
    [photo] = request.attachments
    assert photo.platform_ref == mention["attachments"]["media_keys"][0]
    await town.bridge.outbox.flush()
    [reply] = town.x.replies_to(mention["id"])
    assert request.reference in reply["text"]
    assert town.x.sent(XEmulator.MENTIONS) == []  # nothing polled in webhook mode


async def test_a_forged_or_missing_signature_is_refused_and_nothing_stored(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP)
    assert await push(town, mention, consumer_secret="not-the-secret") == 403
    assert await push(town, mention, signed=False) == 403
    assert town.inbound() == []


async def test_the_same_event_twice_makes_one_request(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP)
    assert await push(town, mention) == 200
    assert await push(town, mention) == 200
    assert len(town.inbound()) == 1 and len(await town.bridge.requests.all()) == 1


async def test_a_body_that_is_not_json_is_a_400(town: Town) -> None:
    body = b"{not json"
    headers = {"x-twitter-webhooks-signature": signature(town.x.consumer_secret, body)}
    async with httpx.AsyncClient() as client:
        answer = await client.post(town.webhook_url, content=body, headers=headers)
    assert answer.status_code == 400 and town.inbound() == []


async def test_a_reply_in_the_thread_continues_the_same_request(town: Town) -> None:
    first = town.x.resident_mentions("@AytoJun La farola de mi calle no funciona")
    await push(town, first)
    await town.bridge.outbox.flush()
    [question] = town.x.replies_to(first["id"])
    assert "¿Dónde está la farola?" in question["text"]
    answer = town.x.resident_mentions("@AytoJun Está en la calle Real", reply_to=question["id"])
    assert await push(town, answer) == 200
    [request] = await town.bridge.requests.all()
    assert request.address == "calle Real" and request.assignee == "electricista"
    assert [c.params["id"] for c in town.x.sent(XEmulator.TWEET)] == [answer["id"]]


async def test_a_long_mention_comes_whole_from_extended_tweet(town: Town) -> None:
    text = "@AytoJun " + "La farola de la calle Real parpadea toda la noche y molesta. " * 3
    mention = town.x.resident_mentions(text.strip())
    event = town.x.account_activity(mention)
    assert event["tweet_create_events"][0]["truncated"] is True
    await push(town, mention)
    [request] = await town.bridge.requests.all()
    assert request.description == text.removeprefix("@AytoJun ").strip()


async def test_a_dm_arrives_private_and_is_answered_in_its_conversation(town: Town) -> None:
    dm = town.x.resident_dms("La farola 112 no funciona")
    assert await push(town, dm) == 200
    [request] = await town.bridge.requests.open()
    assert request.address_id == "lamp-112" and request.conversation == dm["dm_conversation_id"]
    await town.bridge.outbox.flush()
    [_, answer] = town.x.dms_with(dm["sender_id"])
    assert request.reference in answer["text"]


async def test_the_towns_own_posts_and_other_activity_are_ignored(town: Town) -> None:
    mention = town.x.resident_mentions(STREET_LAMP)
    await push(town, mention)
    await town.bridge.outbox.flush()
    [reply] = town.x.replies_to(mention["id"])
    assert await push(town, reply) == 200
    favorite = {"for_user_id": town.x.user_id, "favorite_events": [{"id": "1"}]}
    assert await town.x.deliver_webhook(town.webhook_url, favorite) == 200
    assert len(town.inbound()) == 1


async def test_an_event_payload_that_is_not_account_activity_is_a_400(town: Town) -> None:
    status = await town.x.deliver_webhook(town.webhook_url, {"hello": "world"})
    assert status == 400
    event = {"for_user_id": town.x.user_id, "tweet_create_events": [{"id_str": "1"}]}
    assert await town.x.deliver_webhook(town.webhook_url, event) == 400
    assert json.dumps(town.inbound()) == "[]"
