"""The X emulator holds tweepy to X's rules: auth, fields, limits, errors, pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import tweepy  # type: ignore[import-untyped]
from tweepy.asynchronous import AsyncClient  # type: ignore[import-untyped]

from junbridge.channels.twitter_api import redirect
from junbridge.testing.emulators.x import XEmulator


@pytest.fixture
async def x() -> AsyncIterator[XEmulator]:
    emulator = XEmulator(rate_limits={XEmulator.ME: 2})
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def session(x: XEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(middlewares=redirect(x.url)) as opened:
        yield opened


def client(x: XEmulator, session: aiohttp.ClientSession, **secrets: str) -> AsyncClient:
    """tweepy's AsyncClient with the emulator's credentials, unless told otherwise."""
    names = ("bearer_token", "consumer_key", "consumer_secret", "access_token")
    given = {name: getattr(x, name) for name in (*names, "access_token_secret")} | secrets
    made = AsyncClient(**given)
    made.session = session
    return made


async def test_no_redirect_is_installed_for_x_itself() -> None:
    assert redirect("https://api.twitter.com") == () == redirect("https://api.x.com/")


async def test_an_empty_mentions_timeline_is_meta_only(
    x: XEmulator, session: aiohttp.ClientSession
) -> None:
    empty = await client(x, session).get_users_mentions(x.user_id)
    assert empty.data is None and empty.meta == {"result_count": 0}


async def test_mentions_page_newest_first_and_respect_since_id(
    x: XEmulator, session: aiohttp.ClientSession
) -> None:
    posts = [x.resident_mentions(f"aviso {n}", user=f"vecino{n}") for n in range(7)]
    api = client(x, session)
    first = await api.get_users_mentions(x.user_id, max_results=5, expansions=["author_id"])
    assert [t.data["id"] for t in first.data] == [p["id"] for p in posts[::-1][:5]]
    assert first.meta["newest_id"] == posts[-1]["id"] and "next_token" in first.meta
    assert {u.username for u in first.includes["users"]} == {f"vecino{n}" for n in range(2, 7)}
    rest = await api.get_users_mentions(
        x.user_id, max_results=5, pagination_token=first.meta["next_token"]
    )
    assert [t.data["id"] for t in rest.data] == [posts[1]["id"], posts[0]["id"]]
    newer = await api.get_users_mentions(x.user_id, since_id=posts[4]["id"])
    assert [t.data["id"] for t in newer.data] == [posts[6]["id"], posts[5]["id"]]
    assert all(t.edit_history_tweet_ids for t in newer.data)


async def test_bad_parameters_are_400s(x: XEmulator, session: aiohttp.ClientSession) -> None:
    api = client(x, session)
    with pytest.raises(tweepy.BadRequest, match="max_results"):
        await api.get_users_mentions(x.user_id, max_results=3)
    with pytest.raises(tweepy.BadRequest, match=r"tweet\.fields"):
        await api.get_users_mentions(x.user_id, tweet_fields=["mood"])


async def test_credentials_are_checked(x: XEmulator, session: aiohttp.ClientSession) -> None:
    with pytest.raises(tweepy.Unauthorized):
        await client(x, session, bearer_token="wrong").get_users_mentions(x.user_id)
    with pytest.raises(tweepy.Unauthorized):
        await client(x, session, consumer_secret="wrong").get_me()
    with pytest.raises(tweepy.Forbidden, match="Application-Only"):
        await client(x, session).create_tweet(text="hola", user_auth=False)
    me = await client(x, session).get_me()  # OAuth 1.0a, signed over api.twitter.com
    assert me.data.username == "AytoJun"


async def test_posts_over_280_weighted_characters_are_refused(
    x: XEmulator, session: aiohttp.ClientSession
) -> None:
    api = client(x, session)
    with pytest.raises(tweepy.Forbidden, match="too long"):
        await api.create_tweet(text="a" * 281)
    with pytest.raises(tweepy.Forbidden, match="too long"):
        await api.create_tweet(text="日本語" * 47)  # 141 characters weighing 282
    assert (await api.create_tweet(text="a" * 280)).data["edit_history_tweet_ids"]


async def test_replies_only_where_the_town_was_summoned(
    x: XEmulator, session: aiohttp.ClientSession
) -> None:
    api = client(x, session)
    quiet = x.world.add_tweet(x.world.add_user("vecino")["id"], "hoy hace sol")
    with pytest.raises(tweepy.Forbidden, match="not been mentioned"):
        await api.create_tweet(text="¡Qué bien!", in_reply_to_tweet_id=quiet["id"])
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        await api.create_tweet(text="¿?", in_reply_to_tweet_id="1")
    mention = x.resident_mentions("hola")
    answer = await api.create_tweet(text="Hola", in_reply_to_tweet_id=mention["id"])
    follow_up = await api.create_tweet(text="Más", in_reply_to_tweet_id=answer.data["id"])
    assert follow_up.data["id"]


async def test_direct_messages_are_limited_to_10000_characters(
    x: XEmulator, session: aiohttp.ClientSession
) -> None:
    api = client(x, session)
    resident = x.world.add_user("vecina")["id"]
    with pytest.raises(tweepy.BadRequest, match="10000"):
        await api.create_direct_message(participant_id=resident, text="a" * 10_001)
    sent = await api.create_direct_message(participant_id=resident, text="a" * 10_000)
    assert sent.data["dm_conversation_id"] == f"{resident}-{x.user_id}"


async def test_rate_limits_come_with_their_headers(
    x: XEmulator, session: aiohttp.ClientSession
) -> None:
    api = client(x, session)
    await api.get_me()
    await api.get_me()
    with pytest.raises(tweepy.TooManyRequests) as limited:
        await api.get_me()
    headers = limited.value.response.headers
    assert headers["x-rate-limit-limit"] == "2" and headers["x-rate-limit-remaining"] == "0"
    assert limited.value.reset_time == int(headers["x-rate-limit-reset"])
    assert [c.status for c in x.calls] == [200, 200, 429]
