"""Retention: closed requests are kept as long as their department says, then let go.

A department with ``retention: {after_days: 90, action: anonymize}`` in channels.yaml keeps
its closed requests (Open311 ``closed``: closed, rejected, duplicate) for 90 days after their
last change. Then ``junbridge maintenance`` anonymizes them, keeping the case for the town's
numbers with one audit line in its history, or deletes them outright. The photos kept for
them on this machine are deleted when no other request uses the same file.

Every request let go is written to the ``junbridge.audit`` log. A deleted request leaves
nothing in the database, so that log line and the count returned are its only trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from junbridge.config.settings import RetentionSettings
from junbridge.media import local_path
from junbridge.model import Attachment, Status
from junbridge.store import retention as queries
from junbridge.store.retention import Action

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

audit = logging.getLogger("junbridge.audit")

_DONE = {"anonymize": "anonymized", "delete": "deleted"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionAction:
    """What retention did to one request, or would do in a dry run."""

    reference: str
    department: str
    action: Action
    state: Status
    closed_at: datetime
    after_days: int
    photos: int = 0
    dry_run: bool = False


def policies(bridge: Bridge) -> dict[str, RetentionSettings]:
    """Each department's retention, by department name; departments without one are left out.

    Disabled departments count too: switching a department off does not keep its data.
    """
    return {
        name: settings.retention
        for name, settings in sorted(bridge.config.departments.items())
        if settings.retention is not None
    }


async def apply_retention(
    bridge: Bridge, *, now: datetime, dry_run: bool = False
) -> list[RetentionAction]:
    """Anonymize or delete every department's closed requests past its retention.

    Returns what was done (or, with ``dry_run``, what would be done and nothing is changed),
    oldest first within each department.
    """
    done: list[RetentionAction] = []
    for department, policy in policies(bridge).items():
        note = f"{_DONE[policy.action]} after {policy.after_days} days"
        expiry = await queries.expire(
            bridge.store,
            department=department,
            before=now - timedelta(days=policy.after_days),
            action=policy.action,
            now=now,
            note=note,
            dry_run=dry_run,
        )
        photos = _photo_files(expiry.orphans, bridge.media.folder)
        counted: set[Path] = set()
        for expired in expiry.requests:
            mine = {photos[u] for u in expired.files if u in photos} - counted
            counted |= mine
            if not dry_run:
                for path in mine:
                    path.unlink(missing_ok=True)
                audit.info(
                    "retention: %s %s (%s, %s since %s, kept %d days, %d photo(s) deleted)",
                    _DONE[policy.action],
                    expired.reference,
                    department,
                    expired.state.value,
                    expired.updated_datetime.date().isoformat(),
                    policy.after_days,
                    len(mine),
                )
            done.append(
                RetentionAction(
                    reference=expired.reference,
                    department=department,
                    action=policy.action,
                    state=expired.state,
                    closed_at=expired.updated_datetime,
                    after_days=policy.after_days,
                    photos=len(mine),
                    dry_run=dry_run,
                )
            )
        if expiry.requests and not dry_run:
            audit.info(
                "retention: %s: %d request(s) %s",
                department,
                len(expiry.requests),
                _DONE[policy.action],
            )
    return done


def _photo_files(urls: frozenset[str], folder: Path) -> dict[str, Path]:
    """The existing files behind ``urls`` inside the media folder, by URL.

    Only the media store writes ``file:`` URLs, but a file elsewhere is never deleted here.
    """
    root = folder.resolve()
    found: dict[str, Path] = {}
    for url in urls:
        path = local_path(Attachment(platform_ref="", url=url))
        if path is None:
            continue
        path = path.resolve()
        if path.is_relative_to(root) and path.is_file():
            found[url] = path
    return found
