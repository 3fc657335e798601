"""The admin API, behind a bearer token: reload channels.yaml, see and retry failed replies.

It exists only when ``web.admin_token`` is set in channels.yaml (``{$env: NAME}``) and the
variable holds a token of at least ``MIN_TOKEN_LENGTH`` characters; otherwise ``/admin``
answers 404 like any unknown path. Each call must carry ``Authorization: Bearer TOKEN``;
the token is compared in constant time, and a missing or wrong one gets 401.

- ``POST /admin/reload``: the departments' settings are taken from channels.yaml again
  (``junbridge.reload``); 200 with what was rebuilt, 409 "restart needed" with what changed
  elsewhere, 422 with the file's problems. Nothing is applied unless all of it can be.
- ``GET /admin/deliveries/failed``: replies the outbox gave up on, newest first.
- ``POST /admin/deliveries/{id}/retry``: queue one of them again; 404 if it is not failed.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from junbridge.config import ConfigError
from junbridge.config.errors import Problem, line_of
from junbridge.config.reader import display_name
from junbridge.config.settings import MissingSecret
from junbridge.markup import parse, plain
from junbridge.reload import RestartNeeded, reload_departments
from junbridge.store import redelivery

if TYPE_CHECKING:
    from junbridge.bridge import Bridge
    from junbridge.config import Config

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16


def token_problem(config: Config) -> Problem | None:
    """What is wrong with ``web.admin_token``, if it is set and unusable (for ``check``)."""
    secret = config.web.admin_token
    if secret is None:
        return None
    message = None
    try:
        if len(secret.get()) < MIN_TOKEN_LENGTH:
            message = (
                f"the token in {secret.env} is shorter than {MIN_TOKEN_LENGTH} characters "
                "(make one with: openssl rand -hex 32); the admin API stays off"
            )
    except MissingSecret as exc:
        message = f"{exc}; the admin API stays off"
    if message is None:
        return None
    return Problem(
        file=display_name(config.path),
        line=line_of(config.lines, ["web", "admin_token"]),
        path="web.admin_token",
        message=message,
    )


def admin_token(config: Config) -> str | None:
    """The admin API's token, or None when the API is off (no token, or an unusable one)."""
    secret = config.web.admin_token
    if secret is None:
        return None
    problem = token_problem(config)
    if problem is not None:
        log.warning("%s", problem)
        return None
    return secret.get()


def admin_routes(bridge: Bridge, token: str) -> list[BaseRoute]:
    """The admin API's routes, each refusing a request without ``token``."""
    expected = token.encode()

    def authorized(request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), expected
        )

    def refused() -> JSONResponse:
        return JSONResponse(
            {"error": "a valid admin token is needed (Authorization: Bearer TOKEN)"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="junbridge admin"'},
        )

    async def reload(request: Request) -> JSONResponse:
        if not authorized(request):
            return refused()
        try:
            done = reload_departments(bridge)
        except ConfigError as exc:
            return JSONResponse(
                {"error": "channels.yaml is not valid", "problems": [str(p) for p in exc.problems]},
                status_code=422,
            )
        except RestartNeeded as exc:
            return JSONResponse(
                {
                    "error": "restart needed: only departments' settings are reloaded",
                    "changed": exc.changed,
                },
                status_code=409,
            )
        return JSONResponse({"reloaded": list(done.departments)})

    async def failed(request: Request) -> JSONResponse:
        if not authorized(request):
            return refused()
        rows = await redelivery.failed(bridge.store)
        return JSONResponse({"failed": [_delivery(row) for row in rows]})

    async def retry(request: Request) -> JSONResponse:
        if not authorized(request):
            return refused()
        outbox_id = int(request.path_params["id"])
        if not await redelivery.retry(bridge.store, outbox_id, now=bridge.clock()):
            return JSONResponse({"error": f"no failed delivery {outbox_id}"}, status_code=404)
        log.info("failed delivery %s queued again from the admin API", outbox_id)
        return JSONResponse({"queued": outbox_id})

    return [
        Route("/admin/reload", reload, methods=["POST"]),
        Route("/admin/deliveries/failed", failed, methods=["GET"]),
        Route("/admin/deliveries/{id:int}/retry", retry, methods=["POST"]),
    ]


def _delivery(row: Any) -> dict[str, Any]:
    reply = row.reply
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "request_reference": row.request_reference,
        "channel": reply.channel,
        "conversation": reply.conversation,
        "private": reply.private,
        "attempts": row.attempts,
        "error": row.error,
        "text": plain(parse(reply.text)),
    }
