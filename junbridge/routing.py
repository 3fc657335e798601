"""The default router: explicit commands and hashtags, pins, then keyword scores.

It is a ``trylast`` implementation of the ``route`` hook, so any plugin's router runs first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from junbridge.departments import Department, fold
from junbridge.hookspecs import hookimpl
from junbridge.model import Message

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

# Two departments whose scores are this close are both offered to the resident.
AMBIGUITY_RATIO = 0.8
_TAG = re.compile(r"(?:^|\s)[/#]([\w-]+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Where a new message goes: one department, a choice between several, or triage."""

    department: str | None = None
    candidates: tuple[str, ...] = ()
    reason: str = ""

    @property
    def is_ambiguous(self) -> bool:
        """Whether the resident must choose between ``candidates``."""
        return self.department is None and len(self.candidates) > 1


TRIAGE = Route(reason="no department claimed it")


def explicit_department(text: str, departments: Mapping[str, Department]) -> str | None:
    """A department named by ``/police`` or ``#farola`` (name, title or keyword), if any."""
    for tag in _TAG.findall(fold(text)):
        for name, department in departments.items():
            names = {fold(name), *(fold(t) for t in department.titles.values())}
            words = {fold(w) for ws in department.settings.keywords.values() for w in ws}
            if tag in names or tag in words:
                return name
    return None


def score(message: Message, departments: Mapping[str, Department]) -> Route:
    """Route by explicit tags, then by each department's :meth:`Department.match`."""
    tagged = explicit_department(message.text, departments)
    if tagged is not None:
        return Route(department=tagged, reason="named explicitly")
    scores = sorted(
        ((department.match(message), name) for name, department in departments.items()),
        reverse=True,
    )
    scores = [(s, name) for s, name in scores if s > 0]
    if not scores:
        return TRIAGE
    best = scores[0][0]
    close = tuple(name for s, name in scores if s >= best * AMBIGUITY_RATIO)
    if len(close) > 1:
        return Route(candidates=close, reason="several departments match")
    return Route(department=scores[0][1], reason=f"keywords (score {best:.2f})")


@hookimpl(trylast=True)
def route(message: Message, departments: Mapping[str, Department], bridge: Bridge) -> Route:
    """Pins from channels.yaml first, then explicit tags and keyword scores."""
    pinned = bridge.pinned_department(message)
    if pinned is not None and pinned in departments:
        return Route(department=pinned, reason="conversation pinned in channels.yaml")
    return score(message, departments)
