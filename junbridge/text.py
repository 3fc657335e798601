"""Text junbridge can store and send: what a platform wrote, repaired where it comes in.

JSON can carry what UTF-8 cannot: ``"\\ud83d"`` is half of an emoji (a client cut the text
between the two UTF-16 halves of the pair), and ``"\\u0000"`` is a NUL, which PostgreSQL
refuses in text. A message holding either would be acknowledged, stored and then never
handled, and block every later start. So each channel passes the Message it builds from a
platform payload through :func:`storable`, and the rest of junbridge only sees repaired text.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import TypeVar, cast

_T = TypeVar("_T")

# C0 control characters except tab, line feed and carriage return, and UTF-16 halves.
_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """``text`` as UTF-8 can encode it and any store can keep it.

    A surrogate pair left as two code units becomes the character it stands for ("💡"); a
    lone half becomes U+FFFD, so the resident's words around it survive. NUL and the other
    C0 control characters are removed, except tab, line feed and carriage return.
    """
    if not _SUSPECT.search(text):
        return text
    # Through UTF-16 and back: pairs join, and each half without its partner is replaced.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub("", text)


def storable(value: _T) -> _T:
    """``value`` with :func:`storable_text` applied to every string in it.

    Walks mappings (keys too), lists, tuples and dataclasses, so a whole Message is repaired
    at once: its text, its sender's name and handle, file names, ids, and its ``raw``
    payload, which is stored with it. Enums, numbers, dates and None are kept as they are.
    """
    return cast(_T, _storable(value))


def _storable(value: object) -> object:
    if isinstance(value, Enum):
        return value  # MessageKind is a str too, and must stay a MessageKind
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, (Mapping, list)) and _clean(value):
        return value  # most payloads: nothing to repair, and no walk to find that out
    if isinstance(value, Mapping):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_storable(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        changes = {
            f.name: repaired
            for f in fields
            if f.init and (repaired := _storable(kept := getattr(value, f.name))) is not kept
        }
        return dataclasses.replace(value, **changes) if changes else value
    return value


# In JSON text: a control character as json escapes it, or a UTF-16 half as it is.
_SUSPECT_JSON = re.compile(r"\\(?:u00(?:0[0-9a-fA-F]|1[0-9a-fA-F])|[bf])|[\ud800-\udfff]")


def _clean(value: Mapping[object, object] | list[object]) -> bool:
    """True if no string in ``value`` needs repair: one pass in C, not a walk in Python.

    ``json`` writes the control characters as escapes and leaves UTF-16 halves as they are.
    A resident who typed a backslash and "u0000" is a false alarm: the walk then finds
    nothing to repair.
    """
    try:
        encoded = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return False  # keys json cannot write: walk it
    return _SUSPECT_JSON.search(encoded) is None
