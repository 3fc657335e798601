"""A platform that stopped answering: noticed, said, and worked around.

The outbox tells :class:`Outages` of every send that failed for a reason of the platform's
(network errors, 5xx, a refused token: not a 429, not one resident's closed chat) and of
every one that arrived. A channel whose sends have all failed for ``DOWN_AFTER`` (and at
least ``MIN_FAILURES`` times) is down until one arrives again. While it is down:

- ``/healthz`` and ``/metrics`` say so (``junbridge.web.health``, ``junbridge.web.metrics``);
- each department's staff place on another channel is told once when it goes down and once
  when it is back (one worker says it: the announcement is a lease in the store);
- replies waiting for a resident who linked an account on a channel that works go there
  instead, with a line saying why (``Store.reroute``); the rest wait and go out when the
  platform is back.

The clock is the bridge's, so tests move it rather than wait.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from junbridge.departments import Department, place_of
from junbridge.model import Reply
from junbridge.steps import TRIAGE

if TYPE_CHECKING:
    from collections.abc import Callable

    from junbridge.bridge import Bridge

log = logging.getLogger(__name__)

# Long enough that a platform's blip (a deploy, a minute of 502s) is only retried; short
# enough that staff hear of a revoked token before residents start asking.
DOWN_AFTER = timedelta(minutes=5)
MIN_FAILURES = 3
# How long the worker that announced an outage holds the right to announce its end.
ANNOUNCED_FOR = timedelta(hours=12)


@dataclass
class Outage:
    """Failures of one channel since its last delivery."""

    channel: str
    since: datetime
    failures: int
    error: str
    down: bool = False


class Outages:
    """Which channels are down, as this worker's outbox sees them."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        down_after: timedelta = DOWN_AFTER,
        min_failures: int = MIN_FAILURES,
    ) -> None:
        self.clock = clock
        self.down_after = down_after
        self.min_failures = min_failures
        self._failing: dict[str, Outage] = {}

    def failed(self, channel: str, error: str) -> Outage | None:
        """Count a failed send; the outage if it makes ``channel`` down just now."""
        now = self.clock()
        outage = self._failing.get(channel)
        if outage is None:
            outage = self._failing[channel] = Outage(
                channel=channel, since=now, failures=0, error=error
            )
        outage.failures += 1
        outage.error = error
        if (
            not outage.down
            and outage.failures >= self.min_failures
            and now - outage.since >= self.down_after
        ):
            outage.down = True
            return outage
        return None

    def delivered(self, channel: str) -> Outage | None:
        """A send arrived; the outage it ends, if ``channel`` was down."""
        outage = self._failing.pop(channel, None)
        return outage if outage is not None and outage.down else None

    def is_down(self, channel: str) -> bool:
        """Whether ``channel`` is down now."""
        outage = self._failing.get(channel)
        return outage is not None and outage.down

    def down(self) -> dict[str, Outage]:
        """The channels that are down, with their outage."""
        return {name: o for name, o in sorted(self._failing.items()) if o.down}


async def went_down(bridge: Bridge, outage: Outage, first: bool) -> None:
    """Say so in the log and (once, from one worker) to staff; send what can go elsewhere.

    Called when ``outage`` begins (``first``), then at each outbox pass while it lasts, for
    the replies that came in meanwhile."""
    if not first:
        await reroute(bridge, outage.channel)
        return
    log.error(
        "%s is down: every send has failed since %s (%d failures; last: %s)",
        outage.channel,
        outage.since.isoformat(timespec="seconds"),
        outage.failures,
        outage.error,
    )
    now = bridge.clock()
    if await bridge.store.lead(f"outage:{outage.channel}", until=now + ANNOUNCED_FOR, now=now):
        await tell_staff(bridge, outage, "staff_channel_down")
    await reroute(bridge, outage.channel)


async def came_back(bridge: Bridge, outage: Outage) -> None:
    """Say that ``outage`` ended, if this worker said it began."""
    log.warning("%s is back after %s", outage.channel, bridge.clock() - outage.since)
    now = bridge.clock()
    if await bridge.store.lead(f"outage:{outage.channel}", until=now, now=now):
        await tell_staff(bridge, outage, "staff_channel_up")


async def tell_staff(bridge: Bridge, outage: Outage, key: str) -> None:
    """``key`` to each staff place that is not on a channel that is down, once per place."""
    places: dict[tuple[str, str], Department] = {}
    for department in bridge.departments.values():
        place = place_of(department)
        if place is None or place[0] not in bridge.channels:
            continue
        if bridge.outbox.outages.is_down(place[0]):
            continue
        places.setdefault(place, department)
    notices = [
        Reply(
            text=department.text(
                key,
                department.town.language,
                channel=channel_title(bridge, outage.channel),
                since=department.format_time(outage.since, department.town.language),
                error=outage.error,
            ),
            channel=channel,
            conversation=conversation,
        )
        for (channel, conversation), department in places.items()
    ]
    if notices:
        await bridge.store.write(lambda tx: tx.enqueue_many([(n, None) for n in notices]))


async def reroute(bridge: Bridge, channel: str) -> int:
    """Send the replies waiting on ``channel`` to residents' linked accounts elsewhere."""
    up = [
        name
        for name in bridge.channels
        if name != channel and not bridge.outbox.outages.is_down(name)
    ]
    if not up or not bridge.departments:
        return 0
    # The town's desk speaks for the town, as in triage (its wording: departments.triage).
    desk = bridge.departments.get(TRIAGE) or next(iter(bridge.departments.values()))
    title = channel_title(bridge, channel)

    def preface(reply: Reply) -> str:
        language = reply.language or desk.town.language
        return desk.text("sent_elsewhere", language, channel=title)

    moved = await bridge.store.reroute(channel, up, preface=preface)
    if moved:
        log.warning("%d replies waiting on %s sent to linked accounts instead", moved, channel)
    return moved


def channel_title(bridge: Bridge, name: str) -> str:
    """The platform's name as people know it ("Telegram", "X")."""
    channel = bridge.channels.get(name)
    return (channel.title if channel is not None else "") or name.capitalize()
