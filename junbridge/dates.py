"""Dates and times as residents read them: junbridge's own wording, per language.

babel's skeleton matching picks a pattern from the locale data, and a new babel release may
pick another one ("Mon, Nov 30" became "Mon, November 30" in 2.19). The wording a resident
reads is the town's choice, so each form has an explicit pattern per language junbridge
speaks; babel only supplies the names of days and months. A language without a pattern here
falls back to the closest skeleton, as babel matches it.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_date
from babel.dates import format_datetime, format_skeleton
from babel.dates import format_time as babel_time


@dataclass(frozen=True, slots=True, kw_only=True)
class Form:
    """One way of writing a moment: junbridge's pattern per language, and a fallback.

    The fallback, for other languages, is babel's closest match to the date ``skeleton``,
    followed by the locale's short time when ``with_time``.
    """

    skeleton: str
    with_time: bool = False
    patterns: dict[str, str]


#: When something will happen: an expected time, an appointment, a shift start.
DAY_TIME: Final = Form(
    skeleton="MMMMEd",
    with_time=True,
    patterns={"es": "EEE, d 'de' MMMM, H:mm", "en": "EEE, MMM d, h:mm a"},
)
#: A choice on a button, short enough for a phone: ``lun, 30 nov 09:00``.
SLOT: Final = Form(
    skeleton="MMMEd",
    with_time=True,
    patterns={"es": "EEE, d MMM HH:mm", "en": "EEE, MMM d HH:mm"},
)
#: A day named in full: ``lunes, 30 de noviembre``.
WEEKDAY_DAY: Final = Form(
    skeleton="MMMMEEEEd",
    patterns={"es": "EEEE, d 'de' MMMM", "en": "EEEE, MMMM d"},
)
#: A day of this year: ``30 de noviembre``.
DAY: Final = Form(skeleton="MMMMd", patterns={"es": "d 'de' MMMM", "en": "MMMM d"})
#: A day with its year: ``25 de noviembre de 2026``.
DATE: Final = Form(skeleton="yMMMMd", patterns={"es": "d 'de' MMMM 'de' y", "en": "MMMM d, y"})


@functools.lru_cache(maxsize=64)
def _locale(code: str) -> Locale:
    """babel's data for ``code``, read once: given a code, babel builds a new Locale and
    looks its data up again for every date it writes (a tenth of writing a reply's time)."""
    return Locale.parse(code)


def base_language(language: str) -> str:
    """``es-ES`` / ``es_ES`` -> ``es``: the patterns are per language, not per region."""
    return language.replace("-", "_").split("_")[0].lower()


def format_moment(when: dt.datetime, form: Form, language: str, tz: ZoneInfo) -> str:
    """``when`` in the town's time zone, written as ``form`` says for ``language``."""
    if when.tzinfo is None:
        raise ValueError("a moment shown to residents must be time-zone aware")
    local = when.astimezone(tz)
    base = base_language(language)
    pattern = form.patterns.get(base)
    if pattern is not None:
        return format_datetime(local, pattern, tzinfo=tz, locale=_locale(base))
    locale = _locale(language.replace("-", "_"))
    day = format_skeleton(form.skeleton, local, tzinfo=tz, locale=locale)
    if not form.with_time:
        return day
    return f"{day}, {babel_time(local, 'short', tzinfo=tz, locale=locale)}"


def format_day(day: dt.date, form: Form, language: str) -> str:
    """A calendar day (no time, no zone) written as ``form`` says for ``language``."""
    base = base_language(language)
    pattern = form.patterns.get(base)
    if pattern is None:
        return format_skeleton(form.skeleton, day, locale=_locale(language.replace("-", "_")))
    return babel_date(day, pattern, locale=_locale(base))
