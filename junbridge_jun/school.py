"""The school: the canteen menu and the school's notices. Settings: departments.school.

Parents ask what the children eat today, tomorrow or this week, and we answer at once from
the menu file the school keeps next to channels.yaml: a rotation of weeks, with dates that
change the menu (Christmas lunch) and days the canteen is closed. The file is read on every
question, so an edit is live. Each answer is recorded as a request, answered and closed.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import yaml
from babel.dates import get_day_names
from pydantic import Field, ValidationError

import junbridge
from junbridge import (
    DAY,
    WEEKDAY_DAY,
    WEEKDAYS,
    Change,
    Conversation,
    JunbridgeError,
    Markup,
    Message,
    Outcome,
    Say,
    Status,
    Weekday,
    escape,
    format_day,
    keyword_hits,
    resolve_path,
)

# How families ask. A question that names no day is about today.
NOTICES = {
    "es": ["aviso", "avisos", "anuncio*", "circular*", "comunicado*"],
    "en": ["notice", "notices", "announcement*"],
}
NEXT_WEEK = {
    "es": ["semana que viene", "próxima semana", "semana próxima", "siguiente semana"],
    "en": ["next week"],
}
WEEK = {"es": ["semana", "semanal"], "en": ["week", "weekly"]}
TOMORROW = {"es": ["mañana"], "en": ["tomorrow"]}
WEEKDAY_NAMES = [
    {"es": ["lunes"], "en": ["monday"]},
    {"es": ["martes"], "en": ["tuesday"]},
    {"es": ["miércoles"], "en": ["wednesday"]},
    {"es": ["jueves"], "en": ["thursday"]},
    {"es": ["viernes"], "en": ["friday"]},
    {"es": ["sábado"], "en": ["saturday"]},
    {"es": ["domingo"], "en": ["sunday"]},
]

Dish = dict[str, str]
"""One day's menu: language -> text."""


class SchoolYear(junbridge.Settings):
    """The days the canteen opens at all: first and last day of the school year."""

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")


class Menu(junbridge.Settings):
    """The menu file: weeks in rotation by ISO week number, dated changes, closed days."""

    weeks: list[dict[Weekday, Dish]] = Field(min_length=1)
    dates: dict[dt.date, Dish] = Field(default_factory=dict)
    closed: list[dt.date] = Field(default_factory=list)
    school_year: SchoolYear | None = None


class Notice(junbridge.Settings):
    """A notice from the school, shown until its date has passed."""

    date: dt.date
    es: str
    en: str | None = None

    def text(self, language: str) -> str:
        """The notice in ``language``, falling back to Spanish."""
        return (self.en if language == "en" else None) or self.es


class School(junbridge.Department):
    """The village school: canteen menu and notices for families."""

    name = "school"
    titles = {"es": "Colegio", "en": "School"}
    privacy = "public"
    service_code = "school"

    class Settings(junbridge.DepartmentSettings):
        """departments.school in channels.yaml."""

        keywords: dict[str, list[str]] = Field(
            default_factory=lambda: {
                "es": [
                    "menú",
                    "menú del cole",
                    "comedor",
                    "comida del cole",
                    "almuerzo",
                    "qué comen",
                    "colegio",
                    "cole",
                    "avisos del cole",
                    "aviso del cole",
                ],
                "en": [
                    "lunch",
                    "canteen",
                    "school menu",
                    "school dinner",
                    "school lunch",
                    "school",
                    "school notices",
                ],
            }
        )
        menu_file: junbridge.ConfigFile = Field(
            "menu.yaml", description="relative to channels.yaml's folder"
        )
        notices: list[Notice] = Field(default_factory=list)

    texts = {
        "es": {
            "day": "Menú del comedor, {day}:\n{menu}",
            "week": "Menú del comedor, semana del {monday}:\n{lines}",
            "no_canteen": "El {day} no hay comedor.",
            "closed": "sin comedor",
            "notices": "Avisos del {department}:\n{lines}",
            "no_notices": "Ahora mismo el {department} no tiene avisos.",
        },
        "en": {
            "day": "School lunch, {day}:\n{menu}",
            "week": "School lunch, week of {monday}:\n{lines}",
            "no_canteen": "There is no school lunch on {day}.",
            "closed": "no lunch",
            "notices": "{department} notices:\n{lines}",
            "no_notices": "The {department} has no notices right now.",
        },
    }

    async def handle(self, message: Message, conversation: Conversation) -> Outcome:
        """Answer from the menu file or the notices, and record the question as answered."""
        today = self.now().astimezone(self.tz).date()
        if keyword_hits(message.text, NOTICES):
            say, source = self.notices(today, conversation.language), "the notices"
        else:
            say, source = self.menu_answer(message.text, today, conversation.language), "the menu"
        change = Change(
            open=True,
            description=message.text,
            expected=self.now(),
            states=(Status.RESOLVED, Status.CLOSED),
            note=f"answered from {source}",
        )
        return Outcome(change=change, says=(say,))

    def menu_answer(self, text: str, today: dt.date, language: str) -> Say:
        """The menu for the week or the day asked about."""
        menu = self.menu()
        monday = asked_week(text, today)
        if monday is not None:
            lines = []
            for offset in range(5):
                day = monday + dt.timedelta(days=offset)
                dish = self.dish(menu, day, language) or self.text("closed", language)
                name = self.weekday_name(day, language).capitalize()
                lines.append(f"**{escape(name)}**: {escape(dish)}")
            start = format_day(monday, DAY, language)
            # The day names in bold are ours: the lines are markup, the dishes text in them.
            return self.say("week", monday=start, lines=Markup("\n".join(lines)))
        day = asked_day(text, today)
        dish = self.dish(menu, day, language)
        label = self.day_label(day, language)
        return self.say("day", day=label, menu=dish) if dish else self.say("no_canteen", day=label)

    def dish(self, menu: Menu, day: dt.date, language: str) -> str | None:
        """What the canteen serves on ``day``, or None when it is closed."""
        if day in menu.closed or day in self.town.holidays:
            return None
        if menu.school_year and not menu.school_year.start <= day <= menu.school_year.end:
            return None
        entry = menu.dates.get(day)
        if entry is None:
            week = menu.weeks[day.isocalendar().week % len(menu.weeks)]
            entry = week.get(WEEKDAYS[day.weekday()])
        if not entry:
            return None
        return entry.get(language) or entry.get(self.town.language) or next(iter(entry.values()))

    def menu(self) -> Menu:
        """The menu file, read now so that the school's edits are live."""
        path = resolve_path(self.context.config_dir, self.settings.menu_file)
        return load_menu(path)

    def notices(self, today: dt.date, language: str) -> Say:
        """The notices dated today or later, soonest first."""
        current = sorted(
            (n for n in self.settings.notices if n.date >= today), key=lambda n: n.date
        )
        if not current:
            return self.say("no_notices")
        lines = "\n".join(
            f"• **{escape(format_day(n.date, DAY, language))}**: {escape(n.text(language))}"
            for n in current
        )
        return self.say("notices", lines=Markup(lines))

    def weekday_name(self, day: dt.date, language: str) -> str:
        """``lunes`` / ``Monday``."""
        return str(get_day_names("wide", locale=language)[day.weekday()])

    def day_label(self, day: dt.date, language: str) -> str:
        """``lunes, 30 de noviembre`` / ``Monday, November 30``."""
        return format_day(day, WEEKDAY_DAY, language)


def asked_week(text: str, today: dt.date) -> dt.date | None:
    """The Monday of the week asked about, or None when the question is about a day."""
    monday = today - dt.timedelta(days=today.weekday())
    if keyword_hits(text, NEXT_WEEK):
        return monday + dt.timedelta(days=7)
    if keyword_hits(text, WEEK):
        # At the weekend "this week" is the one about to start.
        return monday + dt.timedelta(days=7) if today.weekday() >= 5 else monday
    return None


def asked_day(text: str, today: dt.date) -> dt.date:
    """Tomorrow, the next day of that name ("el jueves"), or today."""
    if keyword_hits(text, TOMORROW):
        return today + dt.timedelta(days=1)
    for weekday, names in enumerate(WEEKDAY_NAMES):
        if keyword_hits(text, names):
            return today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    return today


def load_menu(path: Path) -> Menu:
    """Read and check a menu file; a JunbridgeError names the file and what is wrong.

    Read again only when the file changed (its modification time or size): the school's
    edits are live, and a question about the menu does not parse YAML every time.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise JunbridgeError(f"school menu file {path} does not exist") from None
    except OSError as exc:
        raise JunbridgeError(f"school menu file {path} cannot be read: {exc}") from exc
    return _read_menu(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_menu(path: Path, _mtime_ns: int, _size: int) -> Menu:
    """The menu at ``path`` as it was at that modification time and size."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JunbridgeError(f"school menu file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise JunbridgeError(f"school menu file {path} cannot be read: {exc}") from exc
    try:
        return Menu.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise JunbridgeError(f"school menu file {path} is not valid: {problems}") from None


@junbridge.hookimpl
def register_departments(register: junbridge.RegisterDepartment) -> None:
    """Add the school."""
    register(School)
