"""Residents' messages as the platforms send them, derived from the captured fixtures.

Telegram: ``tests/fixtures/telegram/text_message.ptb22.json``; Slack:
``tests/fixtures/slack/message.json`` (an Events API ``event_callback``); X:
``tests/fixtures/x/mentions_author_expansion_docs.json`` (API v2 mentions with the author
expanded). Changed in each copy: the ids (update, message, event, tweet), the sender and
their chat or channel, the date and the text (and Slack's rich_text block, which repeats
it). Nothing is added or removed.

A *town's morning* spreads the texts as a busy day would, every ten messages: four dead
lamps, one police report, one doctor's appointment, the school menu, one that no
department claims (triage), a resident writing again in their conversation (a follow-up),
and a platform delivering an earlier message a second time (a duplicate, which the store's
dedupe key drops). The platforms take turns: Telegram, Slack, X.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from junbridge.channels import slack_events, twitter_parse
from junbridge.channels.telegram_parse import parse_update
from junbridge.model import Message

FIXTURES = Path(__file__).parent.parent / "tests" / "fixtures"
TELEGRAM = json.loads((FIXTURES / "telegram" / "text_message.ptb22.json").read_text())
SLACK = json.loads((FIXTURES / "slack" / "message.json").read_text())
X = json.loads((FIXTURES / "x" / "mentions_author_expansion_docs.json").read_text())
SLACK_BOT, X_BOT = "U0JUNBOT", "1500000000000000001"
PLATFORMS = ("telegram", "slack", "twitter")

TEXTS = {
    "lighting": "La farola {n} de la calle Real no funciona",
    "police": "Quiero poner una denuncia: anoche rompieron el cristal del coche {n}",
    "doctor": "Quiero pedir cita con el médico, por favor ({n})",
    "school": "¿Qué hay en el menú del cole hoy? ({n})",
    "triage": "Buenos días, una pregunta sobre el padrón municipal ({n})",
    "follow-up": "Sigue igual, ¿saben algo de lo que avisé? ({n})",
}
# Every ten messages: what each one is.
MORNING = (
    "lighting", "police", "lighting", "doctor", "lighting",
    "school", "follow-up", "lighting", "triage", "duplicate",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Delivery:
    """One payload as a platform delivers it, and what it is in the town's morning."""

    platform: str
    kind: str
    payload: dict[str, Any]
    platform_id: str

    def parse(self) -> Message:
        """The normalized message, as the platform's channel makes it."""
        return PARSERS[self.platform](self.payload)


def telegram(n: int, user: int, text: str, at: datetime) -> dict[str, Any]:
    data = copy.deepcopy(TELEGRAM)
    data["update_id"] = TELEGRAM["update_id"] + n
    message = data["message"]
    message.update(message_id=n, text=text, date=int(at.timestamp()))
    # A private chat's id is its user's id.
    message["from"]["id"] = message["chat"]["id"] = user
    message["from"]["username"] = message["chat"]["username"] = f"vecino{user}"
    return data


def slack(n: int, user: int, text: str, at: datetime) -> dict[str, Any]:
    data = copy.deepcopy(SLACK)
    del data["enterprise_id"]
    ts = f"{at.timestamp():.6f}"
    data.update(event_id=f"Ev{n:08d}", event_time=int(at.timestamp()), authed_users=[SLACK_BOT])
    event = data["event"]
    event.update(
        client_msg_id=f"bench-{n}",
        text=text,
        user=f"U{user}",
        ts=ts,
        event_ts=ts,
        channel=f"D{user}",
        channel_type="im",
    )
    event["blocks"][0]["elements"][0]["elements"][0]["text"] = text
    return data


def x(n: int, user: int, text: str, at: datetime) -> dict[str, Any]:
    data = copy.deepcopy(X)
    [tweet] = data["data"]
    [author] = data["includes"]["users"]
    tweet_id = str(1_800_000_000_000_000_000 + n)
    tweet.update(
        id=tweet_id,
        text=f"@AytoJun {text}",
        author_id=str(user),
        created_at=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )
    author.update(id=str(user), username=f"vecino{user}", name=f"Vecino {user}")
    data["meta"].update(newest_id=tweet_id, oldest_id=tweet_id)
    return data


BUILDERS: dict[str, Callable[[int, int, str, datetime], dict[str, Any]]] = {
    "telegram": telegram,
    "slack": slack,
    "twitter": x,
}


def _x_message(payload: dict[str, Any]) -> Message:
    [message] = twitter_parse.parse_all(payload, own_id=X_BOT)
    return message


def _slack_message(payload: dict[str, Any]) -> Message:
    message = slack_events.parse(payload, bot_user_id=SLACK_BOT)
    assert message is not None
    return message


PARSERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "telegram": parse_update,
    "slack": _slack_message,
    "twitter": _x_message,
}


def platform_id(platform: str, payload: dict[str, Any]) -> str:
    if platform == "telegram":
        return str(payload["update_id"])
    if platform == "slack":
        return str(payload["event"]["ts"])
    return str(payload["data"][0]["id"])


def morning(first: int, count: int, start: datetime) -> list[Delivery]:
    """``count`` deliveries of a town's morning, numbered from ``first``, a second apart."""
    made: list[Delivery] = []
    for n in range(first, first + count):
        kind = MORNING[n % len(MORNING)]
        at = start + timedelta(seconds=n)
        if kind == "duplicate" and made:
            made.append(made[-3])  # delivered again, as a platform's retry is
            continue
        if kind == "follow-up" and len(made) >= 6:
            earlier = made[-6]  # the same resident, in the same conversation
            platform, user = earlier.platform, _user_of(earlier)
        else:
            platform, user = PLATFORMS[n % len(PLATFORMS)], 6_000_000 + n
            kind = "lighting" if kind in ("duplicate", "follow-up") else kind
        payload = BUILDERS[platform](n, user, TEXTS[kind].format(n=n), at)
        made.append(Delivery(platform, kind, payload, platform_id(platform, payload)))
    return made


def _user_of(delivery: Delivery) -> int:
    payload = delivery.payload
    if delivery.platform == "telegram":
        return int(payload["message"]["from"]["id"])
    if delivery.platform == "slack":
        return int(payload["event"]["user"][1:])
    return int(payload["data"][0]["author_id"])
