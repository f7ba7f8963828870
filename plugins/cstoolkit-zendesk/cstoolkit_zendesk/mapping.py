"""Zendesk values -> cstoolkit model values (and back), overridable per instance.

Every map is a plain dict so ``status_map`` / ``priority_map`` / ``channel_map`` tables in
cstoolkit.toml merge over the defaults here (docs/backends/zendesk.md lists them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cstoolkit.model import Channel, Priority, Status, bare_id

if TYPE_CHECKING:
    from cstoolkit.backends import HttpBackend

#: Zendesk status -> model status. ``custom:<custom_status_id>`` keys map custom statuses.
DEFAULT_STATUS_MAP: dict[str, str] = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
}

#: model status -> Zendesk status (for writes).
STATUS_TO_VENDOR: dict[str, str] = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "on_hold": "hold",
    "solved": "solved",
    "closed": "closed",
}

DEFAULT_PRIORITY_MAP: dict[str, str] = {
    "low": "low",
    "normal": "normal",
    "high": "high",
    "urgent": "urgent",
}

#: ``via.channel`` -> model channel (Zendesk's via types; unknown ones become ``other``).
DEFAULT_CHANNEL_MAP: dict[str, str] = {
    "email": "email",
    "web": "web",
    "web_form": "web",
    "mobile": "web",
    "help_center": "web",
    "web_widget": "chat",
    "mobile_sdk": "chat",
    "chat": "chat",
    "chat_transcript": "chat",
    "native_messaging": "chat",
    "messaging": "chat",
    "sunshine_conversations_api": "chat",
    "voice": "phone",
    "phone": "phone",
    "voicemail": "phone",
    "api": "api",
    "twitter": "social",
    "twitter_dm": "social",
    "twitter_favorite": "social",
    "facebook": "social",
    "facebook_post": "social",
    "facebook_message": "social",
    "instagram_dm": "social",
    "line": "social",
    "wechat": "social",
    "whatsapp": "whatsapp",
    "sms": "sms",
    "text": "sms",
}


class Mapper:
    """The per-instance translation tables, from the common ``mapping`` setting.

    ``mapping.statuses`` / ``priorities`` / ``channels`` map vendor values to model values over
    the defaults above; ``mapping.fields`` renames custom fields (vendor field id -> the name
    cstoolkit uses); ``mapping.plan_field`` names the organization field holding the plan.
    """

    def __init__(self, backend: HttpBackend[Any]) -> None:
        self.status = backend.mapping_table("statuses", DEFAULT_STATUS_MAP, Status)
        self.priority = backend.mapping_table("priorities", DEFAULT_PRIORITY_MAP, Priority)
        self.channel = backend.mapping_table("channels", DEFAULT_CHANNEL_MAP, Channel)
        self.fields = backend.field_names()
        self.fields_back = {v: k for k, v in self.fields.items()}
        plan = backend.mapping_value("plan_field")
        self.plan_field = str(plan) if plan else None
        # Lookups straight to enum members (Enum(value) is slow on a million tickets).
        self.status_enum = {k: Status(v) for k, v in self.status.items()}
        self.priority_enum = {k: Priority(v) for k, v in self.priority.items()}
        self.channel_enum = {k: Channel(v) for k, v in self.channel.items()}

    def field_name(self, vendor_field: Any) -> str:
        return self.fields.get(str(vendor_field), str(vendor_field))

    def vendor_field(self, name: str) -> str:
        return self.fields_back.get(name, bare_id(name))

    def ticket_status(self, raw: Mapping[str, Any]) -> Status:
        custom = raw.get("custom_status_id")
        if custom is not None:
            mapped = self.status_enum.get(f"custom:{custom}")
            if mapped is not None:
                return mapped
        return self.status_enum.get(str(raw.get("status") or "new"), Status.OPEN)

    def status_value(self, vendor: Any) -> str | None:
        if vendor is None:
            return None
        return self.status.get(str(vendor), str(vendor))

    def priority_value(self, vendor: Any) -> str | None:
        if vendor is None:
            return None
        return self.priority.get(str(vendor), str(vendor))

    def vendor_status(self, model: str) -> str:
        if model not in STATUS_TO_VENDOR:
            raise ValueError(f"status {model!r} is not one of {', '.join(STATUS_TO_VENDOR)}")
        return STATUS_TO_VENDOR[model]

    def vendor_priority(self, model: str) -> str:
        if model not in DEFAULT_PRIORITY_MAP:
            raise ValueError(f"priority {model!r} is not one of {', '.join(DEFAULT_PRIORITY_MAP)}")
        return model


def vendor_id(value: str | int) -> int | str:
    text = bare_id(value)
    return int(text) if text.lstrip("-").isdigit() else text
