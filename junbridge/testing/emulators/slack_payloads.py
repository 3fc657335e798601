"""What Slack sends an app: Events API bodies and interactivity payloads, built to its shapes.

The shapes follow the real captured payloads in ``tests/fixtures/slack/`` (bolt-python's own
test bodies) and the Events API reference: an ``event_callback`` wrapper with
``authorizations``, ``message`` events with ``channel_type``, ``rich_text`` blocks and
``client_msg_id``, ``file_share`` with ``files[]``, ``message_changed`` with ``edited`` and
``previous_message``, and ``block_actions`` with ``container``, ``message`` and ``actions``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """The workspace and app an emulator plays: who the bot is, where events come from."""

    team_id: str
    app_id: str
    bot_user_id: str
    bot_id: str
    verification_token: str = "jun-emulator-verification-token"
    domain: str = "jun"


def rich_text(text: str) -> list[dict[str, Any]]:
    """The ``rich_text`` block Slack's clients attach to what a person types."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


def person_message(
    *,
    identity: Identity,
    user: str,
    text: str,
    ts: str,
    channel: str,
    channel_type: str,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
) -> dict[str, Any]:
    """A ``message`` event as a person's client sends it (no subtype)."""
    event: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "team": identity.team_id,
        "blocks": rich_text(text),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id or user
    event.update(channel=channel, event_ts=ts, channel_type=channel_type)
    return event


def app_mention(*, identity: Identity, message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``app_mention`` event Slack sends beside the ``message`` event that mentions us."""
    event = {
        "client_msg_id": message["client_msg_id"],
        "type": "app_mention",
        "text": message["text"],
        "user": message["user"],
        "ts": message["ts"],
        "team": identity.team_id,
        "channel": message["channel"],
        "event_ts": message["event_ts"],
    }
    if "thread_ts" in message:
        event["thread_ts"] = message["thread_ts"]
    return event


def file_object(
    *,
    identity: Identity,
    file_id: str,
    user: str,
    name: str,
    mimetype: str,
    size: int,
    created: int,
    base_url: str,
) -> dict[str, Any]:
    """A ``files[]`` entry; ``url_private`` points at the emulator, which serves the bytes."""
    private = f"{base_url}/files-pri/{identity.team_id}-{file_id}/{name}"
    return {
        "id": file_id,
        "created": created,
        "timestamp": created,
        "name": name,
        "title": name,
        "mimetype": mimetype,
        "filetype": name.rsplit(".", 1)[-1].lower(),
        "pretty_type": name.rsplit(".", 1)[-1].upper(),
        "user": user,
        "editable": False,
        "size": size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": True,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": private,
        "url_private_download": private.replace(f"{file_id}/", f"{file_id}/download/"),
        "permalink": f"https://{identity.domain}.slack.com/files/{user}/{file_id}/{name}",
        "has_rich_preview": False,
    }


def message_changed(
    *, identity: Identity, old: Mapping[str, Any], text: str, ts: str
) -> dict[str, Any]:
    """``message_changed``: the author edited ``old``'s text at ``ts``."""
    new = {
        key: old[key]
        for key in ("client_msg_id", "type", "user", "team", "thread_ts", "files")
        if key in old
    }
    new.update(
        text=text,
        edited={"user": old["user"], "ts": ts},
        blocks=rich_text(text),
        ts=old["ts"],
        source_team=identity.team_id,
        user_team=identity.team_id,
    )
    previous = {k: v for k, v in old.items() if k not in ("channel", "event_ts", "channel_type")}
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": new,
        "previous_message": previous,
        "channel": old["channel"],
        "hidden": True,
        "ts": ts,
        "event_ts": ts,
        "channel_type": old["channel_type"],
    }


def channel_join(
    *, user: str, channel: str, channel_type: str, ts: str, inviter: str | None = None
) -> dict[str, Any]:
    """The ``channel_join`` message Slack posts when someone joins a channel."""
    event = {
        "type": "message",
        "subtype": "channel_join",
        "ts": ts,
        "user": user,
        "text": f"<@{user}> has joined the channel",
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if inviter:
        event["inviter"] = inviter
    return event


def bot_message(
    *, identity: Identity, posted: Mapping[str, Any], channel_type: str
) -> dict[str, Any]:
    """The ``message`` event for a message our own app posted (the echo bolt filters out)."""
    event = {k: v for k, v in posted.items() if k != "channel"}
    event.update(
        bot_id=identity.bot_id,
        app_id=identity.app_id,
        user=identity.bot_user_id,
        team=identity.team_id,
        bot_profile={
            "id": identity.bot_id,
            "app_id": identity.app_id,
            "name": "junbridge",
            "deleted": False,
            "team_id": identity.team_id,
        },
        channel=posted["channel"],
        event_ts=posted["ts"],
        channel_type=channel_type,
    )
    return event


def event_callback(*, identity: Identity, event: Mapping[str, Any]) -> dict[str, Any]:
    """The Events API wrapper around one event, as delivered to the request URL."""
    seconds = int(float(event.get("event_ts") or event["ts"]))
    return {
        "token": identity.verification_token,
        "team_id": identity.team_id,
        "api_app_id": identity.app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": seconds,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": identity.team_id,
                "user_id": identity.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex,
    }


def block_actions(
    *,
    identity: Identity,
    user: Mapping[str, Any],
    message: Mapping[str, Any],
    channel_name: str,
    button: Mapping[str, Any],
    block_id: str,
    action_ts: str,
    response_url: str,
) -> dict[str, Any]:
    """The interactivity payload of a press on ``button`` in ``message`` (one we posted)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": message["channel"],
        "is_ephemeral": False,
    }
    if "thread_ts" in message:
        container["thread_ts"] = message["thread_ts"]
    shown = {k: v for k, v in message.items() if k != "channel"}
    shown.update(bot_id=identity.bot_id, user=identity.bot_user_id, app_id=identity.app_id)
    return {
        "type": "block_actions",
        "user": {
            "id": user["id"],
            "username": user["name"],
            "name": user["name"],
            "team_id": identity.team_id,
        },
        "api_app_id": identity.app_id,
        "token": identity.verification_token,
        "container": container,
        "trigger_id": f"{action_ts}.{uuid.uuid4().hex[:12]}",
        "team": {"id": identity.team_id, "domain": identity.domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message["channel"], "name": channel_name},
        "message": shown,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": block_id,
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }


def find_button(
    blocks: Sequence[Mapping[str, Any]], value: str
) -> tuple[Mapping[str, Any], str] | None:
    """The button whose value is ``value`` in ``blocks``, with its block's id."""
    for block in blocks:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", ()):
            if element.get("type") == "button" and element.get("value") == value:
                return element, str(block.get("block_id") or "")
    return None
