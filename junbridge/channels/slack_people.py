"""Who writes on the town's Slack: each member's name and language, for the replies.

A Slack message event names its sender by id only; their name and language (``locale``)
are in their profile. The workspace's members are read at once with ``users.list`` (200 a
page, Tier 2: 20+ calls a minute) when the channel starts, and again every hour; a member
the list did not show (joined since, or past the ``PROFILES_KEPT`` kept) is looked up with
``users.info`` (Tier 4: 100+ calls a minute) when they write. So residents writing at once,
after a restart or an outage, cost no call each and never meet users.info's limit, past
which their replies would lose their language.

Profiles are remembered for an hour (by the bridge's clock), so a member who changes their
name or language is answered in it within the hour, and only the most recent
``PROFILES_KEPT``: a town's workspace may have tens of thousands, a process keeps the
memory of a few.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from junbridge.channels.slack_web import UNREACHABLE, retry_after
from junbridge.text import storable

log = logging.getLogger(__name__)

# users.info runs in the worker, after Slack has its answer; a slow one only delays a reply.
PROFILE_TIMEOUT = 2.0
PROFILE_SECONDS = 3600.0
PROFILES_KEPT = 10_000
# Members per users.list call: what Slack recommends (at most 1,000).
PAGE = 200
# How long the channel's start waits for the list; the rest is read meanwhile.
START_WAIT = 3.0
# A users.list answered 429 is asked again after its Retry-After, at most this long.
LONGEST_WAIT = 60.0


@dataclass(frozen=True, slots=True)
class Profile:
    """What a member's Slack profile tells about them."""

    name: str | None
    language: str | None


def profile_of(user: Mapping[str, Any]) -> Profile:
    """The profile in a users.info or users.list member: the name they show, their locale.

    It is platform text kept with the message: repaired as the message is.
    """
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
    return storable(Profile(name=name or None, language=user.get("locale") or None))


class People:
    """The members' profiles this process remembers, and how it learns them."""

    def __init__(self, seconds: Callable[[], float]) -> None:
        self._known: TTLCache[str, Profile] = TTLCache(
            maxsize=PROFILES_KEPT, ttl=PROFILE_SECONDS, timer=seconds
        )

    def get(self, member: str) -> Profile | None:
        """The remembered profile of ``member``, if it is less than an hour old."""
        return self._known.get(member)

    async def look_up(self, client: AsyncWebClient, member: str) -> Profile | None:
        """``member``'s profile from ``users.info``, remembered; None if Slack did not say.

        A failure leaves it unknown: the message matters more than its language.
        """
        try:
            async with asyncio.timeout(PROFILE_TIMEOUT):
                response = await client.users_info(user=member, include_locale=True)
        except (SlackApiError, *UNREACHABLE) as exc:
            log.info("users.info %s failed (%s); going on without it", member, exc)
            return None
        found = profile_of(response.get("user") or {})
        self._known[member] = found
        return found

    async def learn(self, client: AsyncWebClient) -> int:
        """Every member's profile from ``users.list``, page after page, up to
        ``PROFILES_KEPT``; return how many were learned. Deactivated members and bots are
        left out. A 429 is waited out; any other failure ends the reading (members are then
        looked up one by one, as they write)."""
        cursor, learned = "", 0
        while learned < PROFILES_KEPT:
            try:
                response = await client.users_list(
                    limit=PAGE, include_locale=True, cursor=cursor or None
                )
            except (SlackApiError, *UNREACHABLE) as exc:
                wait = retry_after(exc) if isinstance(exc, SlackApiError) else None
                if wait is not None:
                    await asyncio.sleep(min(wait, LONGEST_WAIT))
                    continue
                log.warning("users.list failed (%s): members are looked up as they write", exc)
                break
            for user in response.get("members") or ():
                if user.get("deleted") or user.get("is_bot") or not user.get("id"):
                    continue
                self._known[str(user["id"])] = profile_of(user)
                learned += 1
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return learned

    async def keep_learning(self, client: AsyncWebClient, first: asyncio.Event) -> None:
        """``learn`` now and every hour after; ``first`` is set once the first pass ends."""
        while True:
            try:
                learned = await self.learn(client)
                log.info("Slack: %d members' profiles read (users.list)", learned)
            except Exception:  # a bug here must not stop the channel: they are looked up
                log.exception("reading the Slack members failed")
            finally:
                first.set()
            await asyncio.sleep(PROFILE_SECONDS)
