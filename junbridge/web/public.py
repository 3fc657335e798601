"""The public pages: the town's transparency page at ``/`` and a page per public request.

Only public requests are shown, and only what the public may read of them: the resident's
words redacted of personal data (:func:`junbridge.privacy.public_description`), where, the
states it went through and who moved it by role (resident, the department, automatic),
never by name or account. A private request (the doctor, the police) is answered exactly as
a reference that does not exist; private departments are neither listed nor counted.

The figures are read from the store (``junbridge.store.figures``) at most every
``figures_seconds`` per process: every visitor in that time gets the same page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import mimetypes
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, format_percent
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from junbridge.dates import DATE, DAY, DAY_TIME, format_day, format_moment
from junbridge.media import local_path
from junbridge.model import Attachment, HistoryEntry, ServiceRequest, Status
from junbridge.privacy import public_description, redact
from junbridge.store.figures import DepartmentFigures, backlog, figures
from junbridge.store.measures import AUTOMATIC, by_resident
from junbridge.store.published import PublicLine, latest
from junbridge.web import charts
from junbridge.web.paths import REQUEST_PATH, request_path
from junbridge.web.templating import page_templates
from junbridge.web.texts import LANGUAGE_NAMES, PAGE_TEXTS, page_language, text

if TYPE_CHECKING:
    from junbridge.bridge import Bridge

# The period the figures count, the days the backlog chart shows, the requests listed.
FIGURE_DAYS = 90
BACKLOG_DAYS = 30
LATEST = 20
FIGURES_SECONDS = 30.0
SUMMARY_LENGTH = 120
REFERENCE = re.compile(r"^[A-Za-z]{2,8}-\d{1,12}$")
STATES = frozenset(s.value for s in Status)
# History lines the public sees besides changes of state; the others (staff notes, replies,
# reminders, assignees) are the town hall's own.
SHOWN_ACTIONS = frozenset({"photo", "sla_breach", "rated"})
# What residents do themselves: report, reopen ("not fixed"), close (cancel, "fixed"), rate.
RESIDENT_ACTIONS = frozenset({"received", "reopened", "closed", "rated"})
# The staff's words on these changes are the reason the public may read (redacted), as
# Open311's status_notes give it.
NOTED_STATES = frozenset({Status.RESOLVED.value, Status.REJECTED.value, Status.DUPLICATE.value})
HEADERS = {
    # Nothing is loaded from elsewhere: the page, its CSS and the photos are all served here.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The figures as read at one moment, shared by every page until they are read again."""

    read_at: datetime
    figures: list[DepartmentFigures]
    backlog: dict[str, list[int]]
    days: list[date]
    # The newest public requests, their words already redacted.
    latest: list[PublicLine]


@dataclass
class PublicPages:
    """The routes of the public pages for one bridge."""

    bridge: Bridge
    figures_seconds: float = FIGURES_SECONDS
    templates: Jinja2Templates = field(init=False)
    _snapshot: tuple[float, Snapshot] | None = field(default=None, init=False)
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.templates = page_templates()

    def routes(self) -> list[BaseRoute]:
        """``/``, ``/requests/{reference}``, its photos, and the pages' stylesheet."""
        return [
            Route("/", self.index, methods=["GET"]),
            Route(REQUEST_PATH, self.request_page, methods=["GET"]),
            Route(REQUEST_PATH + "/photos/{number:int}", self.photo, methods=["GET"]),
            Mount("/static", StaticFiles(packages=[("junbridge.web", "static")]), name="static"),
        ]

    # -- pages ------------------------------------------------------------------------

    def language(self, request: Request) -> str:
        """The visitor's language (see :func:`junbridge.web.texts.page_language`)."""
        return page_language(
            request.query_params.get("lang"),
            request.headers.get("accept-language"),
            self.bridge.config.town.languages,
        )

    @property
    def tz(self) -> ZoneInfo:
        """The town's time zone."""
        return ZoneInfo(self.bridge.config.town.timezone)

    async def index(self, request: Request) -> Response:
        """The transparency page."""
        language = self.language(request)
        snapshot = await self.snapshot()
        departments = [
            self._department(figure, snapshot, language)
            for figure in snapshot.figures
            if self._public(figure.department)
        ]
        lines = [
            {
                "reference": line.reference,
                "href": request_path(line.reference),
                "service": self.title(line.department, language),
                "status": text(language, f"state_{line.state.value}"),
                "open": line.state.is_open,
                "date": format_moment(line.requested_datetime, DATE, language, self.tz),
                "summary": line.description,
            }
            for line in snapshot.latest
            if self._public(line.department)
        ]
        return self._render(
            request,
            "index.html",
            language,
            departments=departments,
            latest=lines,
            updated=format_moment(snapshot.read_at, DAY_TIME, language, self.tz),
        )

    async def request_page(self, request: Request) -> Response:
        """One public request; 404 for a private one, exactly as for one that does not exist."""
        language = self.language(request)
        found = await self._public_request(request.path_params["reference"])
        if found is None:
            return self._not_found(request, language)
        photos = self._photos(found)
        after = _staff_photos(found)
        numbered = [(number, a) for number, a in enumerate(photos, start=1)]
        split = len(numbered) - min(after, len(numbered))
        return self._render(
            request,
            "request.html",
            language,
            reference=found.reference,
            service=self.title(found.department, language),
            is_open=found.state.is_open,
            status=text(language, f"state_{found.state.value}"),
            description=public_description(found) or "",
            address=found.address,
            place=(found.lat, found.long)
            if found.lat is not None and found.long is not None
            else None,
            received=format_moment(found.requested_datetime, DAY_TIME, language, self.tz),
            expected=(
                format_moment(found.expected_datetime, DAY_TIME, language, self.tz)
                if found.expected_datetime is not None and found.state.is_open
                else None
            ),
            # How many residents reported it: a number, never who.
            reporters=found.reporters,
            history=self._history(found, language),
            before=[self._photo_view(found, n, language) for n, _ in numbered[:split]],
            after=[self._photo_view(found, n, language) for n, _ in numbered[split:]],
        )

    async def photo(self, request: Request) -> Response:
        """A photo of a public request, kept in the media folder; 404 for anything else."""
        found = await self._public_request(request.path_params["reference"])
        number = int(request.path_params["number"])
        photos = self._photos(found) if found is not None else []
        if not 1 <= number <= len(photos):
            return Response("not found", status_code=404, media_type="text/plain")
        attachment = photos[number - 1]
        path = local_path(attachment)
        assert path is not None  # _photos keeps local files only
        kind = attachment.mime_type or mimetypes.guess_type(path.name)[0] or ""
        return FileResponse(
            path,
            media_type=kind,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"},
        )

    # -- reading ----------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        """The figures, read again once they are ``figures_seconds`` old."""
        cached = self._snapshot
        if cached is not None and time.monotonic() - cached[0] < self.figures_seconds:
            return cached[1]
        async with self._reading:
            cached = self._snapshot
            if cached is not None and time.monotonic() - cached[0] < self.figures_seconds:
                return cached[1]
            snapshot = await self._read()
            self._snapshot = (time.monotonic(), snapshot)
            return snapshot

    async def _read(self) -> Snapshot:
        store = self.bridge.store
        now = self.bridge.clock()
        today = now.astimezone(self.tz).date()
        days = [today - timedelta(days=n) for n in range(BACKLOG_DAYS - 1, -1, -1)]
        # Each day's count is taken at its end (town time); today's is now.
        ends = [
            min(
                now,
                datetime.combine(day + timedelta(days=1), clock_time(0), self.tz).astimezone(UTC),
            )
            for day in days
        ]
        return Snapshot(
            read_at=now,
            figures=await figures(store, since=now - timedelta(days=FIGURE_DAYS), now=now),
            backlog=await backlog(store, ends=ends),
            days=days,
            # Redacted once per reading (in the resident's language, whoever reads the page).
            latest=[
                dataclasses.replace(
                    line, description=_cut(redact(line.description, language=line.language or "es"))
                )
                for line in await latest(store, limit=LATEST)
            ],
        )

    async def _public_request(self, reference: str) -> ServiceRequest | None:
        if not REFERENCE.match(reference):
            return None
        found = await self.bridge.store.get_request(reference.upper())
        if found is None or found.privacy != "public" or not self._public(found.department):
            return None
        return found

    def _public(self, department: str) -> bool:
        """Whether ``department``'s requests may be shown: its rows say public, and so does
        the department itself if it is running (a department never changes its privacy,
        but a plugin's new release might)."""
        running = self.bridge.departments.get(department)
        return running is None or running.privacy == "public"

    def _photos(self, request: ServiceRequest) -> list[Attachment]:
        """The request's photos kept in this bridge's media folder that are images, in order."""
        return [a for a, path in self.bridge.media.photos(request.attachments) if _image(a, path)]

    # -- what a page shows --------------------------------------------------------------

    def title(self, department: str, language: str) -> str:
        """The department's name in ``language``."""
        running = self.bridge.departments.get(department)
        return running.title(language) if running is not None else department

    def _department(
        self, figure: DepartmentFigures, snapshot: Snapshot, language: str
    ) -> dict[str, Any]:
        title = self.title(figure.department, language)
        running = self.bridge.departments.get(figure.department)
        promised = running.sla_alerts if running is not None else True
        counts = snapshot.backlog.get(figure.department, [0] * len(snapshot.days))
        day_names = [format_day(day, DAY, language) for day in snapshot.days]
        share = figure.kept_share
        average = figure.rating
        stars = list(reversed(range(1, 6)))
        return {
            "name": figure.department,
            "title": title,
            "open_now": figure.open_now,
            "received": figure.received,
            "closed": figure.closed,
            "first_answer": self._duration(figure.answer_median, language),
            "fix": self._duration(figure.fix_median, language),
            "promised": promised,
            "promises": format_percent(share, locale=language) if share is not None else None,
            "promises_detail": text(
                language, "promises_detail", kept=figure.kept, decided=figure.kept + figure.broken
            )
            if share is not None
            else text(language, "promises_none"),
            "promises_chart": charts.split(
                figure.kept,
                figure.broken,
                kept_title=text(language, "kept_label", count=figure.kept),
                broken_title=text(language, "broken_label", count=figure.broken),
                label=f"{text(language, 'promises')}: "
                + text(
                    language,
                    "promises_detail",
                    kept=figure.kept,
                    decided=figure.kept + figure.broken,
                ),
            ),
            "rating": format_decimal(average, format="0.0", locale=language)
            if average is not None
            else None,
            "rating_detail": text(
                language,
                "rating_detail",
                average=format_decimal(average, format="0.0", locale=language),
                count=figure.rated,
            )
            if average is not None
            else text(language, "rating_none"),
            "rating_chart": charts.rows(
                [figure.ratings[s - 1] for s in stars],
                ["★" * s for s in stars],
                [
                    text(language, "stars_label", stars=s, count=figure.ratings[s - 1])
                    for s in stars
                ],
                label=text(language, "rating"),
            ),
            "backlog_chart": charts.columns(
                counts,
                [
                    text(language, "backlog_label", count=count, day=name)
                    for count, name in zip(counts, day_names, strict=True)
                ],
                label=f"{title}: {text(language, 'backlog', days=BACKLOG_DAYS)}: "
                + ", ".join(str(c) for c in counts),
            ),
            "backlog_first": day_names[0] if day_names else "",
            "backlog_last": day_names[-1] if day_names else "",
        }

    def _duration(self, seconds: float | None, language: str) -> str | None:
        """``45 min``, ``5,5 h``, ``3 días``: how long, as a resident says it."""
        if seconds is None:
            return None
        minutes = seconds / 60
        if minutes < 1:
            return text(language, "under_a_minute")
        if minutes < 60:
            return text(language, "minutes", n=round(minutes))
        hours = minutes / 60
        if hours < 48:
            shape = "0.#" if hours < 10 else "0"
            return text(language, "hours", n=format_decimal(hours, format=shape, locale=language))
        days = hours / 24
        shape = "0.#" if days < 10 else "0"
        return text(language, "days", n=format_decimal(days, format=shape, locale=language))

    def _history(self, request: ServiceRequest, language: str) -> list[dict[str, str]]:
        lines = []
        for entry in request.history:
            if entry.action in STATES:
                what = text(language, f"state_{entry.action}")
            elif entry.action in SHOWN_ACTIONS:
                what = text(language, f"action_{entry.action}")
            else:
                continue
            note = ""
            if entry.action in NOTED_STATES and entry.note:
                note = redact(entry.note, language=request.language or "es")
            lines.append(
                {
                    "when": format_moment(entry.at, DAY_TIME, language, self.tz),
                    "what": what,
                    "note": note,
                    "who": self._who(entry, request, language),
                }
            )
        return lines

    def _who(self, entry: HistoryEntry, request: ServiceRequest, language: str) -> str:
        """Who made a change, by role: never a resident's account or a staff member's name.

        A change the department made on its own in answer to a resident's message (assigned
        to whoever is on duty) is written as the resident's; the public reads it as the
        department's.
        """
        if by_resident(entry.by):
            if entry.action in RESIDENT_ACTIONS:
                return text(language, "by_resident")
            return self.title(request.department, language)
        if entry.by == AUTOMATIC:
            return text(language, "by_automatic")
        for department in self.bridge.departments.values():
            if department.privacy == "public" and any(
                member.name == entry.by for member in department.settings.staff
            ):
                return department.title(language)
        return text(language, "by_town_hall")

    def _photo_view(self, request: ServiceRequest, number: int, language: str) -> dict[str, str]:
        return {
            "src": f"{request_path(request.reference)}/photos/{number}",
            "alt": text(language, "photo_alt", number=number, reference=request.reference),
        }

    def _render(
        self, request: Request, name: str, language: str, status_code: int = 200, **context: Any
    ) -> Response:
        languages = [
            {"code": code, "name": LANGUAGE_NAMES.get(code, code), "current": code == language}
            for code in _page_languages(self.bridge.config.town.languages)
        ]

        def t(key: str, **params: object) -> str:
            return text(language, key, **params)

        return self.templates.TemplateResponse(
            request,
            name,
            {
                "t": t,
                "lang": language,
                "town": self.bridge.config.town.name,
                "languages": languages,
                "figure_days": FIGURE_DAYS,
                "backlog_days": BACKLOG_DAYS,
                **context,
            },
            status_code=status_code,
            headers={**HEADERS, "Content-Language": language, "Vary": "Accept-Language"},
        )

    def _not_found(self, request: Request, language: str) -> Response:
        return self._render(request, "not_found.html", language, status_code=404)


def _page_languages(town_languages: Sequence[str]) -> list[str]:
    """The town's languages the pages have texts in, in the town's order."""
    seen: list[str] = []
    for language in town_languages:
        base = language.split("-")[0].lower()
        if base in PAGE_TEXTS and base not in seen:
            seen.append(base)
    return seen


def _staff_photos(request: ServiceRequest) -> int:
    """How many of the request's photos staff added (``photo`` lines): its last ones."""
    return sum(1 for entry in request.history if entry.action == "photo")


def _image(attachment: Attachment, path: Path) -> bool:
    kind = attachment.mime_type or mimetypes.guess_type(path.name)[0] or ""
    return kind.startswith("image/")


def _cut(summary: str) -> str:
    summary = " ".join(summary.split())
    return summary if len(summary) <= SUMMARY_LENGTH else summary[: SUMMARY_LENGTH - 1] + "…"
