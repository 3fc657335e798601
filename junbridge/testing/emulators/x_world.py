"""What the X emulator knows: users, posts, direct messages and photos, kept as API v2 shows them.

Every post and DM event is stored with all the fields the emulator tracks; responses pick
the ones a request asks for. Ids are snowflakes made from the emulator's clock, so they
grow with time and tell when they were made, as X's do.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
Clock = Callable[[], datetime]

SNOWFLAKE_EPOCH_MS = 1288834974657
MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
# A few bytes that start and end like a JPEG: enough for a photo nobody looks at.
PHOTO_BYTES = b"\xff\xd8\xff\xe0" + b"junbridge test photo" + b"\xff\xd9"


def iso(moment: datetime) -> str:
    """A time as X writes it: ``2026-11-25T09:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def mentions_of(tweet: Json) -> list[Json]:
    """The ``entities.mentions`` of a stored post."""
    return list((tweet.get("entities") or {}).get("mentions", ()))


def media_links(tweet: Json) -> list[Json]:
    """The ``entities.urls`` of a stored post that stand for its photos."""
    return [u for u in (tweet.get("entities") or {}).get("urls", ()) if u.get("media_key")]


def conversation_id(one: str, other: str) -> str:
    """The id X gives a one-to-one DM conversation: ``smaller_id-larger_id``."""
    low, high = sorted((one, other), key=int)
    return f"{low}-{high}"


class XWorld:
    """Users, posts, DM events and photos; the town's account is ``account``."""

    def __init__(
        self, *, handle: str, user_id: str, clock: Clock, media_url: Callable[[str], str]
    ) -> None:
        self.clock = clock
        self.media_url = media_url
        self.users: dict[str, Json] = {}
        self.tweets: dict[str, Json] = {}
        self.dm_events: dict[str, Json] = {}
        self.media: dict[str, Json] = {}
        self.media_bytes: dict[str, bytes] = {}
        self._sequence = itertools.count()
        self._user_ids = itertools.count(120_000_001)
        self.account = self.add_user(handle, user_id=user_id, name="Ayuntamiento de Jun")

    @property
    def handle(self) -> str:
        """The town account's username, without ``@``."""
        return str(self.account["username"])

    @property
    def user_id(self) -> str:
        """The town account's id."""
        return str(self.account["id"])

    def new_id(self, at: datetime | None = None) -> str:
        """A snowflake for ``at`` (default now): milliseconds since X's epoch in the top
        bits, a sequence below."""
        now = at or self.clock()
        # Exact milliseconds: ``timestamp() * 1000`` can lose one to float rounding, and the
        # post's created_at (exact) would then disagree with its id by a millisecond.
        ms = int(now.replace(microsecond=0).timestamp()) * 1000 + now.microsecond // 1000
        ms -= SNOWFLAKE_EPOCH_MS
        return str((ms << 22) | (next(self._sequence) & 0x3FFFFF))

    # -- users ---------------------------------------------------------------------------

    def add_user(
        self, username: str, *, user_id: str | None = None, name: str | None = None
    ) -> Json:
        """A user (or the one already called ``username``), as ``GET /2/users`` shows it."""
        found = self.user_named(username)
        if found is not None:
            return found
        user_id = user_id or str(next(self._user_ids))
        user = {"id": user_id, "username": username, "name": name or username.title()}
        user["created_at"] = "2015-03-01T10:00:00.000Z"
        self.users[user_id] = user
        return user

    def user_named(self, username: str) -> Json | None:
        """The user with this username (any case), if any."""
        wanted = username.lower()
        return next((u for u in self.users.values() if u["username"].lower() == wanted), None)

    # -- photos --------------------------------------------------------------------------

    def add_photo(self, data: bytes = PHOTO_BYTES) -> Json:
        """A stored photo, as ``includes.media`` shows it; its bytes served at its ``url``."""
        media_id = self.new_id()
        key = f"3_{media_id}"
        self.media_bytes[key] = data
        media: Json = {"media_key": key, "id": media_id, "type": "photo"}
        media.update(url=self.media_url(key), width=1200, height=900)
        self.media[key] = media
        return media

    def photos(self, items: Iterable[str | bytes]) -> list[str]:
        """Media keys of new photos: each item is its bytes, or a name for a stand-in."""
        return [
            self.add_photo(i if isinstance(i, bytes) else PHOTO_BYTES)["media_key"] for i in items
        ]

    # -- posts ---------------------------------------------------------------------------

    def add_tweet(
        self,
        author: str,
        text: str,
        *,
        lang: str | None = None,
        media_keys: Sequence[str] = (),
        reply_to: str | None = None,
        retweet_of: str | None = None,
    ) -> Json:
        """Store a post with every field v2 has for it; return a copy."""
        # One reading of the clock: the id's time and created_at are the same millisecond.
        now = self.clock()
        tweet_id = self.new_id(now)
        tweet: Json = {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}
        tweet.update(author_id=author, created_at=iso(now), conversation_id=tweet_id)
        if lang is not None:
            tweet["lang"] = lang
        entities: Json = {}
        mentions = []
        for found in MENTION.finditer(text):
            mention: Json = {"start": found.start(), "end": found.end(), "username": found[1]}
            user = self.user_named(found[1])
            if user is not None:
                mention["id"] = user["id"]
            mentions.append(mention)
        if mentions:
            entities["mentions"] = mentions
        if media_keys:
            tweet["attachments"] = {"media_keys": list(media_keys)}
            if author != self.user_id:
                # A resident's photo shows in the text as a t.co link, as on X.
                link = f"https://t.co/{secrets.token_hex(5)}"
                start = len(text) + 1
                tweet["text"] = f"{text} {link}"
                entities["urls"] = [
                    {"start": start, "end": start + len(link), "url": link}
                    | {"expanded_url": link, "display_url": f"pic.x.com/{link[-10:]}"}
                    | {"media_key": media_keys[0]}
                ]
        if entities:
            tweet["entities"] = entities
        if reply_to is not None:
            parent = self.tweets[reply_to]
            tweet["conversation_id"] = parent["conversation_id"]
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
        if retweet_of is not None:
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": retweet_of}]
        self.tweets[tweet_id] = tweet
        return dict(tweet)

    def edit_tweet(self, tweet_id: str, text: str) -> Json:
        """A new version of a post: a new id, the whole edit history on every version."""
        original = self.tweets[tweet_id]
        keys = (original.get("attachments") or {}).get("media_keys", ())
        edited = self.add_tweet(original["author_id"], text, lang=original.get("lang"))
        if keys:
            self.tweets[edited["id"]]["attachments"] = {"media_keys": list(keys)}
        history = [*original["edit_history_tweet_ids"], edited["id"]]
        for version in history:
            self.tweets[version]["edit_history_tweet_ids"] = history
        for field in ("conversation_id", "in_reply_to_user_id", "referenced_tweets"):
            if field in original:
                self.tweets[edited["id"]][field] = original[field]
        return dict(self.tweets[edited["id"]])

    def mentions(self, user_id: str) -> list[Json]:
        """The latest version of posts by others that mention ``user_id``, newest first."""
        username = self.users[user_id]["username"].lower()
        found = [
            t
            for t in self.tweets.values()
            if t["author_id"] != user_id
            and t["edit_history_tweet_ids"][-1] == t["id"]
            and username in {m["username"].lower() for m in mentions_of(t)}
        ]
        return sorted(found, key=lambda t: -int(t["id"]))

    def replies_to(self, tweet_id: str) -> list[Json]:
        """The posts answering ``tweet_id``, oldest first."""
        answer = {"type": "replied_to", "id": tweet_id}
        found = [t for t in self.tweets.values() if answer in t.get("referenced_tweets", ())]
        return sorted(found, key=lambda t: int(t["id"]))

    def summoned(self, tweet_id: str) -> bool:
        """Whether the town may answer ``tweet_id``: its author mentioned the town there.

        Since 2026 X lets self-serve apps reply only where the post's author summoned
        the account; the town's own posts (a thread's next part) are always fine.
        """
        parent = self.tweets[tweet_id]
        author = parent["author_id"]
        return author == self.user_id or any(
            t["author_id"] == author
            and t["conversation_id"] == parent["conversation_id"]
            and self.handle.lower() in {m["username"].lower() for m in mentions_of(t)}
            for t in self.tweets.values()
        )

    # -- direct messages -----------------------------------------------------------------

    def add_dm(
        self, sender: str, recipient: str, text: str, *, media_keys: Sequence[str] = ()
    ) -> Json:
        """Store a ``MessageCreate`` event in the one-to-one conversation; return a copy."""
        now = self.clock()
        event_id = self.new_id(now)
        event: Json = {"id": event_id, "event_type": "MessageCreate", "text": text}
        event.update(
            sender_id=sender,
            dm_conversation_id=conversation_id(sender, recipient),
            created_at=iso(now),
        )
        if media_keys:
            event["attachments"] = {"media_keys": list(media_keys)}
        self.dm_events[event_id] = event
        return dict(event)

    def dms_of(self, user_id: str) -> list[Json]:
        """The DM events of every conversation ``user_id`` is in, newest first."""
        found = [
            e for e in self.dm_events.values() if user_id in e["dm_conversation_id"].split("-")
        ]
        return sorted(found, key=lambda e: -int(e["id"]))
