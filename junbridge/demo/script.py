"""A scripted day in Jun: what residents and staff do, scene by scene.

Each scene acts through a platform emulator, as a person on their phone would, then waits
until the bridge has answered (the replies are delivered to the emulators by the real
SDKs). The transcript keeps both sides, per platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from junbridge.demo.town import DemoTown
from junbridge.model import Sender
from junbridge.requests import scheduler
from junbridge.store import OutboxRow

# Generous: it bounds a demo that would otherwise hang, it does not time anything.
WAIT_SECONDS = 20.0

PLATFORM_TITLES = {"telegram": "Telegram", "slack": "Slack", "twitter": "X"}


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a transcript."""

    at: datetime
    platform: str
    who: str
    text: str
    town: bool


@dataclass
class Transcript:
    """Both sides of every conversation of the day."""

    lines: list[Line] = field(default_factory=list)
    # Channels deliver at their own pace: a later reply may go out before an earlier one.
    seen: set[int] = field(default_factory=set)

    def said(self, town: DemoTown, platform: str, who: str, text: str) -> None:
        """A resident or staff member wrote ``text``."""
        self.lines.append(Line(town.clock(), platform, who, text, town=False))

    async def collect(self, town: DemoTown) -> list[OutboxRow]:
        """Add what the bridge delivered since the last call; return those rows."""
        first_unseen = min(set(range(1, max(self.seen, default=0) + 2)) - self.seen)
        rows = [
            r
            for r in await town.bridge.store.delivered_since(first_unseen - 1)
            if r.id not in self.seen
        ]
        for row in rows:
            reply = row.reply
            shown = "\n".join(town.bridge.channel(reply.channel).preview(reply))
            if reply.private and reply.recipient is not None:
                to = f"private message to {town.name_of(reply.channel, reply.recipient)}"
            else:
                to = town.name_of(reply.channel, reply.conversation)
            self.lines.append(Line(town.clock(), reply.channel, f"town → {to}", shown, town=True))
            self.seen.add(row.id)
        return rows


Action = Callable[[DemoTown, Transcript], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scene:
    """One moment of the story: ``day`` 0 is the demo day, 1 the day after."""

    day: int
    hour: int
    minute: int
    title: str
    act: Action


async def until_delivered(
    town: DemoTown, transcript: Transcript, expect: Callable[[list[OutboxRow]], bool]
) -> list[OutboxRow]:
    """Wait until the delivered replies so far satisfy ``expect``."""
    delivered: list[OutboxRow] = []

    async def wait() -> list[OutboxRow]:
        while True:
            await town.settle()
            delivered.extend(await transcript.collect(town))
            if expect(delivered):
                return delivered
            await asyncio.sleep(0.05)

    try:
        return await asyncio.wait_for(wait(), WAIT_SECONDS)
    except TimeoutError:
        stuck = await town.bridge.store.undelivered()
        pending = await town.bridge.store.pending_inbound()
        raise SceneTimeout(
            f"delivered so far: {[(r.reply.channel, r.reply.text[:40]) for r in delivered]}; "
            f"undelivered: {[(r.reply.channel, r.status, r.error) for r in stuck]}; "
            f"messages not handled: {[(m.channel, m.text[:40]) for _, m in pending]}"
        ) from None


async def catch_up(town: DemoTown, transcript: Transcript, until: datetime) -> None:
    """Act on every timer due before ``until`` at the moment it falls due, as ``junbridge
    run`` would: a reminder shows at the time it was sent, not at the next scene."""
    fired: set[int] = set()
    while due := await town.bridge.store.due_timers(until, limit=1):
        if due[0].id in fired:
            return  # it failed and stays due: the scheduler logged why
        fired.add(due[0].id)
        town.clock.advance_to(due[0].due_at)
        await scheduler.tick(town.bridge)
        await town.settle()
        await transcript.collect(town)


class SceneTimeout(RuntimeError):
    """The bridge did not answer a scene: what it did deliver, and what is stuck."""


def to(channel: str, count: int = 1) -> Callable[[list[OutboxRow]], bool]:
    """At least ``count`` replies delivered on ``channel``."""
    return lambda rows: sum(r.reply.channel == channel for r in rows) >= count


def both(*checks: Callable[[list[OutboxRow]], bool]) -> Callable[[list[OutboxRow]], bool]:
    """Every check holds."""
    return lambda rows: all(check(rows) for check in checks)


class Day:
    """The scenes, sharing what earlier ones left (the lamp's tweet, María's buttons)."""

    def __init__(self) -> None:
        self.lamp_tweet = ""
        self.card_ts = ""

    def scenes(self) -> list[Scene]:
        """The day, in order."""
        return [
            Scene(0, 8, 5, "A dead street lamp reported on X, with a photo", self.lamp_on_x),
            Scene(
                0, 9, 20, "A neighbour reports it on Telegram: already reported", self.lamp_again
            ),
            Scene(
                0, 10, 40, "The electrician resolves it from Slack with a photo", self.lamp_fixed
            ),
            Scene(0, 11, 0, "María books the doctor on Telegram with buttons", self.doctor),
            Scene(0, 12, 30, "A parent asks for the canteen menu in Slack", self.menu),
            Scene(0, 14, 10, "A message nobody claims goes to triage", self.triage),
            Scene(0, 23, 40, "A noise complaint at night", self.noise),
            Scene(1, 10, 45, "«Is it fixed?» on X: no, it is dark again", self.not_fixed),
            Scene(1, 12, 15, "The electrician fixes it for good", self.fixed_again),
            Scene(2, 12, 30, "«Is it fixed?»: yes, and a rating", self.confirmed),
        ]

    async def lamp_on_x(self, town: DemoTown, transcript: Transcript) -> None:
        text = "La farola de la calle Real no funciona desde anoche"
        post = town.x.resident_mentions(text, user="vecina_jun", media=["farola-apagada.jpg"])
        self.lamp_tweet = post["id"]
        transcript.said(
            town, "twitter", "@vecina_jun", f"@{town.x.handle} {text} [photo farola-apagada.jpg]"
        )
        rows = await until_delivered(town, transcript, both(to("twitter"), to("slack")))
        card = next(r for r in rows if r.reply.channel == "slack")
        self.card_ts = card.platform_ids[0]

    async def lamp_again(self, town: DemoTown, transcript: Transcript) -> None:
        emma = town.telegram.user(2003, "Emma", username="emma_jun", language_code="en")
        text = "The street light on Calle Real is out"
        await town.telegram.resident_says(text, user=emma, language_code="en")
        transcript.said(town, "telegram", "Emma", text)
        # She is told it is already reported; the electrician reads it in the card's thread.
        await until_delivered(town, transcript, both(to("telegram"), to("slack")))

    async def lamp_fixed(self, town: DemoTown, transcript: Transcript) -> None:
        electrician = "U0ELECTRIC"
        text = "resolve Cambiada la bombilla, ya luce"
        await town.slack.resident_shares_file(
            text,
            filename="farola-arreglada.jpg",
            user=electrician,
            channel="C0LIGHTING",
            thread_ts=self.card_ts,
        )
        transcript.said(
            town,
            "slack",
            f"electricista ({electrician}) in the card's thread",
            text + " [photo farola-arreglada.jpg]",
        )
        # Both who reported it hear it, each where they wrote: @vecina_jun and Emma.
        await until_delivered(town, transcript, both(to("twitter"), to("slack"), to("telegram")))

    async def doctor(self, town: DemoTown, transcript: Transcript) -> None:
        maria = town.telegram.user(2001, "María", last_name="Ruiz", username="maria_ruiz")
        # The town hall desk checked her DNI earlier: `junbridge residents verify`.
        resident = await town.bridge.store.resident_for("telegram", Sender(id="2001"))
        await town.bridge.store.verify_resident(
            resident.identities[0], by="administrativa", at=town.clock()
        )
        transcript.said(town, "telegram", "town hall desk", "verified telegram:2001 (DNI seen)")
        text = "Buenos días, quiero pedir cita con el médico"
        await town.telegram.resident_says(text, user=maria)
        transcript.said(town, "telegram", "María", text)
        [offer] = [
            r for r in await until_delivered(town, transcript, to("telegram")) if r.reply.choices
        ]
        chat, _, message_id = offer.platform_ids[-1].rpartition(":")
        message = town.telegram.messages[(int(chat), int(message_id))]
        choice = offer.reply.choices[0]
        await town.telegram.resident_presses(message, choice.value, user=maria)
        transcript.said(town, "telegram", "María", f"[presses «{choice.label}»]")
        await until_delivered(town, transcript, to("telegram"))

    async def menu(self, town: DemoTown, transcript: Transcript) -> None:
        text = "¿Qué hay de comer hoy en el cole?"
        town.slack.workspace.add_channel("C0PLAZA", "plaza")
        await town.slack.resident_says(text, user="U0MADRE", channel="C0PLAZA")
        transcript.said(town, "slack", "a parent (U0MADRE) in #plaza", text)
        await until_delivered(town, transcript, to("slack"))

    async def triage(self, town: DemoTown, transcript: Transcript) -> None:
        luis = town.telegram.user(2002, "Luis", username="luis_jun")
        text = "¿Sabéis si este año hay cabalgata de Reyes?"
        await town.telegram.resident_says(text, user=luis)
        transcript.said(town, "telegram", "Luis", text)
        await until_delivered(town, transcript, to("telegram"))

    async def noise(self, town: DemoTown, transcript: Transcript) -> None:
        text = "Mucho ruido en el 3ºB: música alta y ya son casi las doce"
        post = town.x.resident_mentions(text, user="vecino_insomne")
        transcript.said(town, "twitter", "@vecino_insomne", f"@{town.x.handle} {text}")
        del post
        await until_delivered(town, transcript, both(to("twitter", 2), to("slack")))

    async def not_fixed(self, town: DemoTown, transcript: Transcript) -> None:
        # "Is it fixed?" went out a day after "resolved" (see ``catch_up``); she answers.
        text = "no, anoche volvió a apagarse"
        town.x.resident_mentions(text, user="vecina_jun", reply_to=self.lamp_tweet)
        transcript.said(town, "twitter", "@vecina_jun", f"@{town.x.handle} {text}")
        await until_delivered(town, transcript, both(to("twitter"), to("slack"), to("telegram")))

    async def fixed_again(self, town: DemoTown, transcript: Transcript) -> None:
        text = "resolve Cambiado también el cable de la farola"
        await town.slack.resident_says(
            text, user="U0ELECTRIC", channel="C0LIGHTING", thread_ts=self.card_ts
        )
        transcript.said(town, "slack", "electricista (U0ELECTRIC) in the card's thread", text)
        await until_delivered(town, transcript, both(to("twitter"), to("slack"), to("telegram")))

    async def confirmed(self, town: DemoTown, transcript: Transcript) -> None:
        for text in ("sí", "5"):
            town.x.resident_mentions(text, user="vecina_jun", reply_to=self.lamp_tweet)
            transcript.said(town, "twitter", "@vecina_jun", f"@{town.x.handle} {text}")
            await until_delivered(town, transcript, to("twitter"))
