"""The bridge's Starlette app: webhooks, the public pages, the staff console, Open311,
health, metrics and the admin API, behind a cap on request bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from junbridge.web import open311
from junbridge.web.admin import admin_routes, admin_token
from junbridge.web.console import StaffConsole
from junbridge.web.console.actions import MAX_PHOTO
from junbridge.web.health import health
from junbridge.web.limits import BodyLimit
from junbridge.web.metrics import metrics
from junbridge.web.public import FIGURES_SECONDS, PublicPages

if TYPE_CHECKING:
    from junbridge.activity import Activity
    from junbridge.bridge import Bridge

WEBHOOKS = "/webhooks/"
STAFF_UPLOADS = "/staff/requests/"


def create_app(bridge: Bridge, *, figures_seconds: float = FIGURES_SECONDS) -> Starlette:
    """The HTTP app for ``bridge``: the routes of its running channels, ``/`` and
    ``/requests/...`` (public pages, figures read at most every ``figures_seconds``), the
    staff console (``/staff``), ``/healthz``, ``/metrics``, Open311 (``/open311/v2/``), and
    ``/admin/...`` when an admin token is configured."""
    routes: list[BaseRoute] = [
        Route("/healthz", health(bridge), methods=["GET"]),
        Route("/metrics", metrics(bridge), methods=["GET"]),
    ]
    for channel in bridge.channels.values():
        routes.extend(channel.routes())
    token = admin_token(bridge.config)
    if token is not None:
        routes.extend(admin_routes(bridge, token))
    routes.extend(open311.routes(bridge))
    routes.extend(StaffConsole(bridge).routes())
    routes.extend(PublicPages(bridge, figures_seconds=figures_seconds).routes())
    app = Starlette(routes=routes)
    app.add_middleware(CountRejections, activity=bridge.activity)
    # Outermost: an oversized body is refused before anything reads it. A staff member's
    # photo of a fix (the console's resolve) may be bigger than any webhook.
    app.add_middleware(BodyLimit, larger={STAFF_UPLOADS: MAX_PHOTO + 64 * 1024})
    return app


class CountRejections:
    """Counts the webhook calls a channel refused (401/403: forged, unsigned, stale), per
    channel, whichever code refused them (ours or a platform SDK's)."""

    def __init__(self, app: ASGIApp, *, activity: Activity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(WEBHOOKS):
            await self.app(scope, receive, send)
            return
        channel = path[len(WEBHOOKS) :].split("/", 1)[0]

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                self.activity.webhook_rejected(channel)
            await send(message)

        await self.app(scope, receive, counted)
