"""What every platform emulator shares: a server, a record of calls, injected failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from junbridge.web.server import RunningServer, serve


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One API call the bridge made, as the emulator understood it."""

    method: str
    params: Mapping[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: int = 200


@dataclass(slots=True, kw_only=True)
class Failure:
    """An error the emulator answers once, the next time ``method`` is called."""

    method: str
    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class Emulator:
    """Base class: subclasses define ``routes()`` for their platform's API."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self._server: RunningServer | None = None
        self._changed = asyncio.Event()

    def routes(self) -> Sequence[BaseRoute]:
        """The platform's HTTP API."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The base URL, once started."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} emulator is not started")
        return self._server.url

    async def start(self, *, port: int = 0) -> str:
        """Listen on 127.0.0.1 (a free port by default); returns the base URL."""
        self._server = await serve(Starlette(routes=list(self.routes())), port=port)
        return self._server.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- recording ------------------------------------------------------------------------

    def record(self, method: str, params: Mapping[str, Any], status: int = 200) -> Call:
        """Keep a call and wake anyone waiting for it."""
        call = Call(method=method, params=dict(params), status=status)
        self.calls.append(call)
        self._changed.set()
        return call

    def sent(self, method: str) -> list[Call]:
        """The successful calls to ``method``, oldest first."""
        return [c for c in self.calls if c.method == method and c.status < 400]

    async def wait_for(
        self,
        method: str,
        where: Callable[[Call], bool] = lambda call: True,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - the one bound a test needs
    ) -> list[Call]:
        """Wait until ``count`` successful calls to ``method`` match ``where``; return them.

        The timeout only bounds a test that would otherwise hang; nothing is timed.
        """

        async def matching() -> list[Call]:
            while True:
                found = [c for c in self.sent(method) if where(c)]
                if len(found) >= count:
                    return found
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(matching(), timeout)

    # -- failures -------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next call to ``method`` with this error (e.g. a 429 with retry_after)."""
        self.failures.append(
            Failure(method=method, status=status, body=body, headers=dict(headers or {}))
        )

    def take_failure(self, method: str) -> Failure | None:
        """The injected failure for ``method``, if any; it is used up."""
        for failure in self.failures:
            if failure.method == method:
                self.failures.remove(failure)
                return failure
        return None
