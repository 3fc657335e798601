"""Signed but hostile requests to the Slack webhooks: a 4xx, never a 500, and the town goes on."""

from __future__ import annotations

import json

import httpx
from slack_town import Town

from junbridge.testing.emulators.slack_link import signature
from junbridge.web.limits import MAX_BODY

LAMP = "La farola de la calle Real no funciona"


async def post(town: Town, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
    assert town.server is not None
    signed = headers if headers is not None else signature(body, town.slack.signing_secret)
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{town.server.url}/webhooks/slack/events",
            content=body,
            headers={"content-type": "application/json", **signed},
        )


async def test_malformed_events_get_a_4xx_or_are_ignored_never_a_500(town: Town) -> None:
    bodies = [
        json.dumps({"type": "event_callback", "event": {"type": "message", "text": 42}}),
        json.dumps({"type": "event_callback", "event": "not an object"}),
        json.dumps({"type": "event_callback", "event": {"type": "message", "user": ["U1"]}}),
        "[" * 100_000 + "]" * 100_000,
        '{"type": "event_callback", "event": {"text": "\\ud800"}}',
    ]
    for body in bodies:
        answer = await post(town, body)
        assert answer.status_code < 500, (body[:80], answer.status_code, answer.text)
    # The town still takes a real report afterwards.
    await town.slack.resident_says(LAMP)
    await town.bridge.drain()
    assert len(await town.bridge.requests.all()) == 1


async def test_a_body_over_a_megabyte_is_refused_before_it_is_read(town: Town) -> None:
    body = json.dumps({"type": "event_callback", "event": {"text": "x" * MAX_BODY}})
    answer = await post(town, body)
    assert answer.status_code == 413
    assert await town.bridge.requests.all() == []


async def test_a_timestamp_that_is_not_a_number_is_refused(town: Town) -> None:
    body = json.dumps({"type": "event_callback", "event": {"type": "message", "text": LAMP}})
    answer = await post(
        town, body, {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=0"}
    )
    assert answer.status_code == 401
