"""Freshdesk codes -> cstoolkit model values (and back), overridable per instance.

Freshdesk sends numbers: status 2 Open, 3 Pending, 4 Resolved, 5 Closed (6+ are an account's
custom statuses); priority 1 Low .. 4 Urgent; source 1 Email, 2 Portal, 3 Phone, 7 Chat,
9 Feedback widget, 10 Outbound email, ... The common ``mapping`` setting's tables (keys are
the codes as strings) merge over these defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.model import Channel, Priority, Status, bare_id

if TYPE_CHECKING:
    from cstoolkit.backends import HttpBackend

DEFAULT_STATUS_MAP: dict[str, str] = {"2": "open", "3": "pending", "4": "solved", "5": "closed"}
DEFAULT_PRIORITY_MAP: dict[str, str] = {"1": "low", "2": "normal", "3": "high", "4": "urgent"}
DEFAULT_CHANNEL_MAP: dict[str, str] = {
    "1": "email",  # Email
    "2": "web",  # Portal
    "3": "phone",  # Phone
    "4": "web",  # Forum
    "5": "social",  # Twitter
    "6": "social",  # Facebook
    "7": "chat",  # Chat
    "8": "web",  # MobiHelp
    "9": "web",  # Feedback widget
    "10": "email",  # Outbound email
}
#: model channel -> Freshdesk source code for created tickets.
CHANNEL_TO_SOURCE: dict[str, int] = {"email": 1, "web": 2, "phone": 3, "chat": 7, "social": 2}


def _reverse(table: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, int]:
    """model value -> vendor code: the instance's own entries first, then the defaults."""
    out: dict[str, int] = {}
    for source in (dict(table.items() - defaults.items()), defaults):
        for code, model in source.items():
            if code.isdigit():
                out.setdefault(model, int(code))
    return out


class Mapper:
    def __init__(self, backend: HttpBackend[Any]) -> None:
        self.status = backend.mapping_table("statuses", DEFAULT_STATUS_MAP, Status)
        self.priority = backend.mapping_table("priorities", DEFAULT_PRIORITY_MAP, Priority)
        self.channel = backend.mapping_table("channels", DEFAULT_CHANNEL_MAP, Channel)
        self.status_back = _reverse(self.status, DEFAULT_STATUS_MAP)
        self.status_back.setdefault("new", 2)  # Freshdesk has no "new": a new ticket is Open
        self.priority_back = _reverse(self.priority, DEFAULT_PRIORITY_MAP)
        self.fields = backend.field_names()
        self.fields_back = {v: k for k, v in self.fields.items()}
        plan = backend.mapping_value("plan_field")
        self.plan_field = str(plan) if plan else None

    def ticket_status(self, code: Any) -> Status:
        return Status(self.status.get(str(code), "open"))

    def ticket_priority(self, code: Any) -> Priority:
        return Priority(self.priority.get(str(code), "normal"))

    def ticket_channel(self, code: Any) -> Channel:
        return Channel(self.channel.get(str(code), "other"))

    def vendor_status(self, model: str) -> int:
        if model not in self.status_back:
            raise ValueError(
                f"no Freshdesk status for {model!r}: map a custom status code to it in "
                "mapping.statuses"
            )
        return self.status_back[model]

    def vendor_priority(self, model: str) -> int:
        if model not in self.priority_back:
            raise ValueError(f"priority {model!r} is not one of low, normal, high, urgent")
        return self.priority_back[model]

    def field_name(self, vendor: str) -> str:
        return self.fields.get(vendor, vendor)

    def vendor_field(self, name: str) -> str:
        return self.fields_back.get(name, name)


def vendor_int(value: str | int) -> int | str:
    text = bare_id(value)
    return int(text) if text.isdigit() else text
