"""A local X API v2 for tweepy: mentions, posts, direct messages, media, Account Activity.

It answers what the twitter channel calls the way X does: default fields plus those asked
for, ``expansions`` in ``includes``, newest first, RFC 7807 errors, ``x-rate-limit-*``
headers and a 429 past a limit. It checks credentials (the app's bearer token, or an OAuth
1.0a signature over the original ``https://api.twitter.com`` URL) and refuses what X
refuses: posts over 280 weighted characters, replies where nobody summoned the account,
direct messages over 10,000 characters, app-only tokens where a user must act.

Tests and the demo make residents act (:meth:`XEmulator.resident_mentions`,
:meth:`XEmulator.resident_dms`) and, in webhook mode, play X's side of Account Activity
(:meth:`XEmulator.crc_check`, :meth:`XEmulator.deliver_webhook`). Media upload is the v2
one-shot ``POST /2/media/upload``: X retired the v1.1 uploader, and the channel makes this
call itself because tweepy 4.17 has none.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import tweepy  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from junbridge.channels.twitter_length import parse_tweet
from junbridge.testing.emulators.base import Emulator
from junbridge.testing.emulators.x_activity import account_activity
from junbridge.testing.emulators.x_wire import (
    Problem,
    fields,
    hmac64,
    invalid_request,
    not_found,
    number,
    oauth1_valid,
    read_body,
    recorded,
    too_many_requests,
    user_context_only,
)
from junbridge.testing.emulators.x_world import Clock, Json, XWorld, conversation_id

Handler = Callable[[Json, bool], Awaitable[tuple[int, Json]]]

TWEET_FIELDS = frozenset(tweepy.TWEET_FIELDS) | {"note_tweet", "display_text_range"}
USER_FIELDS = frozenset(tweepy.USER_FIELDS)
MEDIA_FIELDS = frozenset(tweepy.MEDIA_FIELDS)
DM_EVENT_FIELDS = frozenset(tweepy.DIRECT_MESSAGE_EVENT_FIELDS)
EXPANSIONS = frozenset({"author_id", "sender_id", "attachments.media_keys"})
POST_LIMIT = 280
DM_LIMIT = 10_000
IMAGE_LIMIT = 5 * 1024 * 1024
# Per user per 15 minutes, from X's rate-limit table (docs snapshot 2026-08-22).
DEFAULT_LIMITS: Mapping[str, int] = {
    "GET /2/users/me": 75,
    "GET /2/users/:id/mentions": 300,
    "POST /2/tweets": 100,
    "POST /2/media/upload": 500,
}
WINDOW = timedelta(minutes=15)
_ASTRAL = re.compile("[\U00010000-\U0010ffff\ud800-\udfff]")


def utcnow() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class XJSONResponse(JSONResponse):
    """JSON as X writes it: characters past U+FFFF as a pair of escapes.

    A recorded X response holds 🤨 as ``\\uD83E\\uDD28``; so a post cut inside an emoji
    reaches the client as X sends it, with a lone ``\\ud83d``, instead of failing here.
    """

    def render(self, content: Any) -> bytes:
        """UTF-8 JSON with every UTF-16 pair (and any lone half of one) escaped."""
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return _ASTRAL.sub(lambda found: json.dumps(found[0])[1:-1], text).encode()


class XEmulator(Emulator):
    """X API v2 on 127.0.0.1, with the town's account ``@handle`` and residents in memory.

    Method names in :attr:`calls`, :meth:`fail_next` and ``rate_limits`` are
    ``"VERB /path/:param"``, also available as class attributes (``XEmulator.POST``).
    """

    name = "x"
    ME = "GET /2/users/me"
    USER_BY_NAME = "GET /2/users/by/username/:username"
    MENTIONS = "GET /2/users/:id/mentions"
    TWEET = "GET /2/tweets/:id"
    POST = "POST /2/tweets"
    DM = "POST /2/dm_conversations/with/:participant_id/messages"
    DM_IN_CONVERSATION = "POST /2/dm_conversations/:dm_conversation_id/messages"
    DM_EVENTS = "GET /2/dm_events"
    UPLOAD = "POST /2/media/upload"
    PATHS: ClassVar[Mapping[str, str]] = {
        ME: "/2/users/me",
        USER_BY_NAME: "/2/users/by/username/{username}",
        MENTIONS: "/2/users/{id}/mentions",
        TWEET: "/2/tweets/{id}",
        POST: "/2/tweets",
        DM: "/2/dm_conversations/with/{participant_id}/messages",
        DM_IN_CONVERSATION: "/2/dm_conversations/{dm_conversation_id}/messages",
        DM_EVENTS: "/2/dm_events",
        UPLOAD: "/2/media/upload",
    }

    def __init__(
        self,
        *,
        handle: str = "AytoJun",
        user_id: str = "1410000000000000001",
        bearer_token: str = "x-bearer-token",
        consumer_key: str = "x-consumer-key",
        consumer_secret: str = "x-consumer-secret",
        access_token: str = "1410000000000000001-x-access-token",
        access_token_secret: str = "x-access-token-secret",
        clock: Clock = utcnow,
        rate_limits: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.bearer_token = bearer_token
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        self.clock = clock
        self.rate_limits = {**DEFAULT_LIMITS, **(rate_limits or {})}
        self.world = XWorld(handle=handle, user_id=user_id, clock=clock, media_url=self._media_url)
        # Residents who do not accept direct messages from accounts they don't follow.
        self.closed_dms: set[str] = set()
        self._windows: dict[str, tuple[datetime, int]] = {}

    @property
    def handle(self) -> str:
        """The town account's username, without ``@``."""
        return self.world.handle

    @property
    def user_id(self) -> str:
        """The town account's id."""
        return self.world.user_id

    def _media_url(self, key: str) -> str:
        base = self.url if self._server is not None else "https://pbs.twimg.com"
        return f"{base}/media/{key}.jpg"

    # -- residents act -------------------------------------------------------------------

    def resident_mentions(
        self,
        text: str,
        *,
        user: str = "vecina",
        user_id: str | None = None,
        lang: str = "es",
        media: Sequence[str | bytes] = (),
        reply_to: str | None = None,
    ) -> Json:
        """A resident's post mentioning the town (``@handle`` is put first if missing).

        ``media`` are photos (their bytes, or a file name for a stand-in); ``reply_to``
        makes it a reply to that post. Returns the post with every field v2 has for it.
        """
        author = self.world.add_user(user, user_id=user_id)
        if f"@{self.handle}".lower() not in text.lower():
            text = f"@{self.handle} {text}"
        keys = self.world.photos(media)
        post = self.world.add_tweet(
            author["id"], text, lang=lang, media_keys=keys, reply_to=reply_to
        )
        self._changed.set()
        return post

    def resident_retweets(self, tweet_id: str, *, user: str = "vecino") -> Json:
        """A resident's retweet of ``tweet_id``: a mention too when the post names the town."""
        original = self.world.tweets[tweet_id]
        author = self.world.add_user(user)
        by = self.world.users[original["author_id"]]["username"]
        text = f"RT @{by}: {original['text']}"
        post = self.world.add_tweet(author["id"], text, lang="es", retweet_of=tweet_id)
        self._changed.set()
        return post

    def resident_edits(self, tweet_id: str, text: str) -> Json:
        """The author edits a post: X makes a new version with a new id."""
        if f"@{self.handle}".lower() not in text.lower():
            text = f"@{self.handle} {text}"
        post = self.world.edit_tweet(tweet_id, text)
        self._changed.set()
        return post

    def resident_dms(
        self,
        text: str,
        *,
        user: str = "vecina",
        user_id: str | None = None,
        media: Sequence[str | bytes] = (),
    ) -> Json:
        """A resident's direct message to the town; returns the DM event as v2 shows it."""
        author = self.world.add_user(user, user_id=user_id)
        keys = self.world.photos(media)
        event = self.world.add_dm(author["id"], self.user_id, text, media_keys=keys)
        self._changed.set()
        return event

    # -- what the town did ---------------------------------------------------------------

    def replies_to(self, tweet_id: str) -> list[Json]:
        """The posts answering ``tweet_id``, oldest first."""
        return self.world.replies_to(tweet_id)

    def thread_from(self, tweet_id: str) -> list[Json]:
        """The town's posts chained below ``tweet_id``: each one answers the one before."""
        out: list[Json] = []
        current = tweet_id
        while mine := [t for t in self.replies_to(current) if t["author_id"] == self.user_id]:
            out.append(mine[0])
            current = mine[0]["id"]
        return out

    def dms_with(self, user_id: str) -> list[Json]:
        """The DM events of the town's conversation with ``user_id``, oldest first."""
        conversation = conversation_id(self.user_id, user_id)
        found = [e for e in self.world.dms_of(user_id) if e["dm_conversation_id"] == conversation]
        return found[::-1]

    # -- X's side of webhooks ------------------------------------------------------------

    def account_activity(self, item: Json) -> Json:
        """The Account Activity event X would push for a post or DM event made here."""
        return account_activity(self.world, item)

    async def crc_check(self, url: str) -> bool:
        """X's challenge: GET ``url?crc_token=…``; True if the answer is the right HMAC."""
        token = secrets.token_urlsafe(24)
        async with httpx.AsyncClient() as client:
            answer = await client.get(url, params={"crc_token": token})
        if answer.status_code != 200:
            return False
        expected = "sha256=" + hmac64(self.consumer_secret, token.encode())
        return hmac.compare_digest(str(answer.json().get("response_token", "")), expected)

    async def deliver_webhook(
        self,
        url: str,
        events: Mapping[str, Any],
        *,
        consumer_secret: str | None = None,
        signed: bool = True,
    ) -> int:
        """POST ``events`` as X does, signed with the consumer secret; return the status.

        Another ``consumer_secret`` forges the signature; ``signed=False`` leaves it out.
        """
        body = json.dumps(events).encode()
        headers = {"content-type": "application/json"}
        if signed:
            key = self.consumer_secret if consumer_secret is None else consumer_secret
            headers["x-twitter-webhooks-signature"] = "sha256=" + hmac64(key, body)
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, content=body, headers=headers)
        return answer.status_code

    # -- failures ------------------------------------------------------------------------

    def throttle_next(self, method: str, *, reset: datetime) -> None:
        """Answer the next call to ``method`` with X's 429, the limit resetting at ``reset``."""
        problem = too_many_requests(self._limit_headers(method, 0, reset))
        self.fail_next(method, status=429, body=problem.body, headers=problem.headers)

    # -- the HTTP API --------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        """X API v2 paths, plus ``/media/{name}`` serving photos (as pbs.twimg.com does)."""
        handlers: Mapping[str, Handler] = {
            self.ME: self._me,
            self.USER_BY_NAME: self._user_by_name,
            self.MENTIONS: self._mentions,
            self.TWEET: self._tweet,
            self.POST: self._post,
            self.DM: self._dm,
            self.DM_IN_CONVERSATION: self._dm,
            self.DM_EVENTS: self._dm_events,
            self.UPLOAD: self._upload,
        }
        routes: list[BaseRoute] = [
            Route(self.PATHS[m], self._endpoint(m, h), methods=[m.split()[0]])
            for m, h in handlers.items()
        ]
        routes.append(Route("/media/{name}", self._media_file))
        return routes

    def _endpoint(self, method: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            params: Json = {**request.path_params, **request.query_params}
            headers: dict[str, str] = {}
            try:
                if request.method == "POST":
                    params.update(await read_body(request))
                user_context = self._authorized(request)
                failure = self.take_failure(method)
                if failure is not None:
                    self.record(method, recorded(params), failure.status)
                    return XJSONResponse(
                        failure.body, failure.status, headers=dict(failure.headers)
                    )
                headers = self._count(method)
                status, body = await handler(params, user_context)
            except Problem as problem:
                status, body = problem.status, problem.body
                headers.update(problem.headers)
            self.record(method, recorded(params), status)
            return XJSONResponse(body, status, headers=headers)

        return endpoint

    def _authorized(self, request: Request) -> bool:
        """True for OAuth 1.0a user context, False for the app's bearer token; else 401."""
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:], self.bearer_token):
            return False
        if oauth1_valid(
            request,
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            access_token=self.access_token,
            access_token_secret=self.access_token_secret,
        ):
            return True
        raise Problem(401, "Unauthorized", "Unauthorized")

    def _limit_headers(self, method: str, remaining: int, reset: datetime) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.rate_limits.get(method, 100)),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset.timestamp())),
        }

    def _count(self, method: str) -> dict[str, str]:
        """Count a call in its 15-minute window; X's 429 once the limit is used up."""
        limit = self.rate_limits.get(method)
        if limit is None:
            return {}
        now = self.clock()
        start, used = self._windows.get(method, (now, 0))
        if now >= start + WINDOW:
            start, used = now, 0
        if used >= limit:
            raise too_many_requests(self._limit_headers(method, 0, start + WINDOW))
        self._windows[method] = (start, used + 1)
        return self._limit_headers(method, limit - used - 1, start + WINDOW)

    # -- endpoints -----------------------------------------------------------------------

    async def _me(self, params: Json, user_context: bool) -> tuple[int, Json]:
        if not user_context:
            raise user_context_only()
        return 200, {"data": self._user(self.world.account, params)}

    async def _user_by_name(self, params: Json, user_context: bool) -> tuple[int, Json]:
        user = self.world.user_named(str(params["username"]))
        if user is None:
            return 200, {"errors": [not_found("user", "username", params["username"])]}
        return 200, {"data": self._user(user, params)}

    async def _mentions(self, params: Json, user_context: bool) -> tuple[int, Json]:
        user_id = str(params["id"])
        if user_id not in self.world.users:
            raise Problem(404, "Not Found Error", f"Could not find user with id: [{user_id}].")
        size = number(params, "max_results", 10, 5, 100)
        since, until = params.get("since_id"), params.get("until_id")
        found = [
            t
            for t in self.world.mentions(user_id)
            if (since is None or int(t["id"]) > int(since))
            and (until is None or int(t["id"]) < int(until))
        ]
        return 200, self._page(found, params, size)

    async def _tweet(self, params: Json, user_context: bool) -> tuple[int, Json]:
        tweet = self.world.tweets.get(str(params["id"]))
        if tweet is None:
            return 200, {"errors": [not_found("tweet", "id", params["id"])]}
        page = self._page([tweet], params, 1)
        page.pop("meta")
        page["data"] = page["data"][0]
        return 200, page

    async def _post(self, params: Json, user_context: bool) -> tuple[int, Json]:
        if not user_context:
            raise user_context_only()
        text = params.get("text") or ""
        keys = [self._media_key(m) for m in (params.get("media") or {}).get("media_ids", ())]
        if not text and not keys:
            raise invalid_request("text", "text or media is required")
        checked = parse_tweet(text)
        if text and checked.weightedLength > POST_LIMIT:
            raise Problem(
                403,
                "Forbidden",
                "Your Tweet text is too long. For more information on how Twitter determines "
                "text length see https://github.com/twitter/twitter-text.",
            )
        if text and not checked.valid:
            raise invalid_request("text", "the text has characters X does not accept")
        target = (params.get("reply") or {}).get("in_reply_to_tweet_id")
        if target is not None:
            target = str(target)
            if target not in self.world.tweets:
                detail = "You attempted to reply to a Tweet that is deleted or not visible to you."
                raise Problem(403, "Forbidden", detail)
            if not self.world.summoned(target):
                raise Problem(
                    403,
                    "Forbidden",
                    "Reply to this conversation is not allowed because you have not been "
                    "mentioned or otherwise engaged by the author of the post you are "
                    "replying to.",
                )
        post = self.world.add_tweet(self.user_id, text, media_keys=keys, reply_to=target)
        return 201, {"data": {k: post[k] for k in ("id", "text", "edit_history_tweet_ids")}}

    async def _dm(self, params: Json, user_context: bool) -> tuple[int, Json]:
        if not user_context:
            raise user_context_only()
        if "participant_id" in params:
            other = str(params["participant_id"])
        else:
            ids = str(params["dm_conversation_id"]).split("-")
            if len(ids) != 2 or self.user_id not in ids:
                raise Problem(404, "Not Found Error", "Could not find the DM conversation.")
            other = next((i for i in ids if i != self.user_id), self.user_id)
        if other not in self.world.users:
            raise invalid_request("participant_id", f"there is no user with id {other}")
        if other in self.closed_dms:
            raise Problem(403, "Forbidden", "You cannot send messages to this user.")
        text = params.get("text") or ""
        if len(text) > DM_LIMIT:
            raise invalid_request("text", f"text is longer than {DM_LIMIT} characters")
        keys = [self._media_key(a.get("media_id")) for a in params.get("attachments") or ()]
        if not text and not keys:
            raise invalid_request("text", "text or attachments is required")
        event = self.world.add_dm(self.user_id, other, text, media_keys=keys)
        data = {"dm_conversation_id": event["dm_conversation_id"], "dm_event_id": event["id"]}
        return 201, {"data": data}

    async def _dm_events(self, params: Json, user_context: bool) -> tuple[int, Json]:
        if not user_context:
            raise user_context_only()
        size = number(params, "max_results", 100, 1, 100)
        kinds = fields(params, "event_types") or {"MessageCreate"}
        found = [e for e in self.world.dms_of(self.user_id) if e["event_type"] in kinds]
        return 200, self._page(found, params, size, dm=True)

    async def _upload(self, params: Json, user_context: bool) -> tuple[int, Json]:
        if not user_context:
            raise user_context_only()
        data = params.get("media")
        if isinstance(data, str):  # the JSON form of the upload sends base64
            data = base64.b64decode(data)
        if not isinstance(data, bytes) or not data:
            raise invalid_request("media", "media is required")
        if len(data) > IMAGE_LIMIT:
            raise invalid_request("media", "an image may be at most 5 MB")
        media = self.world.add_photo(data)
        body = {"id": media["id"], "media_key": media["media_key"], "size": len(data)}
        return 200, {"data": {**body, "expires_after_secs": 86400}}

    async def _media_file(self, request: Request) -> Response:
        key = str(request.path_params["name"]).rsplit(".", 1)[0]
        if key not in self.world.media_bytes:
            return JSONResponse({"title": "Not Found", "status": 404}, 404)
        return Response(self.world.media_bytes[key], media_type="image/jpeg")

    # -- responses -----------------------------------------------------------------------

    def _media_key(self, media_id: object) -> str:
        key = f"3_{media_id}"
        if key not in self.world.media:
            raise invalid_request("media.media_ids", f"Your media IDs are invalid: {media_id}")
        return key

    def _page(self, items: list[Json], params: Json, size: int, *, dm: bool = False) -> Json:
        """A page of ``items`` (newest first) with the fields and includes asked for."""
        if dm:
            wanted = fields(params, "dm_event.fields", DM_EVENT_FIELDS) | {"id", "event_type"}
        else:
            wanted = fields(params, "tweet.fields", TWEET_FIELDS) | {"id", "edit_history_tweet_ids"}
        wanted.add("text")
        expansions = fields(params, "expansions", EXPANSIONS)
        fields(params, "user.fields", USER_FIELDS)
        fields(params, "media.fields", MEDIA_FIELDS)
        token = str(params.get("pagination_token") or "0")
        offset = int(token) if token.isdigit() else 0
        page = items[offset : offset + size]
        if not page:
            return {"meta": {"result_count": 0}}
        body: Json = {"data": [{k: v for k, v in i.items() if k in wanted} for i in page]}
        includes: Json = {}
        if expansions & {"author_id", "sender_id"}:
            authors = dict.fromkeys(i["sender_id" if dm else "author_id"] for i in page)
            includes["users"] = [self._user(self.world.users[a], params) for a in authors]
        if "attachments.media_keys" in expansions:
            keys = [k for i in page for k in (i.get("attachments") or {}).get("media_keys", ())]
            if keys:
                includes["media"] = [self._media(k, params) for k in dict.fromkeys(keys)]
        if includes:
            body["includes"] = includes
        meta: Json = {"result_count": len(page)}
        if not dm:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if offset + size < len(items):
            meta["next_token"] = str(offset + size)
        body["meta"] = meta
        return body

    def _user(self, user: Json, params: Json) -> Json:
        wanted = fields(params, "user.fields", USER_FIELDS) | {"id", "name", "username"}
        return {k: v for k, v in user.items() if k in wanted}

    def _media(self, key: str, params: Json) -> Json:
        wanted = fields(params, "media.fields", MEDIA_FIELDS) | {"media_key", "type"}
        return {k: v for k, v in self.world.media[key].items() if k in wanted}
