"""Checks across blocks of channels.yaml: names one block uses must exist in another.

Each block is valid on its own (its plugin's ``Settings`` said so); here the whole file is
seen at once, so a pin to a department that does not exist, a staff place on a channel that
is not configured or a rota naming someone who is not on the staff is reported at start-up,
with the line of the name, instead of misrouting or waiting forever at run time.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Iterator, Mapping

from junbridge.config.errors import did_you_mean
from junbridge.config.settings import ChannelSettings, DepartmentSettings, Open311Settings

# (key path, message) of one mistake; the caller adds the file and the line.
Found = tuple[list[str], str]


def channel_mistakes(
    channels: Mapping[str, ChannelSettings],
    departments: Collection[str],
    off: Collection[str] = (),
) -> Iterator[Found]:
    """Pins to departments that no plugin registers, or that are off (``off``: no block in
    channels.yaml, or ``enabled: false``), so the pinned chat would get nobody."""
    for name, settings in channels.items():
        for conversation, department in settings.pins.items():
            where = ["channels", name, "pins", conversation]
            if department in off:
                yield where, f"department {department!r} is off (no block, or enabled: false)"
            elif department not in departments:
                yield where, f"no department {department!r}{did_you_mean(department, departments)}"


def department_mistakes(
    name: str,
    settings: DepartmentSettings,
    *,
    channels: Mapping[str, ChannelSettings],
    written: Collection[str],
    platforms: Collection[str],
) -> Iterator[Found]:
    """A staff place off the configured channels, rota names off the staff, unknown handles.

    ``channels`` are the valid channel blocks, ``written`` the names of all channel blocks
    (an invalid one is reported where it stands), ``platforms`` the registered channels.
    """
    parts = ["departments", name]
    if settings.staff_place is not None:
        channel = settings.staff_place.partition(":")[0]
        configured = channels.get(channel)
        if channel not in written:
            hint = did_you_mean(channel, written) if written else " (channels: is empty)"
            yield (
                [*parts, "staff_place"],
                f"channel {channel!r} is not configured under channels:, so staff would "
                f"never get the request cards{hint}",
            )
        elif configured is not None and not configured.enabled:
            yield (
                [*parts, "staff_place"],
                f"channel {channel!r} has enabled: false, so staff would never get the "
                "request cards",
            )
    names = [member.name for member in settings.staff]
    for i, shift in enumerate(settings.on_duty):
        if shift.staff not in names:
            hint = did_you_mean(shift.staff, names) if names else " (staff: is empty)"
            yield (
                [*parts, "on_duty", str(i), "staff"],
                f"{shift.staff!r} is not in this department's staff{hint}",
            )
    for i, member in enumerate(settings.staff):
        for platform in member.handles:
            if platform not in platforms:
                yield (
                    [*parts, "staff", str(i), "handles", platform],
                    f"no channel is called {platform!r}{did_you_mean(platform, platforms)}",
                )


def reply_mistakes(
    name: str, settings: DepartmentSettings, templates: Mapping[str, Collection[str]]
) -> Iterator[Found]:
    """Reply overrides with an unknown key, or a placeholder their template is not given.

    Each override is rendered as it will be at run time, with the placeholders its key gets.
    """
    for language, texts in settings.replies.items():
        for key, text in texts.items():
            parts = ["departments", name, "replies", language, key]
            given = templates.get(key)
            if given is None:
                yield parts, f"unknown reply key{did_you_mean(key, templates)}"
                continue
            yield from ((parts, m) for m in _render_mistakes(text, given))


def _render_mistakes(text: str, given: Collection[str]) -> Iterator[str]:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        yield f"cannot be filled in: {exc} (write {{{{ and }}}} for a brace)"
        return
    unknown: list[str] = []
    for field in fields:
        root = field.split(".", 1)[0].split("[", 1)[0]
        if not root:
            yield "write a name between the braces, e.g. {reference}"
        elif root not in given:
            if root not in unknown:
                unknown.append(root)
        elif root != field:
            yield f"write {{{root}}} alone, not {{{field}}}: placeholders are plain text"
    for root in unknown:
        hint = did_you_mean(root, given) if given else " (this reply is given no placeholders)"
        yield f"unknown placeholder {{{root}}}{hint}"


def open311_mistakes(settings: Open311Settings) -> Iterator[Found]:
    """Two Open311 API keys with one name: a report's history could not say which client."""
    seen: set[str] = set()
    for i, key in enumerate(settings.api_keys):
        if key.name in seen:
            yield ["open311", "api_keys", str(i), "name"], f"{key.name!r} names another key too"
        seen.add(key.name)
