"""The small markup of :attr:`Reply.text`, parsed once and rendered by each channel.

``**bold**``, ``[label](https://link)`` and line breaks; everything else is literal text.
:func:`parse` turns the text into tokens, :func:`split` cuts a token list into messages that
each fit a platform's limit, and each channel renders the tokens its own way.

What residents and staff wrote goes into a reply through :func:`escape` (templates do it for
every value they are given): their ``**``, ``[label](url)`` and ``@name`` stay text, so
nobody can make the bot format a card, disguise a link or mention (and notify) anyone.
Only :class:`Markup` values, written by junbridge itself, keep their meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from junbridge.model import JunbridgeError, Reply


class RenderError(JunbridgeError, ValueError):
    """A reply that a platform cannot show: a button value too long, nothing to send."""


def destination(reply: Reply) -> tuple[str, str | None]:
    """The chat a reply goes to and the message it answers, if any.

    A private reply goes to ``recipient``'s own chat, where the thread of a group message does
    not exist; a private reply without a recipient is refused rather than posted in public.
    """
    if not reply.private:
        return reply.conversation, reply.thread
    if reply.recipient is None:
        raise RenderError("a private reply needs a recipient; it is never sent to the group")
    same_chat = reply.recipient == reply.conversation
    return reply.recipient, reply.thread if same_chat else None


@dataclass(frozen=True, slots=True)
class Text:
    """A run of literal text with no line break in it."""

    text: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A link: the text shown and where it goes."""

    label: str
    url: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Break:
    """A line break."""


Token = Text | Link | Break
BREAK = Break()


class Markup(str):
    """Text that is markup already (written by junbridge, e.g. a staff member's ``@handle``
    to tag them): :func:`escape` leaves it as it is."""

    __slots__ = ()


# What escape() puts a backslash before: the markers of bold and links, mentions, itself.
_SPECIAL = re.compile(r"([\\*\[@])")
# Read back as: the character itself; "@" with a word joiner after it, which no platform
# reads as a mention and nobody sees.
_ESCAPED = {"\\": "\\", "*": "*", "[": "[", "@": "@\u2060"}


def escape(text: str) -> str:
    """``text`` as literal markup: it reads back exactly, and never as bold, a link or a
    mention. A :class:`Markup` value is returned as it is."""
    if isinstance(text, Markup):
        return text
    return _SPECIAL.sub(r"\\\1", text)


_MARK = re.compile(r"\\([\\*\[@])|\*\*|\[([^\]\n]+)\]\((https?://[^\s()]+)\)|\n")
_WORD = re.compile(r"\S+\s*|\s+")


def parse(source: str) -> tuple[Token, ...]:
    """The tokens of ``source``; a ``**`` left without its pair stays literal."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    # Only paired markers are bold: with an odd count the last one is plain text.
    markers = [m.start() for m in _MARK.finditer(source) if m.group() == "**"]
    literal = markers[-1] if len(markers) % 2 else -1
    tokens: list[Token] = []
    bold = False
    pos = 0

    def text(value: str) -> None:
        if value:
            tokens.append(Text(value, bold))

    for match in _MARK.finditer(source):
        if match.start() == literal:
            continue
        text(source[pos : match.start()])
        pos = match.end()
        if match[1] is not None:
            text(_ESCAPED[match[1]])
        elif match.group() == "**":
            bold = not bold
        elif match.group() == "\n":
            tokens.append(BREAK)
        else:
            tokens.append(Link(match[2], match[3], bold))
    text(source[pos:])
    return merge(tokens)


def merge(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """``tokens`` with neighbouring text runs of the same weight joined."""
    merged: list[Token] = []
    for token in tokens:
        last = merged[-1] if merged else None
        if isinstance(token, Text) and isinstance(last, Text) and last.bold == token.bold:
            merged[-1] = Text(last.text + token.text, token.bold)
        elif not (isinstance(token, Text) and not token.text):
            merged.append(token)
    return tuple(merged)


def plain(tokens: Sequence[Token], link: str = "{label} ({url})") -> str:
    """The text without markup; ``link`` formats a link whose label is not its own URL."""
    out: list[str] = []
    for token in tokens:
        if isinstance(token, Text):
            out.append(token.text)
        elif isinstance(token, Link):
            bare = token.url.split("://", 1)[-1].rstrip("/")
            same = token.label in (token.url, bare)
            out.append(token.url if same else link.format(label=token.label, url=token.url))
        else:
            out.append("\n")
    return "".join(out)


def words(tokens: Sequence[Token]) -> list[Token]:
    """``tokens`` cut into words (trailing space kept), links and breaks: the split points."""
    pieces: list[Token] = []
    for token in tokens:
        if isinstance(token, Text):
            pieces.extend(Text(w, token.bold) for w in _WORD.findall(token.text))
        else:
            pieces.append(token)
    return pieces


def _trim(pieces: Sequence[Token]) -> tuple[Token, ...]:
    """A message's pieces without the spaces and breaks at either end."""
    items = list(pieces)
    while items and (isinstance(items[0], Break) or _blank(items[0])):
        items.pop(0)
    while items and (isinstance(items[-1], Break) or _blank(items[-1])):
        items.pop()
    if items and isinstance(items[0], Text):
        items[0] = replace(items[0], text=items[0].text.lstrip())
    if items and isinstance(items[-1], Text):
        items[-1] = replace(items[-1], text=items[-1].text.rstrip())
    return merge(items)


def _blank(token: Token) -> bool:
    return isinstance(token, Text) and not token.text.strip()


def _fits(pieces: Sequence[Token], limit: int, measure: Callable[[Sequence[Token]], int]) -> bool:
    return measure(_trim(pieces)) <= limit


def _cut(piece: Token, limit: int, measure: Callable[[Sequence[Token]], int]) -> list[Token]:
    """One word or link too long for any message, cut into parts that each fit."""
    if isinstance(piece, Link):
        # The URL cannot be cut; the label and address are kept as text, which can be.
        piece = Text(f"{piece.label} {piece.url}", piece.bold)
    assert isinstance(piece, Text)
    parts: list[Token] = []
    rest = piece.text
    while rest:
        lo, hi = 1, len(rest)
        if not _fits([Text(rest[:1], piece.bold)], limit, measure):
            raise RenderError(f"no room for even one character of {piece.text[:20]!r}...")
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _fits([Text(rest[:mid], piece.bold)], limit, measure):
                lo = mid
            else:
                hi = mid - 1
        parts.append(Text(rest[:lo], piece.bold))
        rest = rest[lo:]
    return parts


def _good_cut(pieces: Sequence[Token], index: int, rank: int) -> bool:
    """Whether cutting before ``pieces[index]`` is a line break (rank 0) or a sentence end (1)."""
    if rank == 0:
        return isinstance(pieces[index], Break)
    before = pieces[index - 1]
    return isinstance(before, Text) and before.text.rstrip().endswith((".", "!", "?", "…", ":"))


def _better_end(
    pieces: Sequence[Token],
    start: int,
    end: int,
    cap: int,
    measure: Callable[[Sequence[Token]], int],
) -> int:
    """A cut at a line break, else after a sentence, if one leaves the message half full."""
    for rank in (0, 1):
        cuts = [i for i in range(start + 1, end) if _good_cut(pieces, i, rank)]
        if cuts and measure(_trim(pieces[start : cuts[-1]])) * 2 >= cap:
            return cuts[-1]
    return end


def split(
    tokens: Sequence[Token],
    limit: int,
    measure: Callable[[Sequence[Token]], int],
    *,
    first_limit: int | None = None,
) -> list[tuple[Token, ...]]:
    """``tokens`` cut into messages whose ``measure`` is at most ``limit`` each.

    Cuts fall at a line break, else at a sentence end, when one is in the second half of a
    message, otherwise between words; never inside a link or a tag, and inside a word only
    when the word alone is too long. ``first_limit`` is the first message's own limit (a
    photo caption's, say).
    """
    pieces = words(tokens)
    messages: list[tuple[Token, ...]] = []
    start = 0
    while start < len(pieces):
        cap = first_limit if first_limit is not None and not messages else limit
        # Every piece measures at least 1, so no message holds more than ``cap`` of them:
        # nothing longer is ever measured, and a long text costs linear time, not quadratic.
        if len(pieces) - start <= cap and _fits(pieces[start:], cap, measure):
            messages.append(_trim(pieces[start:]))
            break
        if not _fits(pieces[start : start + 1], cap, measure):
            pieces[start : start + 1] = _cut(pieces[start], cap, measure)
            continue
        # Binary search for the longest prefix that fits: a prefix only grows as words join.
        lo, hi = start + 1, min(len(pieces) - 1, start + cap)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _fits(pieces[start:mid], cap, measure):
                lo = mid
            else:
                hi = mid - 1
        end = _better_end(pieces, start, lo, cap, measure)
        messages.append(_trim(pieces[start:end]))
        start = end
    return [m for m in messages if m]
