"""X payloads to Messages: one test per real captured payload, then the mapping rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import tweepy  # type: ignore[import-untyped]
from click.testing import CliRunner
from x_town import FIXTURES

from junbridge.channels.base import InvalidPayload
from junbridge.channels.twitter import TwitterChannel
from junbridge.channels.twitter_parse import clean_text, language, snowflake_time
from junbridge.cli import cli
from junbridge.model import Message, MessageKind, Sender
from junbridge.testing.emulators.x import XEmulator


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def channel(user_id: str | None = None) -> TwitterChannel:
    """A channel as ``junbridge normalize`` makes one: no secrets, nothing started."""
    settings = TwitterChannel.Settings.model_validate({"handle": "AytoJun", "user_id": user_id})
    return TwitterChannel(settings)


def tweepy_response(payload: dict[str, Any]) -> Any:
    """The Response tweepy's own client builds from a response body."""
    return tweepy.Client()._construct_response(payload, data_type=tweepy.Tweet)


DOCS_MENTION = Message(
    channel="twitter",
    platform_id="1301573587187331074",
    conversation="1301573587187331074",  # no conversation_id asked for: its own thread
    thread="1301573587187331074",
    sender=Sender(id="1234567890", handle="developer", name="Dev Person", language=None),
    sent_at=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
    text="Hey @XDevelopers, love the new API!",  # only leading mentions are cut
    kind=MessageKind.TEXT,
    is_private=False,
)


def test_docs_mentions_response_with_author_expansion() -> None:
    payload = fixture("mentions_author_expansion_docs.json")
    assert channel().parse_all(payload) == [DOCS_MENTION]
    assert channel().parse(payload) == DOCS_MENTION
    # The docs sample lacks edit_history_tweet_ids; tweepy warns, the mapping is the same.
    with pytest.warns(RuntimeWarning, match="edit_history_tweet_ids"):
        response = tweepy_response(payload)
    assert channel().messages_of(response) == [DOCS_MENTION]
    assert channel().parse(payload).raw == payload["data"][0]  # type: ignore[union-attr]


def test_recorded_mentions_without_author_are_refused_not_guessed() -> None:
    # Fetched without expansions=author_id: residents cannot be told apart, so no message
    # is made up. The channel always asks for author_id; this is someone else's response.
    payload = fixture("mentions_recorded_tweepy_cassette_2022.json")
    response = tweepy_response(payload)
    assert len(response.data) == 10 and response.includes == {}
    with pytest.raises(InvalidPayload, match="no author_id"):
        channel().messages_of(response)
    with pytest.raises(InvalidPayload, match="expansions=author_id"):
        channel().parse_all(payload)
    # Its ids still tell when the posts were made: the recording's day.
    assert {snowflake_time(t["id"]).date() for t in payload["data"]} == {date(2022, 10, 7)}


def test_normalize_prints_the_message_or_says_why_not() -> None:
    runner = CliRunner()
    docs = FIXTURES / "mentions_author_expansion_docs.json"
    shown = runner.invoke(cli, ["normalize", "--channel", "twitter", str(docs)])
    assert shown.exit_code == 0, shown.output
    assert Message.from_json(json.loads(shown.output)) == DOCS_MENTION
    cassette = FIXTURES / "mentions_recorded_tweepy_cassette_2022.json"
    refused = runner.invoke(cli, ["normalize", "--channel", "twitter", str(cassette)])
    assert refused.exit_code == 1 and "author_id" in refused.output


def test_an_empty_mentions_page_is_no_message() -> None:
    assert channel().parse_all({"meta": {"result_count": 0}}) == []
    assert channel().parse({"meta": {"result_count": 0}}) is None


@pytest.mark.parametrize(
    "payload",
    [[], {"hello": "world"}, {"data": ["1"]}, {"data": [{"text": "no id"}]}],
)
def test_what_is_not_an_x_payload_is_invalid(payload: Any) -> None:
    with pytest.raises(InvalidPayload):
        channel().parse_all(payload)


def test_posts_by_the_town_itself_are_ignored() -> None:
    payload = fixture("mentions_author_expansion_docs.json")
    assert channel(user_id="1234567890").parse_all(payload) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [("es", "es"), ("en", "en"), ("und", None), ("zxx", None), ("qme", None), ("art", None)],
)
def test_only_real_language_codes_count(code: str, expected: str | None) -> None:
    assert language(code) == expected


def test_leading_mentions_and_photo_links_are_cut() -> None:
    text = "@AytoJun @vecino: la farola no va https://t.co/abc"
    assert clean_text(text, ["https://t.co/abc"]) == "la farola no va"
    assert clean_text("Hola @AytoJun, la farola") == "Hola @AytoJun, la farola"


# -- emulator-generated payloads (not captured from X): the shapes the channel must read ---


def test_a_mention_with_a_photo_from_a_v2_response() -> None:
    x = XEmulator()
    post = x.resident_mentions("La farola de la calle Real", media=["farola.jpg"], lang="es")
    [key] = post["attachments"]["media_keys"]
    payload = {
        "data": [post],
        "includes": {"users": [x.world.users[post["author_id"]]], "media": [x.world.media[key]]},
    }
    [message] = channel(x.user_id).parse_all(payload)
    assert message.text == "La farola de la calle Real"
    assert message.sender == Sender(
        id=post["author_id"], handle="vecina", name="Vecina", language="es"
    )
    [photo] = message.attachments
    assert (photo.kind, photo.platform_ref, photo.url) == ("photo", key, x.world.media[key]["url"])


def test_a_dm_from_the_account_activity_webhook() -> None:
    x = XEmulator()
    dm = x.resident_dms("Quiero cita", media=["receta.jpg"])
    [message] = channel(x.user_id).parse_all(x.account_activity(dm))
    assert message.is_private and message.thread is None
    assert message.conversation == dm["dm_conversation_id"] == f"{dm['sender_id']}-{x.user_id}"
    assert message.text == "Quiero cita" and message.sender.handle == "vecina"
    assert message.attachments[0].platform_ref == dm["attachments"]["media_keys"][0]
    assert message.sent_at == snowflake_time(dm["id"])


def test_the_for_user_id_of_an_event_tells_our_own_posts_apart() -> None:
    x = XEmulator()
    own = x.world.add_tweet(x.user_id, "@vecina Gracias")
    assert channel().parse_all(x.account_activity(own)) == []
