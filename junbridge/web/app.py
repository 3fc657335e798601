"""The bridge's Starlette app: each running channel's webhooks, and health."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from junbridge.bridge import Bridge


def create_app(bridge: Bridge) -> Starlette:
    """The HTTP app for ``bridge``: ``/healthz`` and the routes of its running channels."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "town": bridge.config.town.name, "channels": sorted(bridge.channels)}
        )

    routes: list[BaseRoute] = [Route("/healthz", healthz)]
    for channel in bridge.channels.values():
        routes.extend(channel.routes())
    return Starlette(routes=routes)
