"""The frozen, versioned plugin-facing API.

:data:`API_VERSION` names the contract third-party plugins are written against (1.1 adds
typed settings and the HTTP backend base, 1.2 knowledge and inbound sources; a plugin written
for 1.0 keeps working). Within one
API major version, everything listed in :data:`COVERED` keeps working: signatures only gain
optional keyword arguments with defaults, dataclasses only gain fields with defaults, hooks only
gain optional arguments (pluggy passes what an implementation asks for), error classes keep
their names, bases and exit codes. A change that breaks this bumps the major API version and
the major cstoolkit version; deprecations come first, with a warning for at least one minor
release (docs/plugins/compatibility.md).

:func:`snapshot` describes the covered surface (``inspect.signature`` of every covered callable,
the fields of every covered dataclass, the hookspecs, the error hierarchy and the capability
names); ``tests/plugin_kit/api_v1_2.json`` holds the committed snapshot, so an accidental change
fails a test, and ``tests/plugin_kit/api_v1.json`` and ``api_v1_1.json`` (the 1.0 and 1.1
snapshots) must stay covered by it. After a deliberate, compatible addition, regenerate it with
``python -m cstoolkit.api > tests/plugin_kit/api_v1_2.json`` and say so in the changelog.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
from typing import Any

API_VERSION = "1.2"

#: module -> names of the covered classes and functions in it.
COVERED: dict[str, tuple[str, ...]] = {
    # protocols and what their methods take and return
    "cstoolkit.plugin": (
        "PluginBase",
        "Backend",
        "Channel",
        "SurveyProvider",
        "Setting",
        "Page",
        "Changes",
        "Comment",
        "ApplyResult",
        "NewTicket",
        "CheckResult",
        "marker_token",
        "merge_mapping",
        "BackendSettings",
        # knowledge sources (1.2)
        "KnowledgeSource",
    ),
    "cstoolkit.articles": ("Article", "ArticlePage"),
    # inbound sources (1.2)
    "cstoolkit.inbound_source": (
        "InboundSource",
        "InboundMessage",
        "Attachment",
        "WebhookRequest",
        "WebhookAnswer",
        "Polled",
        "Refused",
        "meta_signature",
        "twilio_signature",
    ),
    # typed settings (1.1)
    "cstoolkit.plugin_settings": ("PluginSettings", "SettingsNamespace", "setting"),
    # the HTTP backend base, paging walks, malformed data, vendor times (1.1)
    "cstoolkit.backends": (
        "HttpBackend",
        "HttpBackendSettings",
        "HttpSettings",
        "HttpAuth",
        "http_setting",
        "ProgressGuard",
        "NoProgressError",
        "CursorPage",
        "cursor_walk",
        "page_walk",
        "offset_walk",
        "TimeWindowWalk",
        "WindowStep",
        "VendorDataError",
        "FieldError",
        "malformed",
        "field",
        "id_field",
        "time_field",
        "list_field",
        "map_field",
        "expect_object",
        "expect_list",
        "items_of",
        "parse_time",
        "require_time",
        "iso_z",
        "local_text",
        # HTTP knowledge sources (1.2)
        "HttpKnowledgeSource",
        "HttpSourceSettings",
        "html_text",
    ),
    "cstoolkit.model": (
        "Ticket",
        "Event",
        "Person",
        "Group",
        "qualify",
        "split_id",
        "bare_id",
        "utc",
        "now",
    ),
    "cstoolkit.messages": (
        "Recipient",
        "Template",
        "Message",
        "DeliveryResult",
        "SurveyOffer",
        "SurveyAnswer",
    ),
    # hooks
    "cstoolkit.hookspecs": (
        "register_backends",
        "register_channels",
        "register_survey_providers",
        "register_actions",
        "register_metrics",
        "register_exporters",
        "register_commands",
        "register_knowledge_sources",
        "register_inbound_sources",
    ),
    # the shared HTTP client factory
    "cstoolkit.http": (
        "http_settings",
        "HttpClient",
        "HttpError",
        "HttpStats",
        "Budget",
        "HeaderRule",
        "register_rate_limit_header",
        "RequestInDoubt",
        "RetriesExhausted",
        "VendorError",
        "ErrorShape",
        "register_error_shape",
    ),
    # channels and survey providers on the shared HTTP layer
    "cstoolkit.http_channel": (
        "HttpChannel",
        "http_channel_settings",
        "plugin_http_client",
        "delivery_failure",
    ),
    # the per-instance key-value state
    "cstoolkit.store.kv": ("KeyValue", "MemoryKeyValue"),
    # secrets a plugin resolves itself
    "cstoolkit.secrets": ("resolve", "is_reference"),
    # error types
    "cstoolkit.errors": (
        "CstError",
        "UsageError",
        "ConfigError",
        "AuthError",
        "PluginError",
        "NotFoundError",
        "BusyError",
        "StoreError",
        "BackendError",
        "ConflictError",
        "CapabilityError",
    ),
}

#: Declarative class attributes the host reads without instantiating a plugin.
DECLARATIVE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "PluginBase": (
        "kind",
        "name",
        "description",
        "settings",
        "capabilities",
        "requires",
        "options_class",
    ),
    "HttpBackend": ("default_base_url", "remember_markers"),
    "Channel": ("idempotent", "address_kind"),
    "SurveyProvider": ("kinds",),
    "KnowledgeSource": ("kind",),
    "HttpKnowledgeSource": ("default_base_url",),
}

_PUBLIC_DUNDERS = ("__init__",)


def _sig(obj: Any) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "<no signature>"
    return re.sub(r" at 0x[0-9a-fA-F]+>", ">", text)  # default objects: no memory addresses


def _describe_class(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {"bases": [b.__name__ for b in cls.__bases__]}
    if dataclasses.is_dataclass(cls):
        out["fields"] = [
            f"{f.name}: {f.type}"
            + (
                ""
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                else " = ..."
            )
            for f in dataclasses.fields(cls)
        ]
    methods = {}
    for name, member in vars(cls).items():
        if name.startswith("_") and name not in _PUBLIC_DUNDERS:
            continue
        if isinstance(member, (staticmethod, classmethod)):
            methods[name] = _sig(member.__func__)
        elif inspect.isfunction(member):
            methods[name] = _sig(member)
        elif isinstance(member, property):
            methods[name] = "<property>"
    if methods:
        out["methods"] = dict(sorted(methods.items()))
    exit_code = getattr(cls, "exit_code", None)
    if isinstance(exit_code, int):
        out["exit_code"] = exit_code
    attrs = DECLARATIVE_ATTRIBUTES.get(cls.__name__)
    if attrs:
        out["attributes"] = list(attrs)
    return out


def snapshot() -> dict[str, Any]:
    """The covered surface as plain JSON-able data (see the module docstring)."""
    from cstoolkit.hookspecs import PROJECT
    from cstoolkit.plugin import KNOWN_CAPABILITIES

    out: dict[str, Any] = {
        "api_version": API_VERSION,
        "hook_project": PROJECT,
        "capabilities": sorted(KNOWN_CAPABILITIES),
        "entry_point_group": "cstoolkit",
    }
    for module_name, names in COVERED.items():
        module = importlib.import_module(module_name)
        entries: dict[str, Any] = {}
        for name in names:
            obj = getattr(module, name)
            entries[name] = _describe_class(obj) if isinstance(obj, type) else _sig(obj)
        out[module_name] = entries
    return out


def main() -> None:
    print(json.dumps(snapshot(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
