"""The exact wording of dates and times residents read, in Spanish and English.

These are junbridge's choice, not whatever the installed babel's skeleton matching picks.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from junbridge.dates import (
    DATE,
    DAY,
    DAY_TIME,
    SLOT,
    WEEKDAY_DAY,
    Form,
    format_day,
    format_moment,
)

JUN = ZoneInfo("Europe/Madrid")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("when", "language", "shown"),
    [
        # Monday 30 November 2026, 09:15 in Jun (UTC+1).
        (utc(2026, 11, 30, 8, 15), "es", "lun, 30 de noviembre, 9:15"),
        (utc(2026, 11, 30, 8, 15), "en", "Mon, Nov 30, 9:15 AM"),
        # Midnight and noon read as a resident expects in each language.
        (utc(2026, 11, 27, 23, 0), "es", "sáb, 28 de noviembre, 0:00"),
        (utc(2026, 11, 27, 23, 0), "en", "Sat, Nov 28, 12:00 AM"),
        (utc(2026, 12, 4, 11, 0), "en", "Fri, Dec 4, 12:00 PM"),
        # New Year's Eve late in UTC is already 1 January in Jun.
        (utc(2026, 12, 31, 23, 30), "es", "vie, 1 de enero, 0:30"),
        # Summer time: Jun is UTC+2 in July.
        (utc(2027, 7, 1, 14, 0), "es", "jue, 1 de julio, 16:00"),
        # A regional code speaks its language.
        (utc(2026, 11, 30, 8, 15), "es_ES", "lun, 30 de noviembre, 9:15"),
        (utc(2026, 11, 30, 8, 15), "en-GB", "Mon, Nov 30, 9:15 AM"),
    ],
)
def test_a_moment_reads_the_same_whatever_babel_is_installed(
    when: dt.datetime, language: str, shown: str
) -> None:
    assert format_moment(when, DAY_TIME, language, JUN) == shown


def test_button_labels_are_short_and_use_the_24_hour_clock() -> None:
    at = utc(2026, 12, 9, 8, 0)
    assert format_moment(at, SLOT, "es", JUN) == "mié, 9 dic 09:00"
    assert format_moment(at, SLOT, "en", JUN) == "Wed, Dec 9 09:00"


@pytest.mark.parametrize(
    ("form", "es", "en"),
    [
        (WEEKDAY_DAY, "martes, 29 de febrero", "Tuesday, February 29"),
        (DAY, "29 de febrero", "February 29"),
        (DATE, "29 de febrero de 2028", "February 29, 2028"),
    ],
)
def test_days_on_a_leap_day(form: Form, es: str, en: str) -> None:
    assert format_day(dt.date(2028, 2, 29), form, "es") == es
    assert format_day(dt.date(2028, 2, 29), form, "en") == en


def test_a_language_without_patterns_falls_back_to_its_locale() -> None:
    # French has no junbridge pattern: babel's closest skeleton, still in French.
    assert "novembre" in format_moment(utc(2026, 11, 30, 8, 15), DAY_TIME, "fr", JUN)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        format_moment(dt.datetime(2026, 11, 30, 9, 15), DAY_TIME, "es", JUN)
