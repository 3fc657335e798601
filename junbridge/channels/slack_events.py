"""Slack inbound: Events API and interactivity bodies as :class:`Message` values.

The dedupe key of a message is ``{channel}:{ts}``: Slack's retries of one event, and the
``app_mention`` + ``message`` pair it sends for one @-mention, all become one message.
Joins, bot posts (ours and other apps'), deletions and other hidden events are ignored; an
edit of the resident's text is an ``EDIT`` of the original; a button press is a ``BUTTON``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from junbridge.channels.base import InvalidPayload
from junbridge.model import Attachment, Message, MessageKind, Sender
from junbridge.text import storable

CHANNEL = "slack"
# Message subtypes written by a person; everything else (joins, topics, bots...) is noise.
PEOPLE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
ACTION_PREFIX = "choice-"

_ENTITY = re.compile(r"<([^<>]*)>")
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s*")


def parse(body: Mapping[str, Any], *, bot_user_id: str | None = None) -> Message | None:
    """The message in an Events API body or interactivity payload; None if it is to be ignored.

    ``bot_user_id`` is our bot's user (from ``auth.test``): its posts are ignored and its
    mentions removed from the text. Raises :class:`InvalidPayload` when ``body`` is malformed.
    """
    if isinstance(body.get("payload"), str):
        # The interactivity URL receives the form field ``payload=<JSON>``.
        try:
            body = json.loads(body["payload"])
        except ValueError as exc:
            raise InvalidPayload(f"Slack interactivity payload is not JSON: {exc}") from None
    if not isinstance(body, Mapping):
        raise InvalidPayload("a Slack payload is a JSON object")
    kind = body.get("type")
    if not isinstance(kind, str):
        raise InvalidPayload("not a Slack Events API or interactivity body: no 'type'")
    try:
        if kind == "event_callback":
            return parse_event(body, bots=_bots(body, bot_user_id))
        if kind == "block_actions":
            return parse_action(body)
    except (AttributeError, TypeError, KeyError) as exc:
        # A field of the wrong JSON type somewhere inside: the payload is not Slack's.
        raise InvalidPayload(f"malformed Slack {kind}: {type(exc).__name__}: {exc}") from None
    return None  # url_verification, app_rate_limited, view submissions...


def parse_event(body: Mapping[str, Any], *, bots: Collection[str] = ()) -> Message | None:
    """A ``message`` or ``app_mention`` event as a message."""
    event = _object(body, "event", "event_callback")
    if event.get("type") not in ("message", "app_mention"):
        return None
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return parse_edit(body, event, bots=bots)
    if subtype not in PEOPLE_SUBTYPES or event.get("hidden") or _from_bot(event, bots):
        return None
    channel = _text(event, "channel", "event")
    ts = _text(event, "ts", "event")
    private = _is_private(event, channel)
    files = tuple(_attachment(f) for f in event.get("files") or ())
    # Text, ids, file names and the raw body stored with the message: all repaired alike.
    return storable(
        Message(
            channel=CHANNEL,
            platform_id=f"{channel}:{ts}",
            conversation=channel,
            sender=Sender(id=_text(event, "user", "event"), handle=event["user"]),
            sent_at=timestamp(ts),
            text=plain(
                str(event.get("text") or ""), bots=bots, mention=event["type"] == "app_mention"
            ),
            kind=_kind(files),
            is_private=private,
            attachments=files,
            thread=event.get("thread_ts") or (None if private else ts),
            raw=body,
        )
    )


def parse_edit(
    body: Mapping[str, Any], event: Mapping[str, Any], *, bots: Collection[str] = ()
) -> Message | None:
    """A ``message_changed`` event: the resident edited the text of an earlier message.

    Slack also sends ``message_changed`` when a link preview is added or a thread gets a
    reply; those carry no ``edited`` mark and are ignored, as are edits that keep the text.
    """
    new = _object(event, "message", "message_changed event")
    if "edited" not in new or new.get("subtype") not in PEOPLE_SUBTYPES or _from_bot(new, bots):
        return None
    previous = event.get("previous_message")
    if isinstance(previous, Mapping) and previous.get("text") == new.get("text"):
        return None
    channel = _text(event, "channel", "event")
    original = new.get("ts") or (previous or {}).get("ts")
    if not isinstance(original, str):
        raise InvalidPayload("Slack message_changed event has no message.ts")
    changed = event.get("event_ts") or event.get("ts")
    if not isinstance(changed, str):
        raise InvalidPayload("Slack message_changed event has no event_ts")
    private = _is_private(event, channel)
    edited = new["edited"]
    return storable(
        Message(
            channel=CHANNEL,
            platform_id=f"{channel}:{original}:edit:{changed}",
            conversation=channel,
            sender=Sender(id=_text(new, "user", "edited message"), handle=new["user"]),
            sent_at=timestamp(edited.get("ts") if isinstance(edited, Mapping) else changed),
            text=plain(str(new.get("text") or ""), bots=bots),
            kind=MessageKind.EDIT,
            is_private=private,
            attachments=tuple(_attachment(f) for f in new.get("files") or ()),
            thread=new.get("thread_ts") or (None if private else original),
            edit_of=f"{channel}:{original}",
            raw=body,
        )
    )


def parse_action(body: Mapping[str, Any]) -> Message | None:
    """A press on one of our buttons (``action_id`` ``choice-N``) as a ``BUTTON`` message."""
    actions = body.get("actions")
    if not isinstance(actions, list):
        raise InvalidPayload("Slack block_actions payload has no actions")
    ours = [a for a in actions if str(a.get("action_id", "")).startswith(ACTION_PREFIX)]
    if not ours:
        return None
    action = ours[0]
    user = _object(body, "user", "block_actions payload")
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or message.get("ts")
    if not isinstance(channel, str) or not isinstance(message_ts, str):
        raise InvalidPayload("Slack block_actions payload has no channel or message")
    action_ts = _text(action, "action_ts", "action")
    private = channel.startswith("D")
    thread = container.get("thread_ts") or message.get("thread_ts")
    label = (action.get("text") or {}).get("text")
    return storable(
        Message(
            channel=CHANNEL,
            platform_id=f"action:{message_ts}:{action_ts}",
            conversation=channel,
            sender=Sender(id=_text(user, "id", "user"), handle=user["id"]),
            sent_at=timestamp(action_ts),
            text=str(label or ""),
            kind=MessageKind.BUTTON,
            is_private=private,
            choice=_text(action, "value", "button"),
            thread=thread or (None if private else message_ts),
            raw=body,
        )
    )


def plain(text: str, *, bots: Collection[str] = (), mention: bool = False) -> str:
    """Slack's message text as a person reads it: entities resolved, our bot's @ removed.

    ``mention`` also drops the leading @-mention an ``app_mention`` event always starts with.
    """
    if mention:
        text = _LEADING_MENTION.sub("", text, count=1)

    def entity(match: re.Match[str]) -> str:
        inside = match.group(1)
        target, _, label = inside.partition("|")
        if target.startswith("@"):
            return "" if target[1:] in bots else f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            # <!here>, <!channel>, <!subteam^S1|@team>, <!date^...|fallback>
            return label or f"@{target[1:].split('^')[0]}"
        if target.startswith("mailto:"):
            return label or target.removeprefix("mailto:")
        return target if not label or label in target else f"{label} ({target})"

    text = _ENTITY.sub(entity, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def timestamp(ts: Any) -> datetime:
    """A Slack ``ts`` (``"1595926230.009600"``) as a UTC datetime."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        raise InvalidPayload(f"not a Slack timestamp: {ts!r}") from None


def _bots(body: Mapping[str, Any], bot_user_id: str | None) -> set[str]:
    """Our bot's user ids: the one ``auth.test`` named and the bot in ``authorizations``."""
    bots = {bot_user_id} if bot_user_id else set()
    for authorization in body.get("authorizations") or ():
        if isinstance(authorization, Mapping) and authorization.get("is_bot"):
            bots.add(str(authorization.get("user_id")))
    return bots


def _from_bot(event: Mapping[str, Any], bots: Collection[str]) -> bool:
    return bool(event.get("bot_id")) or event.get("user") in bots


def _is_private(event: Mapping[str, Any], channel: str) -> bool:
    kind = event.get("channel_type")
    return kind == "im" if kind else channel.startswith("D")


def _kind(files: tuple[Attachment, ...]) -> MessageKind:
    """PHOTO if a photo came, else what the first file is (an audio clip is a VOICE)."""
    if any(f.kind == "photo" for f in files):
        return MessageKind.PHOTO
    return MessageKind.of_file(files[0].mime_type) if files else MessageKind.TEXT


def _attachment(file: Mapping[str, Any]) -> Attachment:
    mime = file.get("mimetype")
    return Attachment(
        kind="photo" if str(mime).startswith("image/") else "file",
        platform_ref=_text(file, "id", "file"),
        url=file.get("url_private"),
        name=file.get("name"),
        mime_type=mime,
    )


def _object(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if not isinstance(value, Mapping):
        raise InvalidPayload(f"Slack {where} has no {key!r} object")
    return value


def _text(parent: Mapping[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"Slack {where} has no {key!r}")
    return value
