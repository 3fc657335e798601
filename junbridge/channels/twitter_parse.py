"""X (Twitter) payloads as Messages: API v2 responses and Account Activity events.

Two shapes come in. Polling reads API v2 responses, ``{"data": [...], "includes": {"users",
"media"}, "meta"}``: mentions (``GET /2/users/:id/mentions``) or direct-message events
(``GET /2/dm_events``); a single-object response (``{"data": {...}, "includes"}``) is one
item. Webhooks receive Account Activity events, ``{"for_user_id", "tweet_create_events":
[...]}`` or ``{"for_user_id", "direct_message_events": [...], "users": {...}}``, whose
posts are in the older v1.1 format.

A mention becomes a public Message: ``platform_id`` and ``thread`` are the post's id (the
post to answer), ``conversation`` its thread root (``conversation_id``). A direct message is
private: ``platform_id`` is the event id, ``conversation`` the one-to-one
``dm_conversation_id`` (``"smaller_user_id-larger_user_id"``). Our own posts, retweets and
group conversations are ignored.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import tweepy  # type: ignore[import-untyped]

from junbridge.channels.base import InvalidPayload
from junbridge.channels.twitter_render import is_dm_conversation
from junbridge.model import Attachment, Message, MessageKind, Sender
from junbridge.text import storable

log = logging.getLogger(__name__)

CHANNEL = "twitter"
# X ids are "snowflakes": milliseconds since this epoch, shifted left by 22 bits.
SNOWFLAKE_EPOCH_MS = 1288834974657
# "und" undetermined, "zxx" no text, "art" only emoji; q-codes tag hashtags, mentions, links.
NO_LANGUAGE = frozenset({"und", "zxx", "art"})
LEADING_MENTIONS = re.compile(r"^(?:\s*\.?@\w{1,15}\b[:,]?)+\s*")
ACTIVITY_KEYS = ("for_user_id", "tweet_create_events", "direct_message_events")

Json = Mapping[str, Any]


def snowflake_time(snowflake: str) -> datetime:
    """When an X id was made: its top bits are milliseconds since X's epoch."""
    ms = (int(snowflake) >> 22) + SNOWFLAKE_EPOCH_MS
    # Whole seconds, then the milliseconds: no float division to round.
    return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)


def language(code: str | None) -> str | None:
    """``lang`` as a language, or None when X could not tell ("und", "zxx", "qme"...)."""
    if not code or code in NO_LANGUAGE or code.startswith("q"):
        return None
    return code


def clean_text(text: str, drop: Iterable[str] = ()) -> str:
    """The text without its leading @mentions and without the t.co links of its media."""
    for url in drop:
        text = text.replace(url, "")
    return LEADING_MENTIONS.sub("", text).strip()


def parse_all(payload: object, *, own_id: str | None = None) -> list[Message]:
    """Every resident's message in ``payload``, oldest first; see the module docstring."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload("an X payload is a JSON object")
    if any(key in payload for key in ACTIVITY_KEYS):
        return activity_messages(payload, own_id=own_id)
    if "data" in payload or "meta" in payload:
        return messages_of(response_of(payload), own_id=own_id)
    raise InvalidPayload(
        "not an X API v2 response ({data, includes}) nor an Account Activity event"
    )


# -- API v2 --------------------------------------------------------------------------------


def response_of(payload: Json) -> Any:
    """A ``tweepy.Response`` built from ``payload`` with tweepy's public models.

    This is what ``AsyncClient`` itself builds from a response body, so a stored payload
    is parsed exactly like a polled one; tweepy's models also check the required fields.
    """
    data = payload.get("data")
    items = data if isinstance(data, list) else [] if data is None else [data]
    if not all(isinstance(item, Mapping) for item in items):
        raise InvalidPayload("X response 'data' must hold objects")
    model = tweepy.DirectMessageEvent if any("event_type" in i for i in items) else tweepy.Tweet
    models = {"users": tweepy.User, "media": tweepy.Media, "tweets": tweepy.Tweet}
    try:
        with warnings.catch_warnings():
            # Older samples lack edit_history_tweet_ids, which nothing here needs.
            warnings.filterwarnings("ignore", "Tweet data missing default", RuntimeWarning)
            built = [model(dict(item)) for item in items]
            includes = {
                key: [models[key](dict(x)) for x in value] if key in models else value
                for key, value in (payload.get("includes") or {}).items()
            }
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidPayload(f"X response item lacks or mangles a field: {exc}") from None
    return tweepy.Response(built, includes, payload.get("errors", []), payload.get("meta", {}))


def messages_of(response: Any, *, own_id: str | None = None, strict: bool = True) -> list[Message]:
    """The messages in a ``tweepy.Response`` of mentions or DM events, oldest first.

    An item that cannot be a message raises :class:`InvalidPayload`, or with
    ``strict=False`` is logged and skipped (a poller must not stall on one bad post).
    """
    data = response.data
    items: list[Any] = data if isinstance(data, list) else [] if data is None else [data]
    includes = response.includes or {}
    users = {u.data["id"]: u.data for u in includes.get("users", ())}
    media = {m.data["media_key"]: m.data for m in includes.get("media", ())}
    out = []
    for item in sorted(items, key=lambda i: int(i.data["id"])):
        try:
            if isinstance(item, tweepy.DirectMessageEvent):
                message = dm_event_message(item.data, users, media, own_id=own_id)
            else:
                message = tweet_message(item.data, users, media, own_id=own_id)
        except InvalidPayload as exc:
            if strict:
                raise
            log.warning("X item %s skipped: %s", item.data.get("id"), exc)
            continue
        if message is not None:
            out.append(message)
    return out


def tweet_message(
    tweet: Json, users: Json, media: Json, *, own_id: str | None = None
) -> Message | None:
    """A v2 post that mentions us as a public Message; None for ours and for retweets."""
    tweet_id = str(tweet["id"])
    author = tweet.get("author_id")
    if author is None:
        raise InvalidPayload(
            f"post {tweet_id} has no author_id: the response was fetched without "
            "expansions=author_id, so no resident can be told apart"
        )
    author = str(author)
    if author == own_id:
        return None
    if any(ref.get("type") == "retweeted" for ref in tweet.get("referenced_tweets") or ()):
        return None
    keys = [str(k) for k in (tweet.get("attachments") or {}).get("media_keys", ())]
    media_links = [
        u["url"] for u in (tweet.get("entities") or {}).get("urls", ()) if u.get("media_key")
    ]
    # A post past 280 characters (a "note tweet") carries its whole text apart.
    text = (tweet.get("note_tweet") or {}).get("text") or tweet["text"]
    user = users.get(author, {})
    history = [str(i) for i in tweet.get("edit_history_tweet_ids") or ()]
    edited = bool(history) and history[0] != tweet_id
    return _message(
        platform_id=tweet_id,
        conversation=str(tweet.get("conversation_id") or tweet_id),
        thread=tweet_id,
        sender=Sender(
            id=author,
            handle=user.get("username"),
            name=user.get("name"),
            language=language(tweet.get("lang")),
        ),
        sent_at=_iso(tweet.get("created_at")) or snowflake_time(tweet_id),
        text=clean_text(text, media_links),
        attachments=tuple(_v2_attachment(key, media.get(key)) for key in keys),
        edit_of=history[0] if edited else None,
        private=False,
        raw=tweet,
    )


def dm_event_message(
    event: Json, users: Json, media: Json, *, own_id: str | None = None
) -> Message | None:
    """A v2 direct-message event as a private Message; None for ours and for group chats."""
    conversation = str(event.get("dm_conversation_id") or "")
    sender = str(event.get("sender_id") or "")
    if event.get("event_type") != "MessageCreate" or not sender or sender == own_id:
        return None
    if not is_dm_conversation(conversation):
        return None  # group conversations are not a town's front door
    keys = [str(k) for k in (event.get("attachments") or {}).get("media_keys", ())]
    user = users.get(sender, {})
    return _message(
        platform_id=str(event["id"]),
        conversation=conversation,
        thread=None,
        sender=Sender(id=sender, handle=user.get("username"), name=user.get("name")),
        sent_at=_iso(event.get("created_at")) or snowflake_time(str(event["id"])),
        text=clean_text(event.get("text") or ""),
        attachments=tuple(_v2_attachment(key, media.get(key)) for key in keys),
        private=True,
        raw=event,
    )


def _v2_attachment(key: str, media: Json | None) -> Attachment:
    media = media or {}
    if media.get("type", "photo") == "photo":
        return Attachment(kind="photo", platform_ref=key, url=media.get("url"))
    # Videos and GIFs: the still X shows for them, kept as a file.
    return Attachment(
        kind="file", platform_ref=key, url=media.get("preview_image_url"), name=media["type"]
    )


# -- Account Activity (webhooks) -------------------------------------------------------------


def activity_messages(event: Json, *, own_id: str | None = None) -> list[Message]:
    """The messages in an Account Activity event, oldest first; other activity is ignored."""
    own_id = own_id or _str(event.get("for_user_id"))
    out: list[Message] = []
    for tweet in _objects(event, "tweet_create_events"):
        message = activity_tweet_message(tweet, own_id=own_id)
        if message is not None:
            out.append(message)
    users = event.get("users") or {}
    for dm in _objects(event, "direct_message_events"):
        message = activity_dm_message(dm, users, own_id=own_id)
        if message is not None:
            out.append(message)
    return sorted(out, key=lambda m: int(m.platform_id))


def activity_tweet_message(tweet: Json, *, own_id: str | None) -> Message | None:
    """A v1.1-format post from ``tweet_create_events``; None unless a resident mentions us.

    These posts carry no ``conversation_id``: a reply's thread root is looked up by the
    channel; here ``conversation`` is the post itself.
    """
    try:
        tweet_id = str(tweet["id_str"])
        user = tweet["user"]
        author = str(user["id_str"])
    except (KeyError, TypeError):
        raise InvalidPayload("tweet_create_events item lacks id_str or user.id_str") from None
    if author == own_id or "retweeted_status" in tweet:
        return None
    extended = tweet.get("extended_tweet") or {}
    entities = extended.get("entities") or tweet.get("entities") or {}
    mentioned = {str(m.get("id_str")) for m in entities.get("user_mentions", ())}
    addressed = own_id in mentioned or tweet.get("in_reply_to_user_id_str") == own_id
    if own_id is not None and not addressed:
        return None  # activity on our account that is not addressed to us
    media = extended.get("extended_entities") or tweet.get("extended_entities") or entities
    found = media.get("media", ())
    text = extended.get("full_text") or tweet.get("full_text") or tweet.get("text") or ""
    sent_at = _ms(tweet.get("timestamp_ms")) or _v1_time(tweet.get("created_at"))
    return _message(
        platform_id=tweet_id,
        conversation=tweet_id,
        thread=tweet_id,
        sender=Sender(
            id=author,
            handle=user.get("screen_name"),
            name=user.get("name"),
            language=language(tweet.get("lang")),
        ),
        sent_at=sent_at or snowflake_time(tweet_id),
        text=clean_text(text, [m["url"] for m in found if m.get("url")]),
        attachments=tuple(_v1_attachment(m) for m in found),
        private=False,
        raw=tweet,
    )


def activity_dm_message(event: Json, users: Json, *, own_id: str | None) -> Message | None:
    """A ``direct_message_events`` item (``message_create``) as a private Message."""
    if event.get("type") != "message_create":
        return None
    try:
        create = event["message_create"]
        sender = str(create["sender_id"])
        recipient = str(create["target"]["recipient_id"])
        event_id = str(event["id"])
    except (KeyError, TypeError):
        raise InvalidPayload("direct_message_events item lacks id, sender or target") from None
    if sender == own_id:
        return None
    data = create.get("message_data") or {}
    found = [a["media"] for a in [data.get("attachment") or {}] if a.get("type") == "media"]
    user = users.get(sender) or {}
    low, high = sorted((sender, recipient), key=int)
    return _message(
        platform_id=event_id,
        conversation=f"{low}-{high}",
        thread=None,
        sender=Sender(id=sender, handle=user.get("screen_name"), name=user.get("name")),
        sent_at=_ms(event.get("created_timestamp")) or snowflake_time(event_id),
        text=clean_text(data.get("text") or "", [m["url"] for m in found if m.get("url")]),
        attachments=tuple(_v1_attachment(m) for m in found),
        private=True,
        raw=event,
    )


def _v1_attachment(media: Json) -> Attachment:
    # v1.1 objects have no media_key; X's keys for photos are "3_" + the media id.
    photo = media.get("type", "photo") == "photo"
    key = media.get("media_key") or f"{3 if photo else 7}_{media.get('id_str')}"
    return Attachment(
        kind="photo" if photo else "file", platform_ref=str(key), url=media.get("media_url_https")
    )


# -- shared --------------------------------------------------------------------------------


def _message(
    *,
    platform_id: str,
    conversation: str,
    thread: str | None,
    sender: Sender,
    sent_at: datetime,
    text: str,
    attachments: Sequence[Attachment],
    private: bool,
    raw: Json,
    edit_of: str | None = None,
) -> Message:
    kind = MessageKind.TEXT
    if edit_of is not None:
        kind = MessageKind.EDIT
    elif attachments and not text:
        # X sends photos, videos and GIFs; of the last two only their still is kept.
        photo = any(a.kind == "photo" for a in attachments)
        kind = MessageKind.PHOTO if photo else MessageKind.VIDEO
    # Text, names, ids and the raw post stored with the message: all repaired alike.
    return storable(
        Message(
            channel=CHANNEL,
            platform_id=platform_id,
            conversation=conversation,
            thread=thread,
            sender=sender,
            sent_at=sent_at,
            text=text,
            kind=kind,
            is_private=private,
            attachments=tuple(attachments),
            edit_of=edit_of,
            raw=raw,
        )
    )


def _objects(event: Json, key: str) -> list[Json]:
    items = event.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise InvalidPayload(f"Account Activity '{key}' must be a list of objects")
    return items


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise InvalidPayload(f"bad created_at {value!r}") from None


def _ms(value: object) -> datetime | None:
    if value is None or not str(value).isdigit():
        return None
    return datetime.fromtimestamp(int(str(value)) / 1000, UTC)


def _v1_time(value: str | None) -> datetime | None:
    # v1.1 dates read "Wed Nov 25 09:00:00 +0000 2026".
    if not value:
        return None
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except ValueError:
        raise InvalidPayload(f"bad created_at {value!r}") from None
