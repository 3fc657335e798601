"""X (Twitter) replies as API v2 post and direct-message bodies, in plain text.

X has no markup, so bold is dropped and a link reads ``label url``. Public replies count 280
weighted characters (a URL is 23, an emoji 2, as the official twitter-text rules say); longer
ones become a numbered thread. Direct messages take up to 10,000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from junbridge.channels.twitter_length import parse_tweet
from junbridge.markup import (
    BREAK,
    Link,
    RenderError,
    Text,
    Token,
    destination,
    parse,
    plain,
    split,
)
from junbridge.media import shown_name
from junbridge.model import Choice, Reply

POST_LIMIT = 280
DM_LIMIT = 10_000
# A public answer is about this many posts' worth of text; the rest is read on the
# request's page (the parts break between sentences and words, so one more may start).
MAX_POSTS = 4
# Under numbered choices, in the reader's language; the first is for a reply with none known.
CHOICE_HINTS = {"es": "Responde con el número", "en": "Reply with the number"}
DM_CONVERSATION = re.compile(r"\d+-\d+")


def weighted_length(text: str) -> int:
    """The length X counts for ``text``: URLs 23, emoji and CJK 2, most letters 1."""
    return int(parse_tweet(text).weightedLength)


def is_valid_post(text: str) -> bool:
    """Whether X accepts ``text`` as a post: not empty, not too long, no invalid characters."""
    return bool(parse_tweet(text).valid)


def is_dm_conversation(conversation: str) -> bool:
    """Whether ``conversation`` is a one-to-one DM conversation id (``"smaller-larger"``).

    Tweet ids are plain numbers; X names a one-to-one conversation by its two user ids.
    """
    return DM_CONVERSATION.fullmatch(conversation) is not None


def text_of(tokens: Sequence[Token]) -> str:
    """Plain text as X shows it: no bold, a link as ``label url``."""
    return plain(tokens, link="{label} {url}")


def with_choices(tokens: Sequence[Token], choices: Sequence[Choice], hint: str) -> list[Token]:
    """``tokens`` followed by the choices as numbered lines, since X posts have no buttons."""
    if not choices:
        return list(tokens)
    lines: list[Token] = [BREAK, BREAK] if tokens else []
    for number, choice in enumerate(choices, start=1):
        lines += [Text(f"{number}) {choice.label}"), BREAK]
    return [*tokens, *lines, Text(hint)]


def choice_hint(hints: str | Mapping[str, str], language: str | None) -> str:
    """The hint under numbered choices for a reader of ``language``: one sentence for all,
    or the one in their language (the first when theirs is missing)."""
    if isinstance(hints, str):
        return hints
    return hints.get(language or "") or next(iter(hints.values()), "")


def clipped(tokens: Sequence[Token], budget: int, more: str) -> list[Token]:
    """``tokens`` cut, between words, to about ``budget`` characters, then ``… more``.

    Cheap (characters, not X's weighted count): it only bounds what ``thread`` measures.
    """
    kept: list[Token] = []
    used = 0
    for token in tokens:
        size = len(text_of([token]))
        if used + size <= budget:
            kept.append(token)
            used += size
            continue
        if isinstance(token, Text):
            room = token.text[: max(0, budget - used)]
            head = room.rsplit(" ", 1)[0] if " " in room else room
            if head.strip():
                kept.append(Text(head, token.bold))
        break
    # One link token, so that a thread never breaks between the "…" and the address.
    return [*kept, Text(" "), Link("…", more) if more else Text("…")]


def thread(tokens: Sequence[Token], limit: int = POST_LIMIT, *, more: str = "") -> list[str]:
    """The posts of ``tokens``: one if it fits, else parts that end ``" 1/3"`` and so on.

    Past about ``MAX_POSTS`` posts' worth the text is cut and ends ``… more`` (the request's
    page), so a long answer costs a few posts and milliseconds, however long it is.
    """
    budget = MAX_POSTS * (limit - len(f" {MAX_POSTS}/{MAX_POSTS}")) - len(more) - 2
    if len(text_of(tokens)) > budget:
        tokens = clipped(tokens, budget, more)
    whole = text_of(tokens).strip()
    if weighted_length(whole) <= limit:
        return [whole] if whole else []
    # The numbering takes room from each part, and its width depends on how many parts there
    # are: reserve the widest label for a guess and grow the guess until the count fits it.
    guess = 2
    while True:
        suffix = f" {guess}/{guess}"

        def measure(part: Sequence[Token], suffix: str = suffix) -> int:
            return weighted_length(text_of(part) + suffix)

        parts = split(tokens, limit, measure)
        if len(str(len(parts))) <= len(str(guess)):
            break
        guess = len(parts)
    return [f"{text_of(part)} {n}/{len(parts)}" for n, part in enumerate(parts, start=1)]


def render(
    reply: Reply, *, hint: str | Mapping[str, str] = CHOICE_HINTS, more: str = ""
) -> list[dict[str, Any]]:
    """API v2 bodies, one per post or direct message.

    Public: ``POST /2/tweets`` bodies ``{"text", "reply": {"in_reply_to_tweet_id"}}``; every
    part answers the conversation, and the sender chains parts 2+ to the part before once
    its id is known. Private: ``{"participant_id", "text"}`` for
    ``POST /2/dm_conversations/with/:participant_id/messages``; an answer in a DM
    conversation the resident opened: ``{"dm_conversation_id", "text"}``. A photo needs an
    upload first, so the sender adds ``media`` itself.
    """
    target, in_reply_to = destination(reply)
    bodies: list[dict[str, Any]]
    tokens = with_choices(parse(reply.text), reply.choices, choice_hint(hint, reply.language))
    if reply.private or is_dm_conversation(target):
        key = "participant_id" if reply.private else "dm_conversation_id"
        parts = [text_of(p) for p in split(tokens, DM_LIMIT, lambda p: len(text_of(p)))]
        bodies = [{key: target, "text": text.strip()} for text in parts if text.strip()]
    else:
        parts = thread(tokens, more=more)
        for text in parts:
            if not is_valid_post(text):
                raise RenderError(f"X would refuse this post (invalid characters?): {text!r}")
        reply_to = {"in_reply_to_tweet_id": in_reply_to or target}
        bodies = [{"text": text, "reply": reply_to} for text in parts]
    if not bodies:
        raise RenderError("an X post needs text")
    return bodies


def preview(
    reply: Reply, *, hint: str | Mapping[str, str] = CHOICE_HINTS, more: str = ""
) -> list[str]:
    """The text of each post or message; a photo as ``[photo NAME]`` on the first."""
    texts = [body["text"] for body in render(reply, hint=hint, more=more)]
    if reply.photo is not None:
        texts[0] = f"[photo {shown_name(reply.photo)}]\n{texts[0]}"
    return texts
