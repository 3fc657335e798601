"""junbridge: a town's public services over the messengers its residents already use.

The public API for department and channel plugins lives here: a plugin imports from
``junbridge`` (and its tests from ``junbridge.testing``), never from the modules inside,
which may move. docs/writing_plugins.md lists what each name is for.
"""

from junbridge.channels.base import Channel, DeliveryError, Host, InvalidPayload, parts_sent
from junbridge.config.settings import (
    WEEKDAYS,
    ConfigFile,
    DepartmentSettings,
    Secret,
    Settings,
    Shift,
    Staff,
    Weekday,
    resolve_path,
)
from junbridge.dates import DATE, DAY, DAY_TIME, SLOT, WEEKDAY_DAY, Form, format_day, format_moment
from junbridge.departments import (
    Change,
    Conversation,
    Department,
    Outcome,
    RegisterDepartment,
    Say,
    fold,
    keyword_hits,
)
from junbridge.hookspecs import hookimpl
from junbridge.markup import Markup, escape
from junbridge.model import (
    Attachment,
    Choice,
    IllegalTransition,
    JunbridgeError,
    Location,
    Message,
    MessageKind,
    Reply,
    Resident,
    Sender,
    ServiceRequest,
    Status,
    VersionConflict,
)
from junbridge.routing import Route
from junbridge.services import Attribute, Service

__all__ = [
    "DATE",
    "DAY",
    "DAY_TIME",
    "SLOT",
    "WEEKDAYS",
    "WEEKDAY_DAY",
    "Attachment",
    "Attribute",
    "Change",
    "Channel",
    "Choice",
    "ConfigFile",
    "Conversation",
    "DeliveryError",
    "Department",
    "DepartmentSettings",
    "Form",
    "Host",
    "IllegalTransition",
    "InvalidPayload",
    "JunbridgeError",
    "Location",
    "Markup",
    "Message",
    "MessageKind",
    "Outcome",
    "RegisterDepartment",
    "Reply",
    "Resident",
    "Route",
    "Say",
    "Secret",
    "Sender",
    "Service",
    "ServiceRequest",
    "Settings",
    "Shift",
    "Staff",
    "Status",
    "VersionConflict",
    "Weekday",
    "escape",
    "fold",
    "format_day",
    "format_moment",
    "hookimpl",
    "keyword_hits",
    "parts_sent",
    "resolve_path",
]
