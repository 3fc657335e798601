"""A resident's words reach staff as words: no mention, no disguised link, no bold of theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_town import Clock, slack_config

from junbridge.bridge import Bridge
from junbridge.testing import make_bridge
from junbridge.testing.emulators.slack import SlackEmulator
from junbridge.web.app import create_app
from junbridge.web.server import serve

STAFF_PLACE = "C0LIGHTSTAFF"
HOSTILE = (
    "La farola 12 no funciona **URGENTE** <@U0POLICECHIEF> @U0POLICECHIEF "
    "[pulsa aquí](https://evil.example/login) <!channel>"
)


@pytest.fixture
async def town(
    tmp_path: Path, slack: SlackEmulator, clock: Clock, secrets: None
) -> AsyncIterator[Bridge]:
    """Jun with the electricians' cards in their own Slack channel, events served over HTTP."""
    config = slack_config(slack)
    config["departments"]["lighting"]["staff_place"] = f"slack:{STAFF_PLACE}"
    slack.workspace.add_channel(STAFF_PLACE, "alumbrado-equipo")
    bridge = await make_bridge(config=config, workdir=tmp_path, clock=clock)
    channel = bridge.channel("slack")
    await bridge.add_channel(channel)
    server = await serve(create_app(bridge))
    slack.deliver_to(server.url)
    yield bridge
    await server.stop()
    await channel.stop()
    await bridge.close()


async def test_a_report_cannot_ping_link_or_format_in_the_staff_card(
    town: Bridge, slack: SlackEmulator
) -> None:
    bridge = town
    await slack.resident_says(HOSTILE)
    await bridge.drain()
    await bridge.outbox.settle()
    cards = [c for c in slack.sent("chat.postMessage") if c.params["channel"] == STAFF_PLACE]
    assert cards, "the staff card was not posted"
    shown = " ".join(f"{c.params.get('text', '')} {c.params.get('blocks', '')}" for c in cards)
    # Still the resident's words ...
    assert "URGENTE" in shown and "pulsa aquí" in shown and "U0POLICECHIEF" in shown
    # ... but none of them a mention, a link or a broadcast Slack would act on.
    assert "<@U0POLICECHIEF>" not in shown
    assert "<https://evil.example" not in shown
    assert "<!channel>" not in shown


async def test_a_very_long_report_makes_one_card_that_slack_takes(
    town: Bridge, slack: SlackEmulator
) -> None:
    bridge = town
    report = "La farola 12 de la calle Real no funciona. " + "Sigue sin luz. " * 700
    await slack.resident_says(report)
    await bridge.drain()
    await bridge.outbox.settle()
    [card] = [c for c in slack.sent("chat.postMessage") if c.params["channel"] == STAFF_PLACE]
    assert "La farola 12" in str(card.params) and "…" in str(card.params)
    assert not slack.refused("chat.postMessage")
    [request] = await bridge.requests.all()
    assert request.description == report.strip() or request.description == report
