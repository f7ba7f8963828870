"""What a backend plugin builds on: the HTTP backend base, typed settings, paging walks with a
no-progress guard, malformed-data errors and the vendor time parser.

``from cstoolkit.backends import HttpBackend, HttpBackendSettings, setting`` is all a new HTTP
backend needs to start; see docs/plugins/tutorial.md.
"""

from __future__ import annotations

from cstoolkit.backends.http_base import (
    HttpAuth,
    HttpBackend,
    HttpBackendSettings,
    HttpSettings,
    http_setting,
)
from cstoolkit.backends.knowledge import HttpKnowledgeSource, HttpSourceSettings, html_text
from cstoolkit.backends.records import (
    MAPPING_ERRORS,
    FieldError,
    VendorDataError,
    expect_list,
    expect_object,
    field,
    id_field,
    items_of,
    list_field,
    malformed,
    map_field,
    time_field,
)
from cstoolkit.backends.requesters import (
    e164,
    first_with_phone,
    placeholder_email,
    requester_note,
    same_phone,
)
from cstoolkit.backends.walks import (
    STALL_LIMIT,
    CursorPage,
    NoProgressError,
    ProgressGuard,
    TimeWindowWalk,
    WindowStep,
    cursor_walk,
    offset_walk,
    page_walk,
    rewind,
)
from cstoolkit.plugin import BackendSettings
from cstoolkit.plugin_settings import PluginSettings, setting
from cstoolkit.vendor_time import (
    EPOCH_PREFIX,
    TimeFormatError,
    iso_z,
    local_text,
    parse_text,
    parse_time,
    require_time,
)

__all__ = [
    "EPOCH_PREFIX",
    "MAPPING_ERRORS",
    "STALL_LIMIT",
    "BackendSettings",
    "CursorPage",
    "FieldError",
    "HttpAuth",
    "HttpBackend",
    "HttpBackendSettings",
    "HttpKnowledgeSource",
    "HttpSettings",
    "HttpSourceSettings",
    "NoProgressError",
    "PluginSettings",
    "ProgressGuard",
    "TimeFormatError",
    "TimeWindowWalk",
    "VendorDataError",
    "WindowStep",
    "cursor_walk",
    "e164",
    "expect_list",
    "expect_object",
    "field",
    "first_with_phone",
    "html_text",
    "http_setting",
    "id_field",
    "iso_z",
    "items_of",
    "list_field",
    "local_text",
    "malformed",
    "map_field",
    "offset_walk",
    "page_walk",
    "parse_text",
    "parse_time",
    "placeholder_email",
    "requester_note",
    "require_time",
    "rewind",
    "same_phone",
    "setting",
    "time_field",
]
