"""Hostile and malformed payloads, thrown at every channel's parser: a clear refusal, never a crash.

Each case starts from a real captured payload (tests/fixtures) and breaks it the way a
buggy or hostile sender would (hypothesis draws the mutations): a value of the wrong type,
a key removed, nesting far deeper than any platform sends, odd unicode. The parser must
answer with a Message, None (ignored) or InvalidPayload, which the webhooks turn into a
4xx. Anything else would be a 500 and the platform would send the payload again, forever.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from junbridge.channels.base import Channel, InvalidPayload
from junbridge.channels.slack import SlackChannel
from junbridge.channels.telegram import TelegramChannel
from junbridge.channels.twitter import TwitterChannel
from junbridge.model import Message

FIXTURES = Path(__file__).parent / "fixtures"
CAPTURED = {
    TelegramChannel: [
        "telegram/text_message.json",
        "telegram/photo_with_caption.json",
        "telegram/location.json",
        "telegram/voice.json",
    ],
    SlackChannel: ["slack/message.json", "slack/app_mention.json", "slack/message_file_share.json"],
    TwitterChannel: [
        "x/mentions_author_expansion_docs.json",
        "x/mentions_recorded_tweepy_cassette_2022.json",
    ],
}
CASES = [(cls, name) for cls, names in CAPTURED.items() for name in names]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes), 20 levels deep."""
    found = [prefix]
    if len(prefix) >= 20:
        return found
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any, *, remove: bool) -> Any:
    """A copy of ``value`` with the value at ``path`` replaced by ``new`` (or removed)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    if not rest and remove:
        del copy[head]
    else:
        copy[head] = replaced(copy[head], rest, new, remove=remove)
    return copy


@st.composite
def mutated(draw: st.DrawFn, original: Any) -> Any:
    """``original`` broken in one to three places."""
    payload = original
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(payload)))
        new = draw(
            JSON
            | st.just("\ud800 half a surrogate pair")
            | st.just("x" * 100_000)
            | st.just(deep(5_000))
        )
        payload = replaced(payload, path, new, remove=bool(path) and draw(st.booleans()))
    return payload


def deep(levels: int) -> Any:
    """Lists inside lists, ``levels`` deep (no platform nests more than a few)."""
    value: Any = "fondo"
    for _ in range(levels):
        value = [value]
    return value


def parser(cls: type[Channel]) -> Channel:
    """The channel as ``junbridge normalize`` builds it: parsing needs no secrets."""
    return cls(cls.Settings.model_construct())


@pytest.mark.parametrize(("cls", "name"), CASES, ids=[name for _, name in CASES])
def test_a_broken_payload_is_a_message_ignored_or_refused_never_a_crash(
    cls: type[Channel], name: str
) -> None:
    original = json.loads((FIXTURES / name).read_text())
    channel = parser(cls)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutated(original))
    def check(payload: Any) -> None:
        try:
            message = channel.parse(payload)
        except InvalidPayload as exc:
            assert str(exc)  # says what was wrong
            return
        assert message is None or isinstance(message, Message)

    check()


@pytest.mark.parametrize(("cls", "name"), CASES, ids=[name for _, name in CASES])
def test_nesting_deeper_than_python_goes_is_refused_or_ignored(
    cls: type[Channel], name: str
) -> None:
    original = json.loads((FIXTURES / name).read_text())
    for key in original:
        payload = {**original, key: deep(50_000)}
        try:
            message = parser(cls).parse(payload)
        except InvalidPayload:
            continue
        assert message is None or isinstance(message, Message)


@pytest.mark.parametrize("cls", list(CAPTURED))
def test_not_even_an_object_is_refused(cls: type[Channel]) -> None:
    for payload in ([], "texto", 42, None):
        with pytest.raises(InvalidPayload):
            parser(cls).parse(payload)  # type: ignore[arg-type]
