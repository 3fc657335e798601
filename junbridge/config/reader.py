"""Reading channels.yaml: plain data plus the line of every key, duplicates reported.

PyYAML's SafeLoader is used with YAML 1.2 scalars, so ``from: 9:30`` stays the text
``"9:30"`` (YAML 1.1 reads it as the number 570) and ``no``/``on`` stay text. Every mapping
key is kept as written, as text: ``-1001234: police`` has the key ``"-1001234"``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from junbridge.config.errors import ConfigError, Problem, describe

_MERGE = "tag:yaml.org,2002:merge"
_ONE_DOCUMENT = "only one YAML document is allowed: remove the second '---'"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars: ``9:30`` is text (not 570), ``no``/``on`` are text."""


_REPLACED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def display_name(path: Path) -> str:
    """How problems name a file: relative to the working folder when inside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


class _Reader:
    """Builds plain data from a composed YAML tree, noting each key's line and duplicates."""

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader, self.file = loader, file
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._stack: set[int] = set()

    def problem(self, node: yaml.Node, parts: list[str], message: str) -> None:
        line = node.start_mark.line + 1
        self.problems.append(
            Problem(file=self.file, line=line, path=".".join(parts), message=message)
        )

    def value(self, node: yaml.Node, parts: list[str], lines: dict[str, int]) -> Any:
        if id(node) in self._stack:
            self.problem(node, parts, "an alias refers to itself")
            return None
        self._stack.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, parts, lines)
            if isinstance(node, yaml.SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    lines[".".join([*parts, str(i)])] = item.start_mark.line + 1
                    items.append(self.value(item, [*parts, str(i)], lines))
                return items
            try:
                return self.loader.construct_object(node)
            except yaml.MarkedYAMLError as exc:
                self.problem(node, parts, exc.problem or str(exc))
            except ValueError as exc:  # e.g. a date 2025-13-45
                self.problem(node, parts, f"cannot read {node.value!r}: {exc}")
            return None
        finally:
            self._stack.discard(id(node))

    def mapping(self, node: yaml.MappingNode, parts: list[str], lines: dict[str, int]) -> Any:
        result: dict[str, Any] = {}
        first: dict[str, int] = {}
        sources: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                many = isinstance(value_node, yaml.SequenceNode)
                sources.extend(value_node.value if many else [value_node])
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, parts, "keys must be plain text")
                continue
            key, line = str(key_node.value), key_node.start_mark.line + 1
            path = [*parts, key]
            if key in first:
                self.problem(key_node, path, f"duplicate key (first at line {first[key]})")
            first.setdefault(key, line)
            lines[".".join(path)] = line
            result[key] = self.value(value_node, path, lines)
        # `<<: *anchor` merges: keys written here win over merged ones.
        for source in sources:
            scratch: dict[str, int] = {}
            merged = self.value(source, parts, scratch)
            if not isinstance(merged, dict):
                self.problem(source, parts, "<< merges only mappings")
                continue
            for key, value in merged.items():
                if key not in result:
                    result[key] = value
                    prefix = ".".join([*parts, key])
                    lines.update(
                        (k, v)
                        for k, v in scratch.items()
                        if k == prefix or k.startswith(prefix + ".")
                    )
        return result


def _syntax_problem(file: str, exc: yaml.YAMLError) -> Problem:
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return Problem(file=file, line=None, path="", message=f"YAML syntax error: {exc}")
    mark, problem = exc.problem_mark, str(exc.problem)
    if problem == "but found another document":
        return Problem(file=file, line=mark.line + 1, path="", message=_ONE_DOCUMENT)
    notes = []
    if "'\\t'" in problem:
        notes.append("indent with spaces, not tabs")
    elif "<block end>" in problem:
        notes.append("check the indentation")
    if exc.context and exc.context_mark is not None and exc.context_mark.line != mark.line:
        notes.append(f"{exc.context} started at line {exc.context_mark.line + 1}")
    message = f"YAML syntax error at column {mark.column + 1}: {problem}"
    if notes:
        message += f" ({'; '.join(notes)})"
    return Problem(file=file, line=mark.line + 1, path="", message=message)


def read(path: Path, file: str) -> tuple[dict[str, Any] | None, dict[str, int], list[Problem]]:
    """Data, lines and problems of one YAML file; data is None when nothing can be used."""

    def fail(message: str, line: int | None = None) -> tuple[None, dict[str, int], list[Problem]]:
        return None, {}, [Problem(file=file, line=line, path="", message=message)]

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return fail(f"not UTF-8 text (byte {exc.start})")
    except OSError as exc:
        return fail(f"cannot read the file: {exc.strerror or exc}")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return fail("the file is empty; it needs at least a town: block with the town's name")
        reader = _Reader(loader, file)
        data = reader.value(node, [], reader.lines)
    except yaml.YAMLError as exc:
        return None, {}, [_syntax_problem(file, exc)]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return fail(f"expected keys such as town: and departments:, got {describe(data)}", 1)
    return data, reader.lines, reader.problems


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The data of a YAML file and the line of each dotted key path; ConfigError if unreadable."""
    data, lines, problems = read(path, display_name(path))
    if data is None or problems:
        raise ConfigError(problems)
    return data, lines
