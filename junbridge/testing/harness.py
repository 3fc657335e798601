"""Build a real bridge in a few lines: for plugin authors' tests and our own.

The bridge is the real one (real store on SQLite, the installed plugins and those given by
path); only the messages are made here instead of arriving from a platform.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from junbridge.bridge import Bridge, Clock, utcnow
from junbridge.model import Attachment, JunbridgeError, Location, Message, MessageKind, Sender
from junbridge.plugins import load_file

MINIMAL_CONFIG: Mapping[str, Any] = {"town": {"name": "Jun", "reference_prefix": "JUN"}}


async def make_bridge(
    *,
    plugins: Sequence[str | Path] = (),
    config: str | Path | Mapping[str, Any] | None = None,
    store_url: str | None = None,
    clock: Clock = utcnow,
    workdir: str | Path | None = None,
) -> Bridge:
    """A started bridge with ``plugins`` loaded by path and ``config`` (a file or a dict).

    The departments of installed packages (Jun's four, and any other with a ``junbridge``
    entry point) load as in ``junbridge run``, and run only if the config has a block for
    them. A dict with no ``departments:`` also runs the departments of the ``plugins``
    files, with their defaults: the ones under test. A relative plugin path is read as
    channels.yaml's own paths are, from the config file's folder (``plugins/waste.py`` next
    to it), never from the current folder; with a dict, give absolute paths. A plugin file
    named like an installed plugin (``lighting.py``) replaces it. The store is a fresh
    SQLite file in ``workdir`` (a new temporary folder by default) unless ``store_url``
    names another, e.g. PostgreSQL.
    """
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="junbridge-"))
    # A dict without departments: the files under test run with their defaults.
    under_test = config is None or (isinstance(config, Mapping) and "departments" not in config)
    if config is None or isinstance(config, Mapping):
        relative = [str(p) for p in plugins if not Path(p).is_absolute()]
        if relative:
            raise JunbridgeError(
                f"make_bridge: plugin path {relative[0]!r} is relative, and a config given as a "
                "dict has no folder to read it from: pass an absolute path "
                "(Path(__file__).parent / ...) or the path of a channels.yaml"
            )
        path = folder / "channels.yaml"
        path.write_text(yaml.safe_dump(dict(config or MINIMAL_CONFIG), allow_unicode=True))
        base = folder
    else:
        path = Path(config)
        base = path.resolve().parent
    return await Bridge.start(
        path,
        store_url=store_url or f"sqlite:///{folder / 'junbridge.db'}",
        clock=clock,
        plugin_files=[base / p for p in plugins],
        run_plugin_files=under_test,
    )


def make_message(
    text: str = "",
    *,
    channel: str = "telegram",
    user: str = "vecina",
    user_id: str | None = None,
    lang: str | None = None,
    location: tuple[float, float] | None = None,
    private: bool | None = None,
    conversation: str | None = None,
    platform_id: str | None = None,
    kind: MessageKind | None = None,
    choice: str | None = None,
    photo: str | None = None,
    thread: str | None = None,
    sent_at: datetime | None = None,
) -> Message:
    """A normalized message as a channel would produce it.

    ``private`` defaults to True except on ``twitter``, where residents write public
    mentions. A ``choice`` makes it a button press.
    """
    is_private = channel != "twitter" if private is None else private
    platform_id = platform_id or uuid.uuid4().hex
    if thread is None and channel == "twitter" and not is_private:
        thread = platform_id  # on X a reply answers the resident's own post
    sender_id = user_id or user
    if kind is None:
        kind = (
            MessageKind.BUTTON
            if choice is not None
            else (MessageKind.LOCATION if location and not text else MessageKind.TEXT)
        )
    return Message(
        channel=channel,
        platform_id=platform_id,
        conversation=conversation or (sender_id if is_private else f"public-{user}"),
        sender=Sender(id=sender_id, handle=user, name=user.title(), language=lang),
        sent_at=sent_at or datetime.now(UTC),
        text=text,
        kind=kind,
        is_private=is_private,
        location=Location(lat=location[0], long=location[1]) if location else None,
        choice=choice,
        thread=thread,
        attachments=(Attachment(platform_ref=photo),) if photo else (),
    )


def load_plugin(path: str | Path) -> ModuleType:
    """Import a plugin file by path, as the bridge does."""
    return load_file(Path(path))
