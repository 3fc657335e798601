"""Problems in channels.yaml, each with file, line, key path, what was expected and a hint.

pydantic's errors are turned into lines an admin can act on: the path is the one written in
the file (``departments.lighting.staff.0.name``), the line is that of the deepest key that
exists, and an unknown key or name comes with a "did you mean".
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from junbridge.config.settings import WEEKDAY_NAMES, Secret
from junbridge.model import JunbridgeError


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong in a config file, printed ``file:line: key.path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(JunbridgeError):
    """channels.yaml cannot be used; ``problems`` lists everything wrong, sorted by line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        unique = dict.fromkeys(problems)
        self.problems = sorted(unique, key=lambda p: (p.line or 0, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, names: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``names``, or the names themselves if few."""
    known = sorted(set(names))
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if 0 < len(known) <= 12:
        return f" (expected one of: {', '.join(known)})"
    return ""


def line_of(lines: Mapping[str, int], parts: Sequence[str]) -> int | None:
    """The line of the deepest key of ``parts`` that exists in the file."""
    for n in range(len(parts), 0, -1):
        line = lines.get(".".join(parts[:n]))
        if line is not None:
            return line
    return None


def describe(value: Any) -> str:
    """A value as an admin wrote it, short: ``'abc'``, ``12``, ``true``, ``a list``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return str(value)


# -- walking the settings models by key path -------------------------------------------


def _members(tp: Any) -> list[Any]:
    """The types a value of ``tp`` may be: Annotated and unions flattened."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(tp) for m in _members(arg)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _children(tp: Any, key: str) -> list[Any]:
    """The types the value under ``key`` of a ``tp`` value may have."""
    found: list[Any] = []
    for member in _members(tp):
        if _is_model(member):
            for name, field in member.model_fields.items():
                if key in (name, field.alias):
                    found.append(field.annotation)
            continue
        origin, args = get_origin(member), get_args(member)
        if origin is None or not args:
            continue
        if isinstance(origin, type) and issubclass(origin, Mapping):
            found.append(args[-1])
        elif isinstance(origin, type) and issubclass(origin, Sequence | set | frozenset):
            found.append(args[0])
    return found


def models_at(model: type[BaseModel], parts: Sequence[str]) -> list[type[BaseModel]]:
    """The settings models that may hold the value at key path ``parts`` under ``model``."""
    kinds: list[Any] = [model]
    for part in parts:
        kinds = [child for kind in kinds for child in _children(kind, part)]
    return [m for kind in kinds for m in _members(kind) if _is_model(m)]


def key_names(models: Iterable[type[BaseModel]]) -> set[str]:
    """Every key an admin may write in these models: field names and aliases."""
    names: set[str] = set()
    for model in models:
        for name, field in model.model_fields.items():
            names.add(name)
            if field.alias:
                names.add(field.alias)
    return names


# -- pydantic errors to problems -------------------------------------------------------

_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "decimal_parsing": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "time_parsing": "a time like 08:30",
    "time_type": "a time like 08:30",
    "date_parsing": "a date like 2025-12-25",
    "date_type": "a date like 2025-12-25",
    "date_from_datetime_parsing": "a date like 2025-12-25",
    "date_from_datetime_inexact": "a date like 2025-12-25",
    "datetime_parsing": "a date and time like 2025-12-25 08:30",
    "datetime_type": "a date and time like 2025-12-25 08:30",
    "datetime_from_date_parsing": "a date and time like 2025-12-25 08:30",
    "timedelta_parsing": "a duration",
    "url_parsing": "a URL like https://example.org",
    "url_type": "a URL like https://example.org",
    "url_scheme": "a URL like https://example.org",
    "path_type": "a file path",
}
_BOUNDS = {
    "greater_than": ("gt", "a number greater than {}"),
    "greater_than_equal": ("ge", "a number of at least {}"),
    "less_than": ("lt", "a number less than {}"),
    "less_than_equal": ("le", "a number of at most {}"),
    "too_short": ("min_length", "at least {} item(s)"),
    "too_long": ("max_length", "at most {} item(s)"),
    "string_too_short": ("min_length", "text of at least {} character(s)"),
    "string_too_long": ("max_length", "text of at most {} character(s)"),
    "string_pattern_mismatch": ("pattern", "text matching {}"),
}
_ONE_DIGIT_HOUR = re.compile(r"^[0-9]:[0-9]{2}")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _closest_choice(given: str, choices: list[str]) -> str | None:
    """The choice an admin most likely meant; a weekday by its name in English or Spanish.

    ``lun`` means Monday (``mon``), not ``sun``: a day name is matched among day names of
    both languages first, and only then among the short forms.
    """
    if set(choices) <= set(WEEKDAY_NAMES.values()):
        word = given.strip().lower().rstrip(".")
        names = difflib.get_close_matches(word, WEEKDAY_NAMES, n=1, cutoff=0.75)
        day = WEEKDAY_NAMES.get(word) or (WEEKDAY_NAMES[names[0]] if names else None)
        if day in choices:
            return day
    close = difflib.get_close_matches(given, choices, n=1)
    return close[0] if close else None


def _expected(error: ErrorDetails) -> tuple[str, str | None]:
    """What an error expected and what it got (None: the message stands alone)."""
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    got = describe(given)
    if kind in _EXPECTED:
        detail = ctx.get("error")
        if isinstance(detail, str) and "range" in detail:  # "hour value is outside ..."
            got = f"{got} ({detail})"
        elif kind == "time_parsing" and isinstance(given, str) and _ONE_DIGIT_HOUR.match(given):
            got = f"{got} (write the hour with two digits: '0{given}')"
        if kind == "string_type" and isinstance(given, bool | int | float | date | time):
            got = f"{got} (put it in quotes)"
        return _EXPECTED[kind], got
    if kind in _BOUNDS:
        key, text = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return text.format(bound), got
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        hint = ""
        if isinstance(given, str):
            close = _closest_choice(given, _QUOTED.findall(expected))
            hint = f" (did you mean {close!r}?)" if close else ""
        return f"one of {expected}", got + hint
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be "):
        return message.removeprefix("Input should be "), got
    return message[:1].lower() + message[1:], None


def _data_path(error: ErrorDetails, data: Any) -> tuple[list[str], bool, bool]:
    """The key path of ``error`` in the admin's data; whether a union tag or a key is at fault.

    pydantic's ``loc`` also holds union member tags (``'int'``, ``'list[str]'``) and
    ``'[key]'`` for a bad mapping key; following the data tells keys from tags.
    """
    loc, node = error["loc"], data
    parts: list[str] = []
    tagged = is_key = False
    for i, elem in enumerate(loc):
        last = i == len(loc) - 1
        if elem == "[key]":
            is_key = True
        elif isinstance(node, Mapping) and str(elem) in node:
            parts.append(str(elem))
            node = node[str(elem)]
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            parts.append(str(elem))
            node = node[elem]
        elif isinstance(node, Mapping) and (
            (last and error["type"] == "missing") or (not last and loc[i + 1] == "[key]")
        ):
            parts.append(str(elem))
        else:
            tagged = True
    return parts, tagged, is_key


def validation_problems(
    exc: ValidationError,
    *,
    model: type[BaseModel],
    data: Any,
    prefix: Sequence[str],
    lines: Mapping[str, int],
    file: str,
) -> list[Problem]:
    """A problem for each error of ``exc``, raised validating ``data`` at ``prefix``."""
    problems: list[Problem] = []
    unions: dict[tuple[str, ...], list[tuple[str, str | None]]] = {}
    for error in exc.errors(include_url=False):
        parts, tagged, is_key = _data_path(error, data)
        full = [*prefix, *parts]
        path, line = ".".join(full), line_of(lines, full)
        if error["type"] == "extra_forbidden":
            names = key_names(models_at(model, parts[:-1]))
            message = "unknown key" + did_you_mean(parts[-1] if parts else "", names)
        elif error["type"] == "missing":
            message = "required key is missing"
        elif any(issubclass(m, Secret) for m in models_at(model, parts)) and not isinstance(
            error.get("input"), Mapping
        ):
            # Never echo the value: it is likely the secret itself.
            message = "write secrets as {$env: NAME}, not inline"
        elif tagged:
            unions.setdefault(tuple(full), []).append(_expected(error))
            continue
        else:
            expected, got = _expected(error)
            if got is None:
                message = expected
            else:
                message = (
                    f"key must be {expected}, got {got}"
                    if is_key
                    else f"expected {expected}, got {got}"
                )
        problems.append(Problem(file=file, line=line, path=path, message=message))
    for key, options in unions.items():
        full = list(key)
        # One field, several accepted types: say them all in one line.
        got = next((g for _, g in options if g is not None), None)
        expected = " or ".join(dict.fromkeys(e for e, _ in options))
        message = expected if got is None else f"expected {expected}, got {got}"
        problems.append(
            Problem(file=file, line=line_of(lines, full), path=".".join(full), message=message)
        )
    return problems
