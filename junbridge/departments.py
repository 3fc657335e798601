"""The Department base class and the values a department hands back to the bridge.

A department decides what it accepts (:meth:`Department.match`), what to do with a message
(:meth:`Department.handle`, returning an :class:`Outcome`), and how its replies read
(:meth:`Department.render`, from templates per language that admins can override).
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from junbridge import dates, rota
from junbridge.config.settings import DepartmentSettings, Staff, TownSettings
from junbridge.markup import Markup, escape
from junbridge.model import (
    Attachment,
    Choice,
    Location,
    Message,
    Privacy,
    Resident,
    ServiceRequest,
    Status,
)
from junbridge.requests.lifecycle import expected_datetime
from junbridge.services import Service
from junbridge.staff_texts import STAFF_TEXTS


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    """A reply a department wants sent, by template key; rendered once the request exists."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    photo: Attachment | None = None
    private: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """What to do to the conversation's service request, opening one if ``open`` is set."""

    open: bool = False
    description: str | None = None
    service_code: str | None = None
    service_name: str | None = None
    location: Location | None = None
    address: str | None = None
    address_id: str | None = None
    expected: datetime | None = None
    service_notice: str | None = None
    assignee: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    states: tuple[Status, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a department decided about one message.

    ``ask`` keeps the conversation with this department, waiting for that answer; otherwise
    the conversation ends. ``handoff`` passes the conversation's first message to another
    department (used by triage once the resident picks one).
    """

    says: tuple[Say, ...] = ()
    change: Change | None = None
    ask: str | None = None
    remember: Mapping[str, Any] = field(default_factory=dict)
    handoff: str | None = None


class RequestReader(Protocol):
    """Read access to stored requests, for departments that need it (e.g. booked slots)."""

    async def list(
        self, *, department: str | None = None, open_only: bool = False
    ) -> Sequence[ServiceRequest]: ...

    async def open_load(self, department: str) -> Mapping[str, int]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """The resident's open exchange with one department, as a department sees it."""

    department: str
    resident: Resident
    language: str
    awaiting: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    request: ServiceRequest | None = None
    first_message: Message | None = None

    def asked(self, key: str) -> bool:
        """Whether the department's last message asked the resident for ``key``."""
        return self.awaiting == key

    def ask(self, key: str, *says: Say, change: Change | None = None, **remember: Any) -> Outcome:
        """An outcome that sends ``says`` and waits for the resident's answer to ``key``."""
        return Outcome(says=says, change=change, ask=key, remember={**self.data, **remember})


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentContext:
    """What the bridge gives every department: the town, the clock, stored requests."""

    town: TownSettings
    clock: Callable[[], datetime]
    requests: RequestReader
    config_dir: Path = Path(".")


@functools.lru_cache(maxsize=512)
def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text``: ``"Farola Rótula"`` -> ``"farola rotula"``.

    Cached: every department, the desk and the follow-up steps fold the same message.
    """
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_WORD_SPLIT = re.compile(r"[^\w#/]+")


@functools.lru_cache(maxsize=256)
def _words_of(text: str) -> str:
    """`` farola de la calle real `` for a message's text: folded, words padded by spaces.

    Cached: every department's ``match`` reads the same message.
    """
    return " " + " ".join(_WORD_SPLIT.split(fold(text))) + " "


@functools.lru_cache(maxsize=4096)
def _needle(keyword: str) -> str | None:
    """What to look for in ``_words_of(text)``: `` farola `` for a word or phrase, ``" ilumin"``
    for a prefix (a trailing '*' matches any ending: "ilumin*" -> iluminación, iluminar)."""
    phrase = " ".join(_WORD_SPLIT.split(fold(keyword.rstrip("*")))).strip()
    if not phrase:
        return None
    return f" {phrase}" if keyword.endswith("*") else f" {phrase} "


def keyword_hits(text: str, keywords: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """How many keywords of each language occur in ``text`` as whole words or phrases."""
    folded = _words_of(text)
    hits: dict[str, int] = {}
    for language, words in keywords.items():
        count = 0
        for word in words:
            needle = _needle(word)
            if needle is not None and needle in folded:
                count += 1
        if count:
            hits[language] = count
    return hits


# What every department says when staff change a request, unless it says otherwise.
COMMON_TEXTS: Mapping[str, Mapping[str, str]] = {
    "es": {
        "state_acknowledged": "**{reference}**: lo hemos visto y nos ponemos con ello.",
        "state_assigned": "**{reference}**: lo lleva {assignee}.",
        "state_in_progress": "**{reference}**: {assignee} está trabajando en ello.",
        "state_resolved": "**{reference}** está resuelto. {note}",
        "state_rejected": "**{reference}**: no podemos atenderlo. Motivo: {note}",
        "state_duplicate": "**{reference}** ya estaba avisado: lo seguimos en {note}.",
        "state_referred": "**{reference}** pasa a {department}.",
        "state_reopened": "**{reference}** vuelve a estar abierto.",
        "staff_reply": "**{reference}** · {department}: {note}",
        "ask_fixed": "**{reference}** ({department}) figura como resuelto. ¿Está arreglado?",
        "ask_rating": "¡Gracias por confirmarlo! **{reference}** queda cerrado. "
        "¿Qué nota le das a {department}? (1 = mal, 5 = muy bien)",
        "thanks_fixed": "¡Gracias por confirmarlo! **{reference}** queda cerrado.",
        "thanks_rating": "Gracias, lo tendremos en cuenta.",
        "assignee_none": "el equipo de {department}",
        # A private answer that could not be delivered: said where the resident wrote, with
        # nothing of what it was about.
        "private_failed": "Tenemos una respuesta privada para ti ({reference}), pero no hemos "
        "podido enviártela. Escríbenos por privado y te la enviamos.",
        "private_failed_telegram": "Tenemos una respuesta privada para ti ({reference}), pero "
        "no podemos escribirte hasta que abras un chat con este bot: ábrelo, pulsa Iniciar y "
        "escribe /estado {reference}.",
        "private_failed_twitter": "Tenemos una respuesta privada para ti ({reference}), pero "
        "tus mensajes directos están cerrados. Ábrelos a esta cuenta y escríbenos por privado.",
        # A reply for a platform that is down, sent to the resident's linked account.
        "sent_elsewhere": "Ahora no podemos escribirte por {channel}; te lo enviamos por aquí:",
        # A report near an open request of the department joins it (junbridge.desk.nearby).
        "already_reported": "Ya nos lo han avisado: **{reference}**, lo lleva {assignee}. "
        "Te avisaremos cuando esté resuelto. Si es otro, responde «es otra».",
        "own_report": "Ya tenemos tu aviso **{reference}** ({department}) y te contamos "
        "cada cambio. Si es otro, responde «es otra».",
    },
    "en": {
        "state_acknowledged": "**{reference}**: we have seen it and are on it.",
        "state_assigned": "**{reference}**: {assignee} has it.",
        "state_in_progress": "**{reference}**: {assignee} is working on it.",
        "state_resolved": "**{reference}** is resolved. {note}",
        "state_rejected": "**{reference}**: we cannot take this on. Reason: {note}",
        "state_duplicate": "**{reference}** was already reported: we follow it in {note}.",
        "state_referred": "**{reference}** moves to {department}.",
        "state_reopened": "**{reference}** is open again.",
        "staff_reply": "**{reference}** · {department}: {note}",
        "ask_fixed": "**{reference}** ({department}) is marked resolved. Is it fixed?",
        "ask_rating": "Thanks for confirming! **{reference}** is closed. "
        "How would you rate {department}? (1 = poor, 5 = very good)",
        "thanks_fixed": "Thanks for confirming! **{reference}** is closed.",
        "thanks_rating": "Thank you, we will take it into account.",
        "assignee_none": "the {department} team",
        "private_failed": "We have a private answer for you ({reference}), but could not "
        "deliver it. Write to us privately and we will send it.",
        "private_failed_telegram": "We have a private answer for you ({reference}), but cannot "
        "write to you until you open a chat with this bot: open it, press Start and send "
        "/status {reference}.",
        "private_failed_twitter": "We have a private answer for you ({reference}), but your "
        "direct messages are closed. Open them to this account and write to us privately.",
        "sent_elsewhere": "We cannot write to you on {channel} right now, so here it is:",
        "already_reported": "Already reported: **{reference}**, {assignee} has it. We will "
        "let you know when it is resolved. If yours is a different one, reply "
        "“different one”.",
        "own_report": "You have already reported this: **{reference}** ({department}); we "
        "tell you of every change. If it is a different one, reply “different one”.",
    },
}


# What Department.render gives every template besides the Say's own params, and what the
# notices of staff changes (desk/staff.py: to_resident) add to it.
RENDER_PARAMS = frozenset({"department", "town", "reference", "assignee", "expected"})
NOTICE_PARAMS = RENDER_PARAMS | {"note"}


def placeholders(template: str) -> set[str]:
    """The names a template fills in: ``{reference}`` -> ``reference``; ValueError if unreadable."""
    names = set()
    for _, field_name, _, _ in string.Formatter().parse(template):
        if field_name is not None:
            names.add(re.split(r"[.\[]", field_name, maxsplit=1)[0])
    return names


class Department:
    """Base class of department plugins; subclass it in one module (a file or a package's)."""

    name: ClassVar[str]
    titles: ClassVar[Mapping[str, str]] = {}
    privacy: ClassVar[Privacy] = "public"
    service_code: ClassVar[str | None] = None
    # The Open311 services it offers; None: one, ``service_code`` under its title.
    services: ClassVar[tuple[Service, ...] | None] = None
    texts: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    Settings: ClassVar[type[DepartmentSettings]] = DepartmentSettings
    # Whether staff are warned at 75% of the expected time and the lead at the deadline. A
    # department whose expected time is an appointment, not a promise, turns this off.
    sla_alerts: ClassVar[bool] = True

    def __init__(self, settings: DepartmentSettings, context: DepartmentContext) -> None:
        self.settings = settings
        self.context = context

    # -- what a plugin overrides -------------------------------------------------------

    def match(self, message: Message) -> float:
        """How sure this department is that ``message`` is for it, 0.0 to 1.0."""
        return self.keyword_score(message.text)

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """Decide what to do with a message routed here; must be overridden."""
        raise NotImplementedError(f"{type(self).__name__}.handle")

    def keeps(self, message: Message, conversation: Conversation) -> bool | None:
        """Whether ``message`` answers what this department asked in ``conversation``.

        Asked only while this department holds the resident's open conversation. True: it
        is an answer, ``handle`` gets it. False: it is not; it is routed anew, and this
        conversation and its request stay as they are. None, the default: the bridge
        decides; a thanks or goodbye, or a clear match of another department that this one
        does not match, leaves; anything else stays (see :mod:`junbridge.desk.leaving`).
        """
        return None

    def where(self, message: Message) -> Change | None:
        """Where ``message`` says its matter is, before ``handle`` decides on it: a Change
        with the ``location``, ``address`` or ``address_id`` a report it opens would have;
        None for no place.

        Asked of a public department for each message, so that the open requests there are
        read with the batch (:meth:`same_matter`); a place ``handle`` then gives otherwise is
        looked up once more. The default: the message's location. A department that finds
        places in the words (a street, a lamp number) says so here too.
        """
        return Change(location=message.location) if message.location is not None else None

    def same_matter(self, report: ServiceRequest, nearby: ServiceRequest) -> bool:
        """Whether ``report``, about to be opened, is what ``nearby`` is already about.

        Asked of a public department only, for an open request of its own within
        ``nearby_metres`` of the report (or in the same street, at the same lamp number,
        when the two cannot be measured apart). True: the resident is told it is already
        reported and added to ``nearby`` instead of opening ``report``. The default: the
        same service. Override it for reports that are each their own even side by side
        (two neighbours' furniture to collect).
        """
        return report.service_code == nearby.service_code

    # -- helpers for plugins ----------------------------------------------------------

    @property
    def town(self) -> TownSettings:
        """The ``town:`` block of channels.yaml."""
        return self.context.town

    @property
    def tz(self) -> ZoneInfo:
        """The town's time zone."""
        return ZoneInfo(self.town.timezone)

    def now(self) -> datetime:
        """The current time (UTC), from the bridge's clock so tests can freeze it."""
        return self.context.clock()

    def promise(self, hours: float | None = None, *, at: datetime | None = None) -> datetime:
        """When ``hours`` (default ``sla_hours``) from ``at`` (default now) runs out.

        Counted in town business hours unless the department says ``business_hours: false``.
        """
        settings = self.settings
        return expected_datetime(
            at or self.now(),
            settings.sla_hours if hours is None else hours,
            self.town,
            business_hours=settings.business_hours,
        )

    def keyword_score(self, text: str) -> float:
        """A score from this department's keywords: 0 for none, rising towards 1 with hits."""
        hits = keyword_hits(text, self.settings.keywords)
        best = max(hits.values(), default=0)
        return 0.0 if best == 0 else min(1.0, 0.5 + 0.2 * best)

    def title(self, language: str) -> str:
        """The department's name in ``language``, falling back to the town language."""
        return self.titles.get(language) or self.titles.get(self.town.language) or self.name

    def template(self, key: str, language: str) -> str | None:
        """The template for ``key``: the admin's override, the plugin's, junbridge's own.

        A language without the text falls back to the town's language, then to English
        (a town in a language junbridge has no texts for still gets every message).
        """
        # Asked for every text of every message: looked up once per key and language for
        # the settings and town in force (a reload gives new ones, and a new lookup).
        settings, town = self.settings, self.town
        cached = self.__dict__.get("_templates")
        if cached is None or cached[0] is not settings or cached[1] is not town:
            cached = (settings, town, {})
            self.__dict__["_templates"] = cached
        known: dict[tuple[str, str], str | None] = cached[2]
        if (key, language) not in known:
            known[key, language] = self._find_template(key, language)
        return known[key, language]

    def _find_template(self, key: str, language: str) -> str | None:
        for lang in dict.fromkeys((language, self.town.language, "en")):
            for texts in (self.settings.replies, self.texts, COMMON_TEXTS, STAFF_TEXTS):
                found = texts.get(lang, {}).get(key)
                if found is not None:
                    return found
        return None

    @classmethod
    def templates(cls) -> dict[str, frozenset[str]]:
        """Every template key admins may override, with the placeholders it is given.

        A template gets what its shipped text uses (in any language); junbridge's own notices
        (``state_*`` for every state, "is it fixed?") also get what ``render`` adds and the
        staff's note. What staff read (``junbridge.staff_texts``) gets what its text uses. A
        plugin that passes more than its texts use overrides this.
        """
        keys: dict[str, set[str]] = {f"state_{s.value}": set(NOTICE_PARAMS) for s in Status}
        tables = (
            (COMMON_TEXTS, NOTICE_PARAMS),
            # What staff read is filled with just what its shipped text uses.
            (STAFF_TEXTS, frozenset[str]()),
            (cls.texts, frozenset[str]()),
        )
        for table, extra in tables:
            for texts in table.values():
                for key, text in texts.items():
                    keys.setdefault(key, set()).update(placeholders(text), extra)
        return {key: frozenset(names) for key, names in keys.items()}

    def missing_translations(self) -> list[tuple[str, str]]:
        """(language, key) pairs that fall back to the town language."""
        keys = {k for texts in self.texts.values() for k in texts}
        keys |= {k for texts in self.settings.replies.values() for k in texts}
        return sorted(
            (lang, key)
            for lang in self.town.languages
            for key in keys
            if key not in self.texts.get(lang, {})
            and key not in self.settings.replies.get(lang, {})
        )

    def text(self, key: str, language: str, **params: Any) -> str:
        """Fill in the template ``key`` in ``language`` with ``params``."""
        template = self.template(key, language)
        if template is None:
            raise KeyError(f"department {self.name!r} has no reply template {key!r}")
        # The template is markup; what fills it is text (a resident's words, a staff note),
        # so it can never bold, link or mention anything (see markup.escape).
        return template.format_map(
            {
                name: escape(value) if isinstance(value, str) else value
                for name, value in params.items()
            }
        )

    def render(
        self,
        say: Say,
        *,
        request: ServiceRequest | None,
        language: str,
        channel: str | None = None,
    ) -> str:
        """The text of one reply, with the request's reference, title and expected time.

        With ``tag_staff_publicly``, ``{assignee}`` is the assignee's handle on ``channel``
        (``@ElectricistaJun`` on X), the way Jun tagged its electrician.
        """
        params: dict[str, Any] = {"department": self.title(language), "town": self.town.name}
        if request is not None:
            params["reference"] = request.reference
            # Nobody assigned yet: the department's team has it ("lo lleva el equipo de...").
            params["assignee"] = request.assignee or self.text(
                "assignee_none", language, department=params["department"]
            )
            staff = self.staff_member(request.assignee) if request.assignee else None
            handle = staff.handles.get(channel) if staff and channel else None
            # A handle, not a bare user id (Telegram's "2002"): "@2002" tags nobody.
            if handle and self.settings.tag_staff_publicly and not handle.isdigit():
                params["assignee"] = Markup(f"@{handle.lstrip('@')}")
            if request.expected_datetime is not None:
                params["expected"] = self.format_time(request.expected_datetime, language)
        params.update(say.params)
        return self.text(say.key, language, **params)

    def format_time(self, when: datetime, language: str) -> str:
        """A date and time as residents read it, in the town's time zone."""
        return dates.format_moment(when, dates.DAY_TIME, language, self.tz)

    def staff_member(self, name: str) -> Staff | None:
        """The staff entry called ``name``, if any."""
        return next((s for s in self.settings.staff if s.name == name), None)

    def on_duty(self, at: datetime | None = None) -> Staff | None:
        """The first on duty at ``at`` (default now) by the rota; None when nobody is."""
        found = rota.on_duty(
            self.settings.on_duty, self.settings.staff, at or self.now(), self.town
        )
        return found[0] if found else None

    async def assignee(self, at: datetime | None = None) -> Staff | None:
        """Whom to give a new request: of those on duty, the one with fewest open requests.

        Ties go by rota order, so equals take turns. None when nobody is on duty.
        """
        found = rota.on_duty(
            self.settings.on_duty, self.settings.staff, at or self.now(), self.town
        )
        if len(found) <= 1:
            return found[0] if found else None
        load = await self.context.requests.open_load(self.name)
        return min(found, key=lambda s: load.get(s.name, 0))

    def next_shift(self, at: datetime | None = None) -> tuple[Staff, datetime] | None:
        """Who comes on duty next after ``at``, and when; None if the rota has nobody."""
        return rota.next_shift(
            self.settings.on_duty, self.settings.staff, at or self.now(), self.town
        )

    def say(
        self, key: str, *, private: bool = False, choices: Sequence[Choice] = (), **params: Any
    ) -> Say:
        """Shorthand for a :class:`Say` of this department."""
        return Say(key=key, params=params, private=private, choices=tuple(choices))


RegisterDepartment = Callable[[type[Department]], None]
"""The ``register`` callable passed to the ``register_departments`` hook."""


def place_of(department: Department) -> tuple[str, str] | None:
    """The (channel, conversation) of a department's staff place, if it has one."""
    place = department.settings.staff_place
    if place is None:
        return None
    channel, _, conversation = place.partition(":")
    return channel, conversation
