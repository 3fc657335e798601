"""The bridge's Starlette app: each running channel's webhooks, and health."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from junbridge.web import open311
from junbridge.web.limits import BodyLimit

if TYPE_CHECKING:
    from junbridge.bridge import Bridge


def create_app(bridge: Bridge) -> Starlette:
    """The HTTP app for ``bridge``: ``/healthz``, the routes of its running channels and
    Open311 (``/open311/v2/``)."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "town": bridge.config.town.name, "channels": sorted(bridge.channels)}
        )

    routes: list[BaseRoute] = [Route("/healthz", healthz)]
    for channel in bridge.channels.values():
        routes.extend(channel.routes())
    routes.extend(open311.routes(bridge))
    return Starlette(routes=routes, middleware=[Middleware(BodyLimit)])
