"""Running an ASGI app with uvicorn inside the bridge's own asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its owner (``junbridge run``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(slots=True)
class RunningServer:
    """A server listening on ``url`` until :meth:`stop`."""

    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful after asking for port 0)."""
        return int(self.url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        """Stop accepting connections and finish the requests in flight."""
        self.server.should_exit = True
        await self.task


async def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start ``app`` on ``host:port`` (0 picks a free port) and return once it listens."""
    # log_config=None: uvicorn's lines go through the process's logging set-up (the console,
    # or ``junbridge run --log-format json``), not a format of its own.
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", log_config=None, lifespan="off"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error (port in use, ...)
            raise RuntimeError(f"server on {host}:{port} stopped before it started")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(url=f"http://{host}:{bound}", server=server, task=task)
