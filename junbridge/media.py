"""Residents' and staff's photos, kept on this machine so any channel can send them on.

A photo arrives as a platform reference that only that platform (with the bridge's token)
can open: a Slack ``url_private``, a Telegram ``file_id``. The bridge fetches it once
through its channel and keeps the bytes here; the request and any reply then point at the
local copy, which every channel can upload (the staff's photo from Slack reaches the
resident on X).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import mimetypes
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from junbridge.model import Attachment, Message

if TYPE_CHECKING:
    from junbridge.channels.base import Channel

log = logging.getLogger(__name__)

# Photos over this size are left as references: platforms refuse them anyway (X: 5 MB).
MAX_BYTES = 20 * 1024 * 1024


class MediaStore:
    """A folder of fetched photos, named by content hash (the same photo is kept once)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def keep(self, attachment: Attachment, data: bytes) -> Attachment:
        """Write ``data`` and return the attachment pointing at the local copy."""
        if len(data) > MAX_BYTES:
            raise ValueError(f"{len(data)} bytes is more than junbridge keeps ({MAX_BYTES})")
        suffix = Path(attachment.name or "").suffix or (
            mimetypes.guess_extension(attachment.mime_type or "image/jpeg") or ".jpg"
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
        if not path.exists():
            path.write_bytes(data)
        return Attachment(
            kind=attachment.kind,
            platform_ref=attachment.platform_ref,
            url=path.resolve().as_uri(),
            name=attachment.name or remote_name(attachment) or path.name,
            mime_type=attachment.mime_type or mimetypes.guess_type(path.name)[0],
        )

    def photos(self, attachments: Iterable[Attachment]) -> list[tuple[Attachment, Path]]:
        """The photos among ``attachments`` whose file is in this folder, with that file, in
        order (a ``file:`` URL pointing anywhere else is never served)."""
        folder = self.folder.resolve()
        kept = []
        for attachment in attachments:
            path = local_path(attachment)
            if attachment.kind != "photo" or path is None:
                continue
            try:
                resolved = path.resolve()
            except OSError:
                continue
            if resolved.is_relative_to(folder) and resolved.is_file():
                kept.append((attachment, resolved))
        return kept

    async def localize(self, message: Message, channel: Channel | None) -> Message:
        """The message with a local copy of each photo, fetched through its ``channel``."""
        if channel is None or not message.attachments:
            return message
        kept = []
        for attachment in message.attachments:
            if local_path(attachment) is not None:
                # Only this store makes file: URLs; one arriving from outside is not ours.
                attachment = dataclasses.replace(attachment, url=None)
            data = None
            try:
                data = await channel.fetch(attachment)
            except Exception as exc:  # the message matters more than its photo
                log.warning("could not fetch %s: %s", attachment.platform_ref, exc)
            kept.append(self.keep(attachment, data) if data else attachment)
        return dataclasses.replace(message, attachments=tuple(kept))


def local_path(attachment: Attachment) -> Path | None:
    """The attachment's file on this machine, if it has been kept here."""
    if not attachment.url:
        return None
    parts = urlsplit(attachment.url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return None


def remote_name(attachment: Attachment) -> str | None:
    """The file name in the attachment's web address, if it has one (X names photos there)."""
    if not attachment.url or urlsplit(attachment.url).scheme not in ("http", "https"):
        return None
    return Path(unquote(urlsplit(attachment.url).path)).name or None


def shown_name(attachment: Attachment) -> str:
    """How a preview names a photo: its file name, never the path it is kept under here."""
    if attachment.name:
        return attachment.name
    if attachment.url:
        return Path(unquote(urlsplit(attachment.url).path)).name or attachment.url
    return attachment.platform_ref
