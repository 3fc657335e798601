"""Account Activity events as X pushes them to a webhook: posts and DMs in v1.1 format.

``{"for_user_id", "tweet_create_events": [post]}`` and ``{"for_user_id",
"direct_message_events": [event], "users": {...}}``. The v1.1 objects differ from v2:
``id_str``, a ``user`` object, ``entities.user_mentions`` with ``indices``, media under
``extended_entities``, dates as ``"Wed Nov 25 09:00:00 +0000 2026"``, and a post longer
than 140 characters cut in ``text`` with the whole of it in ``extended_tweet``.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from junbridge.testing.emulators.x_world import Json, XWorld, media_links, mentions_of


def account_activity(world: XWorld, item: Json) -> Json:
    """The event X would push to the town's webhook for a post or DM event in ``world``."""
    if "event_type" in item:
        event = world.dm_events[item["id"]]
        sender = event["sender_id"]
        ids = event["dm_conversation_id"].split("-")
        recipient = next((i for i in ids if i != sender), sender)
        return {
            "for_user_id": world.user_id,
            "direct_message_events": [v1_dm(world, event, recipient)],
            "users": {u: v1_user(world, u) for u in dict.fromkeys((sender, recipient))},
        }
    return {"for_user_id": world.user_id, "tweet_create_events": [v1_tweet(world, item["id"])]}


def v1_time(stamp: str) -> datetime:
    """A v2 ``created_at`` as a datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def v1_user(world: XWorld, user_id: str) -> Json:
    """A user object as v1.1 shows it."""
    user = world.users[user_id]
    return {
        "id": int(user_id),
        "id_str": user_id,
        "name": user["name"],
        "screen_name": user["username"],
        "protected": False,
        "verified": False,
        "created_at": "Sun Mar 01 10:00:00 +0000 2015",
    }


def v1_media(world: XWorld, key: str, link: str, start: int) -> Json:
    """A photo entity as v1.1 shows it, standing at ``link`` in the text."""
    media = world.media[key]
    return {
        "id": int(media["id"]),
        "id_str": media["id"],
        "indices": [start, start + len(link)],
        "media_url_https": media["url"],
        "url": link,
        "display_url": f"pic.x.com/{link[-10:]}",
        "expanded_url": link,
        "type": "photo",
        "sizes": {"large": {"w": media["width"], "h": media["height"], "resize": "fit"}},
    }


def v1_tweet(world: XWorld, tweet_id: str) -> Json:
    """A stored post as v1.1 shows it (compatibility mode)."""
    tweet = world.tweets[tweet_id]
    created = v1_time(tweet["created_at"])
    text = tweet["text"]
    entities: Json = {"hashtags": [], "urls": [], "symbols": [], "user_mentions": []}
    for mention in mentions_of(tweet):
        user = world.user_named(mention["username"]) or {"id": "0", "name": mention["username"]}
        entities["user_mentions"].append(
            {"screen_name": mention["username"], "name": user["name"], "id": int(user["id"])}
            | {"id_str": user["id"], "indices": [mention["start"], mention["end"]]}
        )
    post: Json = {
        "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "display_text_range": [0, len(text)],
        "source": '<a href="https://x.com" rel="nofollow">X Web App</a>',
        "truncated": False,
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "in_reply_to_screen_name": None,
        "user": v1_user(world, tweet["author_id"]),
        "is_quote_status": False,
        "entities": entities,
        "favorited": False,
        "retweeted": False,
        "filter_level": "low",
        "lang": tweet.get("lang", "und"),
        "timestamp_ms": str(int(created.timestamp() * 1000)),
    }
    for ref in tweet.get("referenced_tweets", ()):
        if ref["type"] == "replied_to":
            parent = world.tweets[ref["id"]]["author_id"]
            post.update(
                in_reply_to_status_id=int(ref["id"]),
                in_reply_to_status_id_str=ref["id"],
                in_reply_to_user_id=int(parent),
                in_reply_to_user_id_str=parent,
                in_reply_to_screen_name=world.users[parent]["username"],
            )
        elif ref["type"] == "retweeted":
            post["retweeted_status"] = v1_tweet(world, ref["id"])
    links = media_links(tweet)
    if links:
        media = [v1_media(world, u["media_key"], u["url"], u["start"]) for u in links]
        entities["media"] = media
        post["extended_entities"] = {"media": media}
    if len(text) > 140:
        # Compatibility mode: a long post is cut, its whole text in extended_tweet.
        post.update(text=text[:139] + "…", truncated=True, display_text_range=[0, 140])
        post["extended_tweet"] = {
            "full_text": text,
            "display_text_range": [0, len(text)],
            "entities": entities,
        }
        if links:
            post["extended_tweet"]["extended_entities"] = post["extended_entities"]
    return post


def v1_dm(world: XWorld, event: Json, recipient: str) -> Json:
    """A stored DM event as a v1.1 ``message_create`` event; a photo adds a t.co link."""
    data: Json = {
        "text": event["text"],
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
    }
    keys = (event.get("attachments") or {}).get("media_keys", ())
    if keys:
        link = f"https://t.co/{secrets.token_hex(5)}"
        start = len(data["text"]) + 1
        data["text"] += f" {link}"
        data["attachment"] = {"type": "media", "media": v1_media(world, keys[0], link, start)}
    return {
        "type": "message_create",
        "id": event["id"],
        "created_timestamp": str(_epoch_ms(v1_time(event["created_at"]))),
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": event["sender_id"],
            "message_data": data,
        },
    }


def _epoch_ms(when: datetime) -> int:
    """Milliseconds since the epoch, exactly (``timestamp() * 1000`` can lose one to rounding)."""
    return int(when.replace(microsecond=0).timestamp()) * 1000 + when.microsecond // 1000
