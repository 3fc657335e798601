"""What the bridge hands back: the result of one message, and read access to requests."""

from __future__ import annotations

from dataclasses import dataclass

from junbridge.model import Message, Reply, ServiceRequest, Status
from junbridge.store import Store


@dataclass(frozen=True, slots=True, kw_only=True)
class Handled:
    """What became of one inbound message."""

    message: Message
    duplicate: bool = False
    request: ServiceRequest | None = None
    replies: tuple[Reply, ...] = ()
    department: str | None = None
    error: str | None = None


class Requests:
    """Read access to service requests, for the CLI, the web pages and tests."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def open(self, department: str | None = None) -> list[ServiceRequest]:
        """Requests not yet closed, newest first."""
        return list(await self._store.list(department=department, open_only=True))

    async def all(
        self, *, department: str | None = None, state: Status | None = None
    ) -> list[ServiceRequest]:
        """Every request, newest first, optionally filtered."""
        return list(await self._store.list(department=department, state=state))

    async def get(self, reference: str) -> ServiceRequest | None:
        """One request by reference (``JUN-0142``), with its history."""
        return await self._store.get_request(reference.upper())
