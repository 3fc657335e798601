"""Slack outbound: a Reply as ``chat.postMessage`` arguments, mrkdwn text and Block Kit buttons.

Residents' text is escaped so that ``<!channel>`` is only ever text; ``Reply.choices`` become
buttons whose ``action_id`` is ``choice-N`` and whose ``value`` comes back on a press.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from junbridge.markup import Break, RenderError, Text, Token, destination, parse, split
from junbridge.media import shown_name
from junbridge.model import Choice, Reply

# Block Kit limits (api.slack.com/reference/block-kit).
SECTION_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTIONS_LIMIT = 25
# Fewer than the 50 blocks a message may hold, and 10 x 3000 characters stays under the
# 40,000 at which Slack truncates the fallback text.
SECTIONS_PER_MESSAGE = 10

_EDGES = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)


def escape(text: str) -> str:
    """Slack's three control characters escaped, so ``<!channel>`` is only ever text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack member ids: U or W, then capitals and digits. Anything else stays plain text.
_USER_ID = re.compile(r"(?<![\w<])@([UW][A-Z0-9]{6,})\b")


def render_mrkdwn(tokens: Sequence[Token]) -> str:
    """Slack mrkdwn for ``tokens``: ``*bold*``, ``<url|label>``, text escaped."""
    out: list[str] = []
    for token in tokens:
        if isinstance(token, Break):
            out.append("\n")
        elif isinstance(token, Text):
            # "@U0ELECTRIC" (a staff handle from channels.yaml) becomes a mention that notifies.
            text = _USER_ID.sub(r"<@\1>", escape(token.text))
            if token.bold and text.strip():
                # Slack only sees bold when the asterisks touch the words, so spaces go outside.
                lead, core, trail = _EDGES.fullmatch(text).groups()  # type: ignore[union-attr]
                text = f"{lead}*{core}*{trail}"
            out.append(text)
        else:
            url = escape(token.url).replace("|", "%7C")
            link = f"<{url}|{escape(token.label)}>"
            out.append(f"*{link}*" if token.bold else link)
    return "".join(out)


def _mrkdwn_length(tokens: Sequence[Token]) -> int:
    return len(render_mrkdwn(tokens))


def buttons(choices: Sequence[Choice]) -> list[dict[str, Any]]:
    """Actions blocks (25 buttons each) with ``action_id`` ``choice-N`` and the choice's value."""
    elements = []
    for index, choice in enumerate(choices):
        if len(choice.value) > BUTTON_VALUE_LIMIT:
            raise RenderError(
                f"choice {choice.label!r}: value is {len(choice.value)} characters; Slack "
                f"button values allow {BUTTON_VALUE_LIMIT}"
            )
        label = choice.label
        if len(label) > BUTTON_TEXT_LIMIT:
            label = label[: BUTTON_TEXT_LIMIT - 1] + "…"
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": label, "emoji": True},
                "action_id": f"choice-{index}",
                "value": choice.value,
            }
        )
    return [
        {"type": "actions", "elements": elements[i : i + ACTIONS_LIMIT]}
        for i in range(0, len(elements), ACTIONS_LIMIT)
    ]


def render(reply: Reply) -> list[dict[str, Any]]:
    """``chat.postMessage`` keyword arguments, one dict per message.

    Each has ``channel``, ``text`` (the notification fallback) and ``blocks``; ``thread_ts``
    when the reply belongs in a thread. A photo and the buttons follow the last text.
    """
    channel, thread = destination(reply)
    measure: Callable[[Sequence[Token]], int] = _mrkdwn_length
    sections = [render_mrkdwn(part) for part in split(parse(reply.text), SECTION_LIMIT, measure)]
    tail: list[dict[str, Any]] = []
    if reply.photo is not None:
        alt = reply.photo.name or "photo"
        source: dict[str, Any] = (
            {"image_url": reply.photo.url}
            if reply.photo.url
            else {"slack_file": {"id": reply.photo.platform_ref}}
        )
        tail.append({"type": "image", "alt_text": alt, **source})
    tail += buttons(reply.choices)
    if not sections and not tail:
        raise RenderError("a Slack message needs text, a photo or buttons")
    groups = [
        sections[i : i + SECTIONS_PER_MESSAGE]
        for i in range(0, len(sections), SECTIONS_PER_MESSAGE)
    ] or [[]]
    # Slack shows ``text`` in notifications and screen readers; a message of blocks only
    # still needs a few words there.
    bare = (reply.photo.name if reply.photo else None) or ("photo" if reply.photo else "options")
    messages = []
    for number, group in enumerate(groups, start=1):
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in group
        ]
        if number == len(groups):
            blocks += tail
        message: dict[str, Any] = {
            "channel": channel,
            "text": "\n".join(group) or bare,
            "blocks": blocks,
        }
        if thread is not None:
            message["thread_ts"] = thread
        messages.append(message)
    return messages


def preview(reply: Reply) -> list[str]:
    """The mrkdwn of each message, a photo as ``[photo NAME]``, buttons as ``[ label ]``."""
    shown = []
    for message in render(reply):
        lines = []
        for block in message["blocks"]:
            if block["type"] == "section":
                lines.append(block["text"]["text"])
            elif block["type"] == "image":
                source = block.get("image_url") or block["slack_file"]["id"]
                lines.append(f"[photo {shown_name(reply.photo) if reply.photo else source}]")
            else:
                lines.append(" ".join(f"[ {b['text']['text']} ]" for b in block["elements"]))
        shown.append("\n".join(lines))
    return shown
