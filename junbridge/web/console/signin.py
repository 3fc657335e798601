"""The staff console's sign-in: a one-time link, or a name and a password; and signing out.

See :mod:`junbridge.web.console.access` for what is kept and checked, and
:mod:`junbridge.desk.sign_in` for how links are made and sent.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from junbridge.desk import sign_in
from junbridge.store import staff_access
from junbridge.store.staff_access import StaffSession
from junbridge.web.console import access
from junbridge.web.console.access import FORM_COOKIE, PATH, SESSION_COOKIE
from junbridge.web.console.texts import text

if TYPE_CHECKING:
    from junbridge.web.console.pages import StaffConsole


class SignInPages:
    """``/staff/login...`` and ``/staff/logout``, rendered by ``console``."""

    def __init__(self, console: StaffConsole) -> None:
        self.console = console
        self.bridge = console.bridge
        self.attempts = access.Attempts()

    @property
    def public_url(self) -> str:
        """``web.public_url``: its scheme decides whether cookies say ``Secure``."""
        return self.bridge.config.web.public_url

    def routes(self) -> list[BaseRoute]:
        """The sign-in page, its two forms, the link's page and its button, sign-out."""
        return [
            Route(PATH + "/login", self.sign_in_page, methods=["GET"]),
            Route(PATH + "/login/link", self.ask_link, methods=["POST"]),
            Route(PATH + "/login/password", self.password, methods=["POST"]),
            Route(PATH + "/login/{token}", self.link_page, methods=["GET"]),
            Route(PATH + "/login/{token}", self.use_link, methods=["POST"]),
            Route(PATH + "/logout", self.sign_out, methods=["POST"]),
        ]

    async def sign_in_page(self, request: Request) -> Response:
        """The sign-in page: ask for a link, or give a password."""
        if await self.console.signed(request) is not None:
            return self.console._redirect(request, PATH)
        return self._sign_in(request)

    def _sign_in(
        self, request: Request, *, error: str | None = None, status: int = 200
    ) -> Response:
        language = self.console.language(request)
        form_token = request.cookies.get(FORM_COOKIE) or access.new_secret()
        response = self.console._render(
            request,
            "staff_login.html",
            language,
            status_code=status,
            csrf=form_token,
            error=text(language, error) if error else None,
            minutes=int(sign_in.LINK_TTL.total_seconds() // 60),
        )
        access.set_cookie(
            response,
            FORM_COOKIE,
            form_token,
            max_age=access.FORM_TTL,
            public_url=self.public_url,
        )
        return response

    async def _form(self, request: Request) -> FormData:
        return await request.form(max_files=0, max_fields=20, max_part_size=64 * 1024)

    def _form_ok(self, request: Request, form: FormData) -> bool:
        """The double-submit check of the sign-in forms: the field and the cookie agree."""
        cookie = request.cookies.get(FORM_COOKIE)
        given = access.form_field(form, "csrf")
        return bool(cookie) and access.same(given, cookie or "")

    async def ask_link(self, request: Request) -> Response:
        """A link to the staff place of whoever is named: the same answer for anybody."""
        form = await self._form(request)
        if not self._form_ok(request, form):
            return self._sign_in(request, error="expired_form", status=403)
        who = (access.form_field(form, "who") or "").strip()[:100]
        found = access.find_member(self.bridge.departments, who)
        if found is not None:
            await sign_in.send_link(self.bridge, *found)
        language = self.console.language(request)
        return self.console._render(
            request,
            "staff_message.html",
            language,
            title=text(language, "link_sent_title"),
            message=text(
                language,
                "link_sent",
                who=who,
                minutes=int(sign_in.LINK_TTL.total_seconds() // 60),
            ),
        )

    async def password(self, request: Request) -> Response:
        """Sign in with a name (or handle) and the password an admin set."""
        form = await self._form(request)
        if not self._form_ok(request, form):
            return self._sign_in(request, error="expired_form", status=403)
        who = (access.form_field(form, "who") or "").strip()[:100]
        given = (access.form_field(form, "password") or "")[:1000]
        now = self.bridge.clock()
        if self.attempts.held(who, now):
            return self._sign_in(request, error="too_many", status=429)
        found = access.find_member(self.bridge.departments, who)
        stored = await staff_access.password_of(self.bridge.store, found[0].name) if found else None
        matches = await asyncio.to_thread(access.password_matches, given, stored)
        if found is None or not matches:
            self.attempts.failed(who, now)
            return self._sign_in(request, error="wrong_password", status=401)
        self.attempts.passed(who)
        member, department = found
        return await self._open(request, member.name, department.name)

    async def link_page(self, request: Request) -> Response:
        """The page a link opens: a button that uses it. Opening it uses nothing, so a
        chat's link preview cannot spend it."""
        language = self.console.language(request)
        form_token = request.cookies.get(FORM_COOKIE) or access.new_secret()
        response = self.console._render(
            request,
            "staff_link.html",
            language,
            csrf=form_token,
            action=request.url.path,
        )
        access.set_cookie(
            response,
            FORM_COOKIE,
            form_token,
            max_age=access.FORM_TTL,
            public_url=self.public_url,
        )
        return response

    async def use_link(self, request: Request) -> Response:
        """Use up the link and sign in."""
        form = await self._form(request)
        if not self._form_ok(request, form):
            return self._sign_in(request, error="expired_form", status=403)
        session_id, now = access.new_secret(), self.bridge.clock()
        session = await staff_access.redeem(
            self.bridge.store,
            request.path_params["token"],
            session_id=session_id,
            csrf=access.new_secret(),
            now=now,
            until=now + access.SESSION_TTL,
        )
        if session is None:
            return self._sign_in(request, error="link_bad", status=400)
        return self._signed_in(request, session_id)

    async def _open(self, request: Request, name: str, department: str) -> Response:
        session_id, now = access.new_secret(), self.bridge.clock()
        session = StaffSession(
            staff=name,
            department=department,
            csrf=access.new_secret(),
            expires_at=now + access.SESSION_TTL,
        )
        await staff_access.open_session(self.bridge.store, session_id, session, now=now)
        return self._signed_in(request, session_id)

    def _signed_in(self, request: Request, session_id: str) -> Response:
        response = self.console._redirect(request, PATH)
        access.set_cookie(
            response,
            SESSION_COOKIE,
            session_id,
            max_age=access.SESSION_TTL,
            public_url=self.public_url,
        )
        access.forget_cookie(response, FORM_COOKIE, public_url=self.public_url)
        return response

    async def sign_out(self, request: Request) -> Response:
        """End the session."""
        signed = await self.console.signed(request)
        form = await self._form(request)
        if signed is not None and access.same(access.form_field(form, "csrf"), signed.session.csrf):
            await staff_access.end_session(self.bridge.store, signed.session_id)
        response = self.console._redirect(request, PATH + "/login")
        access.forget_cookie(response, SESSION_COOKIE, public_url=self.public_url)
        return response
