"""How the X emulator reads requests and writes errors: X API v2's wire conventions.

Errors are RFC 7807 problems (``{title, detail, type, status}``) with the right HTTP
status, as tweepy expects (it reads a JSON body on every non-2xx). OAuth 1.0a signatures
are checked over the original ``https://api.twitter.com`` (or ``api.x.com``) URL: tweepy
signs before the test's redirect sends the request here.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from oauthlib.oauth1.rfc5849 import signature as oauth1  # type: ignore[import-untyped]
from oauthlib.oauth1.rfc5849 import utils as oauth1_utils
from starlette.requests import Request

Json = dict[str, Any]
X_ORIGINS = ("https://api.twitter.com", "https://api.x.com")


class Problem(Exception):
    """An error answered as X does: RFC 7807 ``{title, detail, type, status}``."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = dict(headers or {})
        self.body = {"title": title, "detail": detail, "type": type, "status": status, **extra}


def invalid_request(parameter: str, message: str) -> Problem:
    """X's 400 for a bad parameter."""
    return Problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        type="https://api.twitter.com/2/problems/invalid-request",
        errors=[{"parameters": {parameter: [message]}, "message": message}],
    )


def user_context_only() -> Problem:
    """X's 403 when an app-only bearer token calls an endpoint that acts as a user."""
    return Problem(
        403,
        "Unsupported Authentication",
        "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
        "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
        type="https://api.twitter.com/2/problems/unsupported-authentication",
    )


def too_many_requests(headers: Mapping[str, str]) -> Problem:
    """X's 429, with its ``x-rate-limit-*`` headers."""
    return Problem(429, "Too Many Requests", "Too Many Requests", headers=headers)


def not_found(kind: str, parameter: str, value: object) -> Json:
    """The ``errors`` item X answers (with HTTP 200) for a lookup of something missing."""
    return {
        "value": str(value),
        "detail": f"Could not find {kind} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": parameter,
        "resource_id": str(value),
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def fields(params: Json, name: str, allowed: frozenset[str] | None = None) -> set[str]:
    """A comma-separated parameter as a set; unknown names are X's 400."""
    found = {f for f in str(params.get(name, "")).split(",") if f}
    if allowed is not None and found - allowed:
        unknown = ",".join(sorted(found - allowed))
        raise invalid_request(name, f"The `{name}` query parameter value [{unknown}] is not valid")
    return found


def number(params: Json, name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within X's bounds."""
    raw = params.get(name)
    if raw is None:
        return default
    value = int(raw) if str(raw).isdigit() else low - 1
    if not low <= value <= high:
        message = f"The `{name}` query parameter value [{raw}] is not between {low} and {high}"
        raise invalid_request(name, message)
    return value


def hmac64(key: str, message: bytes) -> str:
    """base64(HMAC-SHA256(key, message)): X's CRC answers and webhook signatures."""
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


async def read_body(request: Request) -> Json:
    """A POST body: JSON, or a multipart form (the media upload) read with the stdlib."""
    kind = request.headers.get("content-type", "")
    raw = await request.body()
    if kind.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + kind.encode() + b"\r\n\r\n" + raw
        )
        form: Json = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            form[str(name)] = payload if part.get_filename() else payload.decode()
        return form
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise invalid_request("body", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid_request("body", "the body must be a JSON object")
    return body


def recorded(params: Json) -> Json:
    """What the call log keeps of the parameters: bytes as their size."""
    return {k: f"<{len(v)} bytes>" if isinstance(v, bytes) else v for k, v in params.items()}


def oauth1_valid(
    request: Request,
    *,
    consumer_key: str,
    consumer_secret: str,
    access_token: str,
    access_token_secret: str,
) -> bool:
    """Whether the request's ``Authorization: OAuth …`` is a good HMAC-SHA1 signature.

    Query parameters count; a JSON or multipart body does not, as in RFC 5849.
    """
    header = request.headers.get("authorization", "")
    if not header.startswith("OAuth "):
        return False
    given = dict(oauth1_utils.parse_authorization_header(header))
    if given.get("oauth_consumer_key") != consumer_key or given.get("oauth_token") != access_token:
        return False
    if given.get("oauth_signature_method") != "HMAC-SHA1":
        return False
    collected = oauth1.collect_parameters(
        uri_query=request.url.query, headers={"Authorization": header}
    )
    normalized = oauth1.normalize_parameters(collected)
    key = f"{oauth1_utils.escape(consumer_secret)}&{oauth1_utils.escape(access_token_secret)}"
    claimed = oauth1_utils.unescape(given.get("oauth_signature", ""))
    for origin in X_ORIGINS:
        uri = oauth1.base_string_uri(origin + request.url.path)
        base = oauth1.signature_base_string(request.method, uri, normalized)
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
        if hmac.compare_digest(base64.b64encode(digest).decode(), claimed):
            return True
    return False
