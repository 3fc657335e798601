"""The parts of X's API that tweepy 4.17 leaves to us, and how its errors read for the outbox.

tweepy hard-codes ``https://api.twitter.com`` and has no v2 media upload, no webhook
helpers: here are a client middleware that points its session elsewhere, the one-shot
``POST /2/media/upload``, the webhook CRC answer and signature, and the mapping of X's
HTTP answers to :class:`DeliveryError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import aiohttp
from yarl import URL

from junbridge.channels.base import DeliveryError
from junbridge.media import local_path
from junbridge.model import Attachment

X_API = "https://api.twitter.com"  # tweepy's own host, hard-coded in the SDK
X_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
MEDIA_UPLOAD = "https://api.x.com/2/media/upload"
PHOTO_LIMIT = 5 * 1024 * 1024  # X's limit for an image


def redirect(api_url: str) -> tuple[aiohttp.ClientMiddlewareType, ...]:
    """Client middleware sending X API calls to ``api_url``; none when it is X itself.

    The rewrite happens after tweepy signed the request, so an OAuth 1.0a signature stays
    computed over the original URL, as X checks it.
    """
    target = URL(api_url)
    if target.host in X_HOSTS:
        return ()

    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if request.url.host in X_HOSTS:
            request.url = (
                request.url.with_scheme(target.scheme)
                .with_host(target.raw_host or "")
                .with_port(target.explicit_port)
            )
        return await handler(request)

    return (middleware,)


def crc_response_token(consumer_secret: str, crc_token: str) -> str:
    """The answer to X's webhook challenge: ``sha256=`` + base64 HMAC-SHA256 of the token."""
    digest = hmac.new(consumer_secret.encode(), crc_token.encode(), hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def signature(consumer_secret: str, body: bytes) -> str:
    """The ``x-twitter-webhooks-signature`` X puts on a webhook body."""
    digest = hmac.new(consumer_secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds from ``now`` until ``x-rate-limit-reset`` (epoch seconds), if X sent it."""
    reset = headers.get("x-rate-limit-reset", "")
    if not reset.isdigit():
        return None
    return max(1.0, int(reset) - now.timestamp())


def delivery_error(
    status: int, headers: Mapping[str, str], detail: object, now: datetime
) -> DeliveryError:
    """X's answer as a DeliveryError: 429 waits for the reset; refusals are permanent."""
    if status == 429:
        return DeliveryError(f"X rate limit: {detail}", retry_after=retry_after(headers, now))
    # Refused as such (too long, not allowed here, gone): trying again cannot help. A 401 is
    # not among them: fixed credentials deliver what waits.
    permanent = status in (400, 403, 404)
    return DeliveryError(f"X answered {status}: {detail}", permanent=permanent)


async def upload_photo(
    session: aiohttp.ClientSession,
    photo: Attachment,
    *,
    oauth: Any,
    category: str,
    now: Callable[[], datetime],
) -> str:
    """Fetch ``photo.url`` and upload it with ``POST /2/media/upload``; return the media id.

    One shot, multipart, signed with ``oauth`` (an ``oauthlib.oauth1.Client``) as tweepy
    signs its own calls: a multipart body is not part of an OAuth 1.0a signature.
    """
    kept = local_path(photo)
    if kept is not None:
        # A photo the bridge already fetched from another platform (a staff photo on Slack).
        if not kept.is_file():
            raise DeliveryError(f"the photo {kept} is not a file here", permanent=True)
        data = kept.read_bytes()
        mime = photo.mime_type or "image/jpeg"
    elif photo.url and photo.url.startswith(("http://", "https://")):
        async with session.get(photo.url) as fetched:
            if fetched.status >= 400:
                status = fetched.status
                raise DeliveryError(f"photo {photo.url} answered {status}", permanent=status < 500)
            data = await fetched.content.read(PHOTO_LIMIT + 1)
            mime = photo.mime_type or fetched.content_type or "image/jpeg"
    else:
        raise DeliveryError("X needs the photo itself; this one has no URL", permanent=True)
    if len(data) > PHOTO_LIMIT:
        raise DeliveryError("the photo is over X's 5 MB limit", permanent=True)
    form = aiohttp.FormData()
    form.add_field("media", data, filename=photo.name or "photo.jpg", content_type=mime)
    form.add_field("media_category", category)
    _, headers, _ = oauth.sign(MEDIA_UPLOAD, "POST")
    async with session.post(MEDIA_UPLOAD, data=form, headers=headers) as response:
        try:
            answer = await response.json(content_type=None)
        except ValueError:
            answer = {"detail": await response.text()}
        if response.status >= 300:
            raise delivery_error(response.status, response.headers, answer, now())
    return str(answer["data"]["id"])
