"""Typed settings blocks of channels.yaml: the pydantic edge where admins' text comes in.

Every block forbids unknown keys so that a typo is an error with a "did you mean", never a
silently ignored line. Plugins subclass :class:`Settings` for their own blocks.
"""

from __future__ import annotations

import difflib
import os
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticKnownError

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Names an admin may write instead, in English or Spanish: only used to suggest the short form.
WEEKDAY_NAMES: dict[str, Weekday] = {
    name: day
    for day, names in zip(
        WEEKDAYS,
        (
            ("monday", "lunes", "lun", "lu"),
            ("tuesday", "tues", "martes", "mar", "ma"),
            ("wednesday", "miércoles", "miercoles", "mié", "mie", "mi"),
            ("thursday", "thur", "thurs", "jueves", "jue", "ju"),
            ("friday", "viernes", "vie", "vi"),
            ("saturday", "sábado", "sabado", "sáb", "sab", "sa"),
            ("sunday", "domingo", "dom", "do"),
        ),
        strict=True,
    )
    for name in names
}


def _existing_file(value: str, info: ValidationInfo) -> str:
    """A path relative to channels.yaml's folder must name a file that is there."""
    config_dir = (info.context or {}).get("config_dir")
    if isinstance(config_dir, Path):
        path = resolve_path(config_dir, value)
        if path.is_file():
            return value
        what = "a folder, not a file" if path.is_dir() else "no such file"
        relative = "" if Path(value).is_absolute() else " in the folder of channels.yaml"
        siblings = [p.name for p in path.parent.iterdir()] if path.parent.is_dir() else []
        close = difflib.get_close_matches(path.name, siblings, n=1)
        hint = f" (did you mean {str(Path(value).with_name(close[0]))!r}?)" if close else ""
        raise ValueError(f"{what}: {value!r}{relative}{hint}")
    return value


ConfigFile = Annotated[str, AfterValidator(_existing_file)]
"""A file path in channels.yaml, relative to its folder; check reports one that is missing."""


class Settings(BaseModel):
    """Base of every settings block: frozen, unknown keys forbidden."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True
    )


class MissingSecret(LookupError):
    """A ``{$env: NAME}`` secret was used but the environment variable is not set."""


class Secret(Settings):
    """A secret taken from the environment, written ``{$env: NAME}`` in channels.yaml.

    The value is read when used, so a channel whose secret is missing can be reported and
    skipped; reading a missing one raises :class:`MissingSecret`, it is never ``None``.
    """

    env: str = Field(alias="$env", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @property
    def is_set(self) -> bool:
        """Whether the environment variable exists now."""
        return self.env in os.environ

    def get(self) -> str:
        """The secret's value; raises :class:`MissingSecret` if the variable is unset."""
        try:
            return os.environ[self.env]
        except KeyError:
            raise MissingSecret(f"environment variable {self.env} is not set") from None

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r})"


def _parse_hours(value: Any) -> Any:
    if isinstance(value, str) and "-" in value:
        start, _, end = value.partition("-")
        return {"start": start.strip(), "end": end.strip()}
    return value


class Hours(Settings):
    """Opening hours on one day, written ``"08:00-15:00"``."""

    start: time
    end: time


class LimitsSettings(Settings):
    """The ``town.limits`` block: how much one resident may write before being slowed down."""

    messages_per_minute: int = Field(10, ge=1, description="for verified residents")
    unverified_messages_per_minute: int = Field(5, ge=1)
    messages_per_day: int = Field(200, ge=1)


class TownSettings(Settings):
    """The ``town:`` block: who we are and when the town hall works."""

    name: str
    reference_prefix: str = Field("JUN", pattern=r"^[A-Z]{2,8}$")
    timezone: str = "Europe/Madrid"
    languages: list[str] = Field(default_factory=lambda: ["es", "en"], min_length=1)
    business_hours: dict[Weekday, Annotated[Hours, BeforeValidator(_parse_hours)]] = Field(
        default_factory=lambda: {
            d: Hours(start=time(8), end=time(15)) for d in ("mon", "tue", "wed", "thu", "fri")
        }
    )
    holidays: list[date] = Field(default_factory=list)
    emergency_number: str = "112"
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    quiet_hours: Annotated[Hours, BeforeValidator(_parse_hours)] | None = Field(
        None, description="e.g. '22:00-08:00': non-urgent notices wait until it ends"
    )

    @property
    def language(self) -> str:
        """The town's default language: the first of ``languages``."""
        return self.languages[0]

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. 'Europe/Madrid')") from None
        return value


class StoreSettings(Settings):
    """The ``store:`` block: SQLite by default, a PostgreSQL URL to scale out."""

    url: str = "sqlite:///junbridge.db"
    media_dir: str = Field("media", description="where photos are kept, relative to channels.yaml")


class WebSettings(Settings):
    """The ``web:`` block: where the HTTP server listens and how the public reaches it."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    admin_token: Secret | None = Field(
        None,
        description="Bearer token of the admin API (/admin/...), e.g. "
        "{$env: JUNBRIDGE_ADMIN_TOKEN}; without it the admin API is off",
    )


class ApiKey(Settings):
    """One Open311 client allowed to report: its name (kept in each report's history) and key."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="e.g. fixmystreet")
    key: Secret


class Open311Settings(Settings):
    """The ``open311:`` block: the GeoReport v2 API under /open311/v2/."""

    enabled: bool = True
    api_keys: list[ApiKey] = Field(
        default_factory=list, description="who may POST requests; none: reading only"
    )
    contact: str | None = Field(None, description="who developers ask, shown in discovery")
    key_service: str | None = Field(None, description="how to ask for a key, shown in discovery")


class Staff(Settings):
    """A member of a department's staff and their handle on each platform."""

    name: str
    role: Literal["member", "lead"] = "member"
    handles: dict[str, str] = Field(default_factory=dict)


class Shift(Settings):
    """One line of an on-duty rota: who, which days, from when to when (town time)."""

    staff: str
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: time = Field(time(0), alias="from")
    end: time = Field(time(23, 59, 59), alias="to")
    holidays: bool = Field(False, description="also on the town's holidays")


class ChannelSettings(Settings):
    """Options every channel block has; each channel plugin subclasses it."""

    enabled: bool = True
    pace: Literal["platform", "off"] = Field(
        "platform",
        description="platform: send within the platform's documented rates; off: as fast as "
        "it answers (a local Bot API server without limits)",
    )
    pins: dict[str, str] = Field(
        default_factory=dict,
        description="conversation id -> department: every message there goes to that department",
    )


class RetentionSettings(Settings):
    """How long a department keeps closed requests before ``junbridge maintenance`` acts."""

    after_days: int = Field(gt=0, description="days after a request was closed (last changed)")
    action: Literal["anonymize", "delete"] = Field(
        "anonymize", description="anonymize: keep the case without personal data; delete: remove"
    )


class DepartmentSettings(Settings):
    """Options every department block has; each department plugin subclasses it."""

    enabled: bool = True
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    staff: list[Staff] = Field(default_factory=list)
    on_duty: list[Shift] = Field(default_factory=list)
    sla_hours: float = Field(48, gt=0, description="resolution target")
    first_response_hours: float | None = Field(
        None, gt=0, description="staff should have acknowledged by then; null: no target"
    )
    business_hours: bool = Field(True, description="count the SLA in town business hours only")
    replies: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="language -> template key -> text, overriding defaults"
    )
    followup_hours: float | None = Field(
        24, gt=0, description="after resolved, ask the resident 'is it fixed?'; null: never"
    )
    followup_deadline_hours: float = Field(
        72, gt=0, description="no answer this long after asking: the request is closed"
    )
    ask_rating: bool = Field(True, description="after 'yes, fixed', ask for a 1-5 rating")
    tag_staff_publicly: bool = Field(
        False, description="public replies tag the assignee's handle, the Jun way"
    )
    staff_place: str | None = Field(
        None,
        pattern=r"^[a-z_]+:\S+$",
        description="channel:conversation where staff get request cards and give commands, "
        "e.g. slack:C0LIGHTING",
    )
    retention: RetentionSettings | None = Field(
        None, description="what happens to closed requests after some days; none: kept"
    )
    nearby_metres: float = Field(
        50,
        ge=0,
        description="a report this close to an open request of a public department (or in "
        "its street, at its lamp number) joins it instead of opening another; 0: never",
    )

    @field_validator(
        "sla_hours",
        "first_response_hours",
        "followup_hours",
        "followup_deadline_hours",
        check_fields=False,
    )
    @classmethod
    def _positive_hours(cls, value: float | None) -> float | None:
        # Also when a plugin redeclares the field without the bound: a negative SLA would
        # only fail when the first request is promised a time.
        if value is not None and value <= 0:
            raise PydanticKnownError("greater_than", {"gt": 0})
        return value

    @field_validator("nearby_metres", check_fields=False)
    @classmethod
    def _not_negative(cls, value: float) -> float:
        # Kept when a plugin redeclares it with its own default (0 turns joining off).
        if value < 0:
            raise PydanticKnownError("greater_than_equal", {"ge": 0})
        return value


def resolve_path(base: Path, value: str | Path) -> Path:
    """A path from channels.yaml, relative to the file's own folder."""
    path = Path(value)
    return path if path.is_absolute() else base / path
