"""The Open311 services a department offers, and the town's catalogue of them.

A department lists what a town's apps (FixMyStreet, a 311 app) may report to it through
Open311: each :class:`Service` has a ``service_code``, a name and the questions it asks
besides the description (:class:`Attribute`, e.g. the number painted on a lamp post). A
department that lists none offers one service, its own ``service_code`` under its title.
Private departments offer nothing: Open311 is public.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from junbridge.departments import Department

Text = str | Mapping[str, str]
"""Words shown to the public: the same in every language, or ``{language: words}``."""

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
"""What an attribute's answer is, as Open311 names it."""

LISTS = ("singlevaluelist", "multivaluelist")
# Keys junbridge keeps in a request's details itself: an answer must not overwrite them.
RESERVED_DETAILS = frozenset({"public", "awaiting", "rating", "contact"})
_CODE = re.compile(r"^[A-Za-z0-9_-]+$")


def in_language(text: Text, language: str) -> str:
    """``text`` in ``language``; a mapping without it gives its first language's words."""
    if isinstance(text, str):
        return text
    return text.get(language) or next(iter(text.values()), "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribute:
    """A question an Open311 service asks besides the description: ``attribute[code]``.

    The answer is kept in the request's ``details`` under ``code``. ``values`` (key ->
    name) are the choices of a ``singlevaluelist`` or ``multivaluelist``.
    """

    code: str
    description: Text
    datatype: Datatype = "string"
    required: bool = False
    datatype_description: Text | None = None
    values: Mapping[str, Text] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ValueError(f"attribute code {self.code!r}: letters, digits, - and _ only")
        if self.code in RESERVED_DETAILS:
            raise ValueError(f"attribute code {self.code!r} is a detail junbridge keeps itself")
        if (self.datatype in LISTS) != bool(self.values):
            raise ValueError(f"attribute {self.code!r}: values go with (and only with) lists")


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """One Open311 service: its ``service_code``, how it reads, and what it asks.

    ``name`` and ``group`` default to the department's title.
    """

    code: str
    name: Text | None = None
    description: Text = ""
    keywords: tuple[str, ...] = ()
    group: Text | None = None
    attributes: tuple[Attribute, ...] = ()

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ValueError(f"service code {self.code!r}: letters, digits, - and _ only")
        codes = [a.code for a in self.attributes]
        if len(set(codes)) != len(codes):
            raise ValueError(f"service {self.code!r} asks the same attribute twice")


def services_of(department: Department) -> tuple[Service, ...]:
    """What ``department`` offers: its ``services``, or one under its own ``service_code``."""
    if department.services is not None:
        return department.services
    return (Service(code=department.service_code or department.name),)


def catalogue(departments: Mapping[str, Department]) -> dict[str, tuple[Service, Department]]:
    """Every service the running public departments offer, by code.

    Raises ValueError when two departments offer one code: a report could not be routed.
    """
    offered: dict[str, tuple[Service, Department]] = {}
    for department in departments.values():
        if department.privacy != "public":
            continue
        for service in services_of(department):
            if service.code in offered:
                other = offered[service.code][1].name
                raise ValueError(
                    f"service_code {service.code!r} is offered by both {other} and "
                    f"{department.name}"
                )
            offered[service.code] = (service, department)
    return offered
