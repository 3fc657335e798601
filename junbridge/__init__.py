"""junbridge: a town's public services over the messengers its residents already use.

The public API for department and channel plugins lives here.
"""

from junbridge.channels.base import Channel, InvalidPayload
from junbridge.config.settings import (
    ConfigFile,
    DepartmentSettings,
    Secret,
    Settings,
    Shift,
    Staff,
)
from junbridge.departments import Change, Conversation, Department, Outcome, Say
from junbridge.hookspecs import hookimpl
from junbridge.model import (
    Attachment,
    Choice,
    IllegalTransition,
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

__all__ = [
    "Attachment",
    "Change",
    "Channel",
    "Choice",
    "ConfigFile",
    "Conversation",
    "Department",
    "DepartmentSettings",
    "IllegalTransition",
    "InvalidPayload",
    "Location",
    "Message",
    "MessageKind",
    "Outcome",
    "Reply",
    "Resident",
    "Say",
    "Secret",
    "Sender",
    "ServiceRequest",
    "Settings",
    "Shift",
    "Staff",
    "Status",
    "VersionConflict",
    "hookimpl",
]
