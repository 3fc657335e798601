"""The staff console's routes: sign-in, the queues, a request and its actions.

Pages are server-rendered (Jinja2, autoescaped) with nothing loaded from elsewhere, like the
public pages, and never cached. A signed-in member sees the requests of the departments
that list them in channels.yaml, and only those: a private request (the doctor, the police)
is found by its own department's staff alone; to anyone else it does not exist (404).
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from junbridge.dates import DAY_TIME, format_moment
from junbridge.departments import Department, place_of
from junbridge.media import local_path
from junbridge.model import (
    Attachment,
    HistoryEntry,
    IllegalTransition,
    ServiceRequest,
    Status,
)
from junbridge.store import staff_access
from junbridge.store.measures import AUTOMATIC, by_resident
from junbridge.web.console import access, actions
from junbridge.web.console.access import PATH, SESSION_COOKIE, Signed
from junbridge.web.console.signin import SignInPages
from junbridge.web.console.texts import text
from junbridge.web.templating import page_templates
from junbridge.web.texts import LANGUAGE_NAMES, page_language

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

TABS = ("mine", "unassigned", "soon", "open")
STATES = frozenset(s.value for s in Status)
# "Due soon": a promise that ends within this many hours, or has ended.
SOON_HOURS = 24
SUMMARY_LENGTH = 90
REFERENCE = re.compile(r"^[A-Za-z]{2,8}-\d{1,12}$")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class StaffConsole:
    """The console's routes for one bridge."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.templates = page_templates()

    def routes(self) -> list[BaseRoute]:
        """``/staff`` and everything under it."""
        return [
            Route(PATH, self.queue, methods=["GET"]),
            *SignInPages(self).routes(),
            Route(PATH + "/requests/{reference}", self.request_page, methods=["GET"]),
            Route(PATH + "/requests/{reference}/photos/{number:int}", self.photo, methods=["GET"]),
            Route(PATH + "/requests/{reference}/{verb}", self.act, methods=["POST"]),
        ]

    # -- who is asking --------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        """``web.public_url``: its scheme decides whether cookies say ``Secure``."""
        return self.bridge.config.web.public_url

    @property
    def tz(self) -> ZoneInfo:
        """The town's time zone."""
        return ZoneInfo(self.bridge.config.town.timezone)

    def language(self, request: Request) -> str:
        """The page's language: ``?lang=`` (or the form's), the browser's, the town's."""
        return page_language(
            request.query_params.get("lang"),
            request.headers.get("accept-language"),
            self.bridge.config.town.languages,
        )

    async def signed(self, request: Request) -> Signed | None:
        """The signed-in staff member, if the cookie names a live session of someone who is
        still staff of some department."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return None
        now = self.bridge.clock()
        session = await staff_access.find_session(self.bridge.store, session_id, now=now)
        if session is None:
            return None
        departments = access.departments_of(self.bridge.departments, session.staff)
        if not departments:
            return None
        return Signed(session_id=session_id, session=session, departments=tuple(departments))

    def owned(self, signed: Signed, request: ServiceRequest) -> Department | None:
        """The request's department if the member is its staff (else they cannot see it)."""
        return next((d for d in signed.departments if d.name == request.department), None)

    async def _request_of(self, signed: Signed, reference: str) -> ServiceRequest | None:
        if not REFERENCE.match(reference):
            return None
        found = await self.bridge.requests.get(reference)
        if found is None or self.owned(signed, found) is None:
            return None
        return found

    # -- the queue ----------------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        """The member's departments, each with the requests of the chosen tab."""
        signed = await self.signed(request)
        if signed is None:
            return self._redirect(request, PATH + "/login")
        language = self.language(request)
        tab = request.query_params.get("tab", "mine")
        tab = tab if tab in TABS else "mine"
        now = self.bridge.clock()
        counts = dict.fromkeys(TABS, 0)
        sections = []
        for department in signed.departments:
            open_requests = await self.bridge.requests.open(department.name)
            chosen = []
            for found in open_requests:
                for name in TABS:
                    if self._in_tab(name, found, signed, now):
                        counts[name] += 1
                if self._in_tab(tab, found, signed, now):
                    chosen.append(self._line(found, language, now))
            sections.append(
                {
                    "name": department.name,
                    "title": department.title(language),
                    "private": department.privacy == "private",
                    "lines": chosen,
                }
            )
        tabs = [
            {"name": name, "label": text(language, f"tab_{name}"), "count": counts[name]}
            for name in TABS
        ]
        return self._render(
            request,
            "staff_queue.html",
            language,
            signed=signed,
            tab=tab,
            tabs=tabs,
            sections=sections,
            soon_hours=SOON_HOURS,
        )

    def _in_tab(self, tab: str, request: ServiceRequest, signed: Signed, now: Any) -> bool:
        if tab == "mine":
            return request.assignee == signed.name
        if tab == "unassigned":
            return request.assignee is None
        if tab == "soon":
            due = request.expected_datetime
            return due is not None and due <= now + timedelta(hours=SOON_HOURS)
        return True

    def _line(self, request: ServiceRequest, language: str, now: Any) -> dict[str, Any]:
        due = request.expected_datetime
        summary = " ".join(request.description.split())
        if len(summary) > SUMMARY_LENGTH:
            summary = summary[: SUMMARY_LENGTH - 1] + "…"
        return {
            "reference": request.reference,
            "href": f"{PATH}/requests/{request.reference}?lang={language}",
            "status": text(language, f"state_{request.state.value}"),
            "summary": summary,
            "assignee": request.assignee,
            "expected": format_moment(due, DAY_TIME, language, self.tz) if due else None,
            "late": due is not None and due < now,
            "received": format_moment(request.requested_datetime, DAY_TIME, language, self.tz),
        }

    # -- one request --------------------------------------------------------------------------

    async def request_page(self, request: Request) -> Response:
        """One request of the member's departments: everything, and what can be done."""
        signed = await self.signed(request)
        if signed is None:
            return self._redirect(request, PATH + "/login")
        found = await self._request_of(signed, request.path_params["reference"].upper())
        if found is None:
            return self._not_found(request)
        done = request.query_params.get("done")
        language = self.language(request)
        notice = (
            text(language, "done", action=text(language, done)) if done in actions.ACTIONS else None
        )
        return self._request_view(request, signed, found, notice=notice)

    def _request_view(
        self,
        request: Request,
        signed: Signed,
        found: ServiceRequest,
        *,
        notice: str | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        language = self.language(request)
        department = self.owned(signed, found)
        assert department is not None
        photos = self._photos(found)
        due = found.expected_datetime
        return self._render(
            request,
            "staff_request.html",
            language,
            status_code=status,
            signed=signed,
            notice=notice,
            error=error,
            reference=found.reference,
            service=department.title(language),
            private=found.privacy == "private",
            department_title=department.title(language),
            status=text(language, f"state_{found.state.value}"),
            is_open=found.state.is_open,
            description=found.description,
            address=found.address or found.address_id,
            place=(found.lat, found.long)
            if found.lat is not None and found.long is not None
            else None,
            channel=found.channel,
            assignee=found.assignee,
            expected=format_moment(due, DAY_TIME, language, self.tz) if due else None,
            late=due is not None and due < self.bridge.clock() and found.state.is_open,
            received=format_moment(found.requested_datetime, DAY_TIME, language, self.tz),
            photos=[
                {
                    "src": f"{PATH}/requests/{found.reference}/photos/{number}",
                    "alt": text(language, "photo_alt", number=number, reference=found.reference),
                }
                for number in range(1, len(photos) + 1)
            ],
            history=[self._history_line(entry, language) for entry in found.history],
            actions=actions.available(found),
            members=[m.name for m in department.settings.staff],
            action_url=f"{PATH}/requests/{found.reference}",
            has_place=place_of(department) is not None,
        )

    def _history_line(self, entry: HistoryEntry, language: str) -> dict[str, str]:
        if entry.action in STATES:  # a change of state, or "seen" once further along
            what = text(language, f"state_{entry.action}")
        else:
            key = f"action_{entry.action}"
            what = text(language, key) if _known(language, key) else entry.action
        if by_resident(entry.by):
            who = text(language, "by_resident")
        elif entry.by == AUTOMATIC:
            who = text(language, "by_automatic")
        else:
            who = entry.by
        return {
            "when": format_moment(entry.at, DAY_TIME, language, self.tz),
            "what": what,
            "who": who,
            "note": entry.note or "",
            "via": entry.channel or "",
        }

    def _photos(self, request: ServiceRequest) -> list[Attachment]:
        """The request's photos kept in the media folder, in order."""
        return [attachment for attachment, _ in self.bridge.media.photos(request.attachments)]

    async def photo(self, request: Request) -> Response:
        """A photo of a request the member may see."""
        signed = await self.signed(request)
        found = (
            await self._request_of(signed, request.path_params["reference"].upper())
            if signed is not None
            else None
        )
        photos = self._photos(found) if found is not None else []
        number = int(request.path_params["number"])
        if not 1 <= number <= len(photos):
            return Response("not found", status_code=404, media_type="text/plain")
        attachment = photos[number - 1]
        path = local_path(attachment)
        assert path is not None
        kind = attachment.mime_type or mimetypes.guess_type(path.name)[0] or ""
        if not kind.startswith("image/"):
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(
            path,
            media_type=kind,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
        )

    # -- actions ------------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        """One action from the request page, as the chat command of the same name."""
        signed = await self.signed(request)
        if signed is None:
            return self._redirect(request, PATH + "/login")
        verb = request.path_params["verb"]
        found = await self._request_of(signed, request.path_params["reference"].upper())
        if found is None or verb not in actions.ACTIONS:
            return self._not_found(request)
        form = await request.form(
            max_files=1, max_fields=20, max_part_size=actions.MAX_PHOTO + 64 * 1024
        )
        try:
            return await self._act(request, signed, found, verb, form)
        finally:
            await form.close()  # an uploaded photo's temporary file

    async def _act(
        self, request: Request, signed: Signed, found: ServiceRequest, verb: str, form: FormData
    ) -> Response:
        if not access.same(access.form_field(form, "csrf"), signed.session.csrf):
            return self._request_view(
                request,
                signed,
                found,
                error=text(self.language(request), "expired_form"),
                status=403,
            )
        department = self.owned(signed, found)
        assert department is not None
        member = department.staff_member(signed.name)
        assert member is not None
        language = self.language(request)
        said = access.form_field(form, actions.TEXT_FIELDS.get(verb, "text")) or ""
        if verb == "assign":
            said = access.form_field(form, "member") or signed.name
        try:
            photo = await self._photo_of(form) if verb == "resolve" else None
        except actions.NotAPhoto:
            return self._request_view(
                request, signed, found, error=text(language, "not_a_photo"), status=400
            )
        except OverflowError:
            mb = actions.MAX_PHOTO // (1024 * 1024)
            return self._request_view(
                request, signed, found, error=text(language, "photo_too_big", mb=mb), status=413
            )
        action = actions.Action(
            verb=verb, reference=found.reference, text=said.strip()[:4000], photo=photo
        )
        try:
            await actions.carry_out(self.bridge, action, member, department)
        except (IllegalTransition, ValueError) as exc:
            fresh = await self.bridge.requests.get(found.reference) or found
            return self._request_view(request, signed, fresh, error=str(exc), status=409)
        except LookupError:
            return self._not_found(request)
        query = urlencode({"done": verb, "lang": language})
        return RedirectResponse(f"{PATH}/requests/{found.reference}?{query}", status_code=303)

    async def _photo_of(self, form: FormData) -> Attachment | None:
        upload = form.get("photo")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return None
        data = await upload.read(actions.MAX_PHOTO + 1)
        if not data:
            return None
        if len(data) > actions.MAX_PHOTO:
            raise OverflowError("photo too big")
        return await asyncio.to_thread(actions.keep_photo, self.bridge, data, upload.filename)

    # -- rendering ----------------------------------------------------------------------------

    def _redirect(self, request: Request, path: str) -> Response:
        language = self.language(request)
        return RedirectResponse(f"{path}?lang={language}", status_code=303, headers=HEADERS)

    def _not_found(self, request: Request) -> Response:
        language = self.language(request)
        return self._render(
            request,
            "staff_message.html",
            language,
            status_code=404,
            title=text(language, "not_found_title"),
            message=text(language, "not_found"),
        )

    def _render(
        self, request: Request, name: str, language: str, status_code: int = 200, **context: Any
    ) -> Response:
        languages = [
            {"code": code, "name": LANGUAGE_NAMES.get(code, code), "current": code == language}
            for code in ("es", "en")
            if code in [lang.split("-")[0] for lang in self.bridge.config.town.languages]
        ]

        def t(key: str, **params: object) -> str:
            return text(language, key, **params)

        context.setdefault("signed", None)
        return self.templates.TemplateResponse(
            request,
            name,
            {
                "t": t,
                "lang": language,
                "town": self.bridge.config.town.name,
                "languages": languages,
                **context,
            },
            status_code=status_code,
            headers={**HEADERS, "Content-Language": language, "Vary": "Accept-Language, Cookie"},
        )


def _known(language: str, key: str) -> bool:
    try:
        text(language, key)
    except KeyError:
        return False
    return True
