"""channels.yaml -> a validated :class:`Config`, with every problem reported at once.

Each block is checked by its plugin's ``Settings`` model; a problem names the file, the line,
the key path and what was expected (see :mod:`junbridge.config.errors`). Secrets are written
``{$env: NAME}`` and read when used, so a missing variable is reported by
:func:`missing_secrets`, not by :func:`load_config`.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from junbridge.config.errors import (
    ConfigError,
    Problem,
    describe,
    did_you_mean,
    line_of,
    validation_problems,
)
from junbridge.config.reader import display_name, read, read_yaml
from junbridge.config.references import (
    channel_mistakes,
    department_mistakes,
    open311_mistakes,
    reply_mistakes,
)
from junbridge.config.settings import (
    ChannelSettings,
    DepartmentSettings,
    Open311Settings,
    Secret,
    StoreSettings,
    TownSettings,
    WebSettings,
)

__all__ = [
    "TOP_LEVEL_KEYS",
    "Config",
    "ConfigError",
    "Problem",
    "config_schema",
    "load_config",
    "missing_secrets",
    "plugins_dir_of",
    "read_yaml",
    "unset_variables",
]

# The town hall desk: always on, with or without a block.
TRIAGE = "triage"
TOP_LEVEL_KEYS = ("town", "store", "web", "open311", "channels", "departments", "plugins_dir")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """channels.yaml, validated: the town, storage, web server, and each plugin's block."""

    path: Path
    town: TownSettings
    store: StoreSettings
    web: WebSettings
    channels: Mapping[str, ChannelSettings]
    departments: Mapping[str, DepartmentSettings]
    plugins_dir: Path | None
    lines: Mapping[str, int]
    #: Departments a plugin registers that channels.yaml has no block for: off.
    unlisted: tuple[str, ...] = ()
    open311: Open311Settings = field(default_factory=Open311Settings)

    @property
    def config_dir(self) -> Path:
        """The folder of channels.yaml, against which relative paths in it are resolved."""
        return self.path.parent


def plugins_dir_of(path: Path) -> Path | None:
    """The absolute ``plugins_dir`` of a config file, read before plugins load.

    Raises :class:`ConfigError` only when the file cannot be read as YAML at all; other
    problems are left for :func:`load_config` to report together.
    """
    data, _, problems = read(path, display_name(path))
    if data is None:
        raise ConfigError(problems)
    value = data.get("plugins_dir")
    if not isinstance(value, str) or not value:
        return None  # load_config reports a bad value with everything else
    return Path(os.path.abspath(Path(os.path.abspath(path)).parent / value))


# -- validating ------------------------------------------------------------------------


class _Validation:
    """Validates blocks of one file, collecting problems instead of stopping at the first."""

    def __init__(self, file: str, lines: Mapping[str, int], config_dir: Path) -> None:
        self.file, self.lines, self.config_dir = file, lines, config_dir
        self.problems: list[Problem] = []

    def add(self, parts: list[str], message: str, line: int | None = None) -> None:
        line = line if line is not None else line_of(self.lines, parts)
        self.problems.append(
            Problem(file=self.file, line=line, path=".".join(parts), message=message)
        )

    def mapping(self, value: Any, parts: list[str], what: str) -> dict[str, Any] | None:
        """``value`` as a mapping (an empty block is an empty mapping), else a problem."""
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.add(parts, f"expected {what}, got {describe(value)}")
        return None

    def block(self, model: type[M], value: Any, parts: list[str]) -> M | None:
        """One block validated by ``model``; None (with problems noted) when it is invalid."""
        data = self.mapping(value, parts, "a mapping (key: value)")
        if data is None:
            return None
        try:
            return model.model_validate(data, context={"config_dir": self.config_dir})
        except ValidationError as exc:
            self.problems += validation_problems(
                exc, model=model, data=data, prefix=parts, lines=self.lines, file=self.file
            )
            return None

    def plugin_blocks(
        self, section: str, value: Any, registry: Mapping[str, type[M]]
    ) -> dict[str, M]:
        """The blocks under ``channels:`` or ``departments:``, each by its plugin's Settings."""
        kind = section.removesuffix("s")
        blocks = self.mapping(value, [section], f"a mapping of {kind} name -> settings") or {}
        result: dict[str, M] = {}
        for name, block in blocks.items():
            if name not in registry:
                hint = did_you_mean(name, registry)
                self.add([section, name], f"no plugin registers {kind} {name!r}{hint}")
            elif (settings := self.block(registry[name], block, [section, name])) is not None:
                result[name] = settings
        return result


def load_config(
    path: Path,
    *,
    channels: Mapping[str, type[ChannelSettings]],
    departments: Mapping[str, type[DepartmentSettings]],
    templates: Mapping[str, Mapping[str, Collection[str]]] | None = None,
    without_block: Collection[str] = (),
) -> Config:
    """Read and validate channels.yaml against the registered plugins' Settings.

    A department runs only if channels.yaml has a block for it (``departments: {police:
    {}}`` is enough): a plugin installed for another town, or shipped with junbridge, stays
    off until the admin asks for it. The town hall desk (triage) always runs.
    ``without_block`` names departments that run with their defaults when the file has no
    block for them (the test harness: the plugin files a test loads).

    ``templates`` (department -> reply key -> placeholders it is given, from
    ``Department.templates()``) checks each block's ``replies``. Raises :class:`ConfigError`
    listing every problem found, sorted by line.
    """
    absolute = Path(os.path.abspath(path))
    file = display_name(path)
    data, lines, problems = read(absolute, file)
    if data is None:
        raise ConfigError(problems)
    check = _Validation(file, lines, absolute.parent)
    check.problems += problems
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            check.add([key], "unknown key" + did_you_mean(key, TOP_LEVEL_KEYS))
    town = None
    if "town" in data:
        town = check.block(TownSettings, data["town"], ["town"])
    else:
        check.add(["town"], "required block is missing (at least town: name: ...)")
    store = check.block(StoreSettings, data.get("store"), ["store"])
    web = check.block(WebSettings, data.get("web"), ["web"])
    open311 = check.block(Open311Settings, data.get("open311"), ["open311"])
    channel_blocks = check.plugin_blocks("channels", data.get("channels"), channels)
    department_blocks = check.plugin_blocks("departments", data.get("departments"), departments)
    listed = data.get("departments") or {}
    unlisted = tuple(
        sorted(n for n in departments if n not in listed and n not in without_block and n != TRIAGE)
    )
    for name, model in departments.items():
        if name not in listed and name not in unlisted:
            try:
                department_blocks[name] = model.model_validate(
                    {}, context={"config_dir": absolute.parent}
                )
            except ValidationError as exc:
                missing = [
                    ".".join(map(str, e["loc"])) for e in exc.errors() if e["type"] == "missing"
                ]
                needs = f" (needs {', '.join(missing)})" if missing else ""
                check.add(["departments", name], f"block required{needs}")
    plugins_dir: Path | None = None
    raw_dir = data.get("plugins_dir")
    if isinstance(raw_dir, str) and raw_dir:
        plugins_dir = Path(os.path.abspath(absolute.parent / raw_dir))
    elif raw_dir is not None:
        check.add(["plugins_dir"], f"expected a folder path, got {describe(raw_dir)}")
    off = {*unlisted, *(n for n, b in department_blocks.items() if not b.enabled and n != TRIAGE)}
    found = list(channel_mistakes(channel_blocks, departments, off))
    written = [n for n in (data.get("channels") or {}) if n in channels]
    for name, settings in department_blocks.items():
        found += department_mistakes(
            name, settings, channels=channel_blocks, written=written, platforms=channels
        )
        if templates is not None and name in templates:
            found += reply_mistakes(name, settings, templates[name])
    if open311 is not None:
        found += open311_mistakes(open311)
    for parts, message in found:
        check.add(parts, message)
    # A value the YAML reader could not construct was already reported where it stands.
    unreadable = {p.path for p in problems if not p.message.startswith("duplicate key")}
    check.problems = [p for p in check.problems if p in problems or p.path not in unreadable]
    if check.problems or town is None or store is None or web is None or open311 is None:
        raise ConfigError(check.problems)
    return Config(
        path=absolute,
        town=town,
        store=store,
        web=web,
        channels=MappingProxyType(channel_blocks),
        departments=MappingProxyType(department_blocks),
        plugins_dir=plugins_dir,
        lines=MappingProxyType(lines),
        unlisted=unlisted,
        open311=open311,
    )


# -- secrets and schema ----------------------------------------------------------------


def _secrets(
    value: Any, parts: list[str], lines: Mapping[str, int]
) -> Iterator[tuple[list[str], Secret]]:
    if isinstance(value, Secret):
        yield parts, value
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            # The admin may have written the alias or the name; follow whichever is there.
            key = name if ".".join([*parts, name]) in lines else (field.alias or name)
            yield from _secrets(getattr(value, name), [*parts, key], lines)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _secrets(item, [*parts, str(key)], lines)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _secrets(item, [*parts, str(i)], lines)


def unset_variables(settings: BaseModel) -> list[str]:
    """The environment variables a block's ``{$env: NAME}`` secrets need and that are unset."""
    return list(dict.fromkeys(s.env for _, s in _secrets(settings, [], {}) if not s.is_set))


def missing_secrets(config: Config, *, include_disabled: bool = False) -> list[Problem]:
    """Every ``{$env: NAME}`` in enabled channel and department blocks, and in ``open311:``,
    whose variable is unset."""
    file = display_name(config.path)
    problems: list[Problem] = []
    sections: dict[str, Mapping[str, ChannelSettings | DepartmentSettings]] = {
        "channels": config.channels,
        "departments": config.departments,
    }
    blocks: list[tuple[list[str], BaseModel]] = [
        ([section, name], settings)
        for section, named in sections.items()
        for name, settings in named.items()
    ]
    blocks.append((["open311"], config.open311))
    for where, settings in blocks:
        if not (getattr(settings, "enabled", True) or include_disabled):
            continue
        for parts, secret in _secrets(settings, where, config.lines):
            if not secret.is_set:
                problems.append(
                    Problem(
                        file=file,
                        line=line_of(config.lines, parts),
                        path=".".join(parts),
                        message=f"environment variable {secret.env} is not set",
                    )
                )
    return sorted(problems, key=lambda p: (p.line or 0, p.path))


def _section(title: str, registry: Mapping[str, type[BaseModel]]) -> type[BaseModel]:
    # Fields get neutral names and the block name as alias, so any name is safe.
    fields: dict[str, Any] = {
        f"block_{i}": (model | None, Field(None, alias=name, title=name))
        for i, (name, model) in enumerate(sorted(registry.items()))
    }
    return create_model(title, __config__=ConfigDict(extra="forbid"), **fields)


def config_schema(
    channels: Mapping[str, type[ChannelSettings]],
    departments: Mapping[str, type[DepartmentSettings]],
) -> dict[str, Any]:
    """A JSON Schema of channels.yaml with these plugins' blocks, for editors."""
    channel_blocks: Any = _section("Channels", channels) | None
    department_blocks: Any = _section("Departments", departments) | None
    root = create_model(
        "ChannelsYaml",
        __config__=ConfigDict(extra="forbid", title="channels.yaml"),
        town=(TownSettings, ...),
        store=(StoreSettings | None, None),
        web=(WebSettings | None, None),
        open311=(Open311Settings | None, None),
        channels=(channel_blocks, None),
        departments=(department_blocks, None),
        plugins_dir=(str | None, None),
    )
    return root.model_json_schema(by_alias=True)
