"""``HttpBackend``: the base of every backend that talks to a vendor over HTTP.

A vendor backend is its settings class, its mapping code and its walks::

    class AcmeSettings(HttpBackendSettings):
        api_key: str = setting(secret=True, help="API key.")
        page_size: int = setting(100, minimum=1, maximum=100, help="Tickets per page.")
        budget_share: float = http_setting("budget_share", 0.8)

    class AcmeBackend(HttpBackend[AcmeSettings]):
        name = "acme"
        default_base_url = "https://api.acme.example"

        def http_auth(self) -> HttpAuth:
            return HttpAuth(headers={"X-Api-Key": self.options.api_key},
                            secrets=[self.options.api_key], hint="the api_key setting")

The base carries what every such backend needs once: ``self.options`` (typed settings), the
shared client (:class:`~cstoolkit.http.HttpClient` built lazily from the HTTP settings, with
``self.stats`` for the sync summary), the paging walks with their no-progress guard
(:mod:`cstoolkit.backends.walks`), malformed-data errors naming backend, endpoint, record and
field (:mod:`cstoolkit.backends.records`), the vendor time parser, and the small things every
backend repeated: the ``filters`` and ``mapping`` tables, versioned JSON cursors, markers
remembered in the instance state, a 404 read as "none", the live check. No SQL and no CLI here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path  # read at run time: the annotations of HttpSettings
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from cstoolkit.backends import requesters
from cstoolkit.backends.records import MAPPING_ERRORS, VendorDataError, malformed
from cstoolkit.backends.walks import ProgressGuard
from cstoolkit.errors import BackendError, CapabilityError, ConfigError, CstError
from cstoolkit.http import HttpStats, http_settings
from cstoolkit.model import Event, EventKind, Role, Ticket, bare_id
from cstoolkit.plugin import Backend, BackendSettings, CheckResult, merge_mapping
from cstoolkit.plugin_settings import PluginSettings, Setting, setting
from cstoolkit.vendor_time import iso_z, parse_time

if TYPE_CHECKING:
    from cstoolkit.http import HttpClient
    from cstoolkit.store.kv import KeyValue

log = logging.getLogger("cstoolkit.backends")

_HTTP: dict[str, Setting] = {s.name: s for s in http_settings()}
MARKERS_KEY = "markers"


def http_setting(name: str, default: Any) -> Any:
    """One of the shared HTTP settings with this plugin's default (e.g. ``budget_share``)."""
    return setting(default, like=_HTTP[name])


class HttpSettings(PluginSettings):
    """The settings every HTTP plugin accepts (:func:`cstoolkit.http.http_settings`), typed."""

    base_url: str | None = setting(like=_HTTP["base_url"])
    timeout: float = setting(like=_HTTP["timeout"])
    proxy: str | None = setting(like=_HTTP["proxy"])
    ca_bundle: Path | None = setting(like=_HTTP["ca_bundle"])
    requests_per_minute: float | None = setting(like=_HTTP["requests_per_minute"])
    budget_share: float = setting(like=_HTTP["budget_share"])
    max_retry_wait: float = setting(like=_HTTP["max_retry_wait"])
    default_rate_limit_wait: float = setting(like=_HTTP["default_rate_limit_wait"])

    def client_settings(self) -> dict[str, Any]:
        """These values as the mapping :meth:`HttpClient.from_settings` reads."""
        return {
            name: str(value) if name == "ca_bundle" and value is not None else value
            for name in _HTTP
            if (value := getattr(self, name)) is not None
        }


class HttpBackendSettings(BackendSettings, HttpSettings):
    """A backend's common settings plus the HTTP ones: what vendor backends subclass."""


@dataclass(slots=True)
class HttpAuth:
    """How a backend authenticates: httpx ``auth`` and/or headers, the secrets to redact, and
    the settings a 401/403 message points to."""

    auth: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    secrets: list[str | None] = field(default_factory=list)
    hint: str = ""


OptionsT = TypeVar("OptionsT", bound=HttpBackendSettings)
T = TypeVar("T")
R = TypeVar("R")


def build_client(owner: Any) -> HttpClient:
    """The :class:`HttpClient` of an HTTP backend or knowledge source: its typed settings
    (``owner.options.client_settings()``), its address (``owner.api_base_url()``), its
    credentials (``owner.http_auth()``, redacted in every message) and its extra client
    arguments (``owner.http_extra()``), counting into ``owner.stats``."""
    from cstoolkit.http import HttpClient

    auth = owner.http_auth()
    settings = owner.options.client_settings()
    settings["base_url"] = owner.api_base_url()
    return HttpClient.from_settings(
        settings,
        label=owner.label,
        default_base_url=None,
        auth=auth.auth,
        headers=auth.headers,
        secrets=auth.secrets,
        stats=owner.stats,
        auth_hint=auth.hint,
        **owner.http_extra(),
    )


class HttpBackend(Backend[OptionsT]):
    """A backend over a vendor's HTTP API (see the module docstring)."""

    #: The vendor's address when ``base_url`` is not set (None: base_url is required).
    default_base_url: ClassVar[str | None] = None
    #: Whether :meth:`create_once` remembers created ids by marker in the instance state.
    remember_markers: ClassVar[bool] = True

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        super().__init__(instance, config, state)
        self.label = f"{self.name} instance {instance!r}"
        self.stats = HttpStats()
        self._http: HttpClient | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance} {self.api_base_url()}>"

    # -- the client ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str | None:
        return self.api_base_url()

    def api_base_url(self) -> str | None:
        """The address requests go to (``base_url``, else :attr:`default_base_url`)."""
        return self.options.base_url or self.default_base_url

    def http_auth(self) -> HttpAuth:
        """Credentials for the client (override; the default sends none)."""
        return HttpAuth()

    def http_extra(self) -> dict[str, Any]:
        """More :class:`HttpClient` arguments (``budgets``, ``requests_per_minute``, ...)."""
        return {}

    @property
    def http(self) -> HttpClient:
        """The instance's client, built on first use and closed by :meth:`close`."""
        if self._http is None:
            self._http = build_client(self)
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def get_or_none(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` as JSON; None when the vendor answers 404."""
        from cstoolkit.http import HttpError

        try:
            return self.http.get_json(path, params=params)
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def live_check(self, path: str, describe: Callable[[Any], str | None]) -> CheckResult:
        """``cst doctor``'s check: GET ``path``; ``describe(body)`` says who we are, or None
        when the answer does not look right."""
        try:
            data = self.http.get_json(path)
        except CstError as exc:
            return CheckResult(False, str(exc))
        try:
            detail = describe(data)
        except MAPPING_ERRORS:
            detail = None
        if detail is None:
            return CheckResult(
                False, f"{self.api_base_url()}: {path} answered, but not as expected"
            )
        return CheckResult(True, f"{self.api_base_url()}: {detail}")

    # -- reading safely ------------------------------------------------------------------------

    def guard(self, endpoint: str, what: str = "position") -> ProgressGuard:
        """A no-progress guard for one walk over ``endpoint`` (``GET /path``)."""
        return ProgressGuard(self.label, endpoint, what=what)

    def malformed(
        self, exc: BaseException, endpoint: str, kind: str, record: Any
    ) -> VendorDataError:
        """The one-line error for what a mapper raised on ``record`` (see records.malformed)."""
        return malformed(exc, self.label, endpoint, kind, record)

    def map_record(
        self, mapper: Callable[[Any], T], raw: Any, endpoint: str, kind: str = "ticket"
    ) -> T:
        """``mapper(raw)``, with whatever it raises on malformed data reported in one line."""
        try:
            return mapper(raw)
        except MAPPING_ERRORS as exc:
            raise self.malformed(exc, endpoint, kind, raw) from None

    def created_event(self, ticket: Ticket, event_id: str) -> Event:
        """The ``created`` event of a ticket whose vendor has no creation record of its own."""
        return Event(
            id=f"{self.instance}:{event_id}",
            ticket_id=ticket.id,
            kind=EventKind.CREATED,
            at=ticket.created_at,
            author_id=ticket.requester_id,
            author_role=Role.REQUESTER if ticket.requester_id else None,
        )

    def load_cursor(self, text: str, version: int) -> dict[str, Any] | None:
        """A JSON cursor written by :meth:`dump_cursor` (None when unreadable or another
        version: the caller restarts or raises, as its docs say)."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError):
            return None
        if not isinstance(data, dict) or data.get("v") != version:
            return None
        return data

    @staticmethod
    def dump_cursor(version: int, **fields: Any) -> str:
        return json.dumps({"v": version, **fields}, separators=(",", ":"))

    def unreadable_cursor(self, detail: str = "") -> BackendError:
        """The error for a saved cursor this backend cannot read (the user re-reads all)."""
        why = f" ({detail})" if detail else ""
        return BackendError(f"{self.label}: unreadable cursor{why}; run `cst sync pull --full`")

    # -- settings helpers ----------------------------------------------------------------------

    def filter_values(
        self, allowed: Mapping[str, str], vendor: str, *, single: bool = False
    ) -> dict[str, list[str]]:
        """The common ``filters`` table as {vendor field: [values]}.

        ``allowed`` maps the filter keys this vendor supports to its field names; another key
        raises ``ConfigError`` naming ``filters.KEY``. Values are strings (instance-qualified
        ids are unqualified); ``single`` allows one value per key.
        """
        value = self.options.filters
        if not value:
            return {}
        out: dict[str, list[str]] = {}
        for key, wanted in value.items():
            if key not in allowed:
                names = list(allowed)
                listed = " and ".join(
                    [", ".join(names[:-1]), names[-1]] if len(names) > 1 else names
                )
                raise ConfigError(
                    f"{vendor} can filter by {listed} only",
                    field=f"{self.settings_path}.filters.{key}",
                )
            values = wanted if isinstance(wanted, list) else [wanted]
            if single and len(values) > 1:
                raise ConfigError(
                    f"one value per instance for {vendor}",
                    field=f"{self.settings_path}.filters.{key}",
                )
            out[allowed[key]] = [bare_id(str(v)) for v in values]
        return out

    def mapping_table(
        self, name: str, defaults: Mapping[str, str], enum: type[Enum], *, lower: bool = False
    ) -> dict[str, str]:
        """``defaults`` merged with the instance's ``mapping.NAME`` table (vendor -> model);
        ``lower`` lowercases the vendor keys (vendors that match names case-insensitively)."""
        table = self.options.mapping or {}
        override = table.get(name)
        if lower and isinstance(override, Mapping):
            override = {str(k).lower(): v for k, v in override.items()}
        return merge_mapping(defaults, override, enum, f"mapping.{name}", self.settings_path)

    def mapping_value(self, name: str) -> Any:
        """Another key of the ``mapping`` table (``fields``, ``plan_field``)."""
        return (self.options.mapping or {}).get(name)

    def field_names(self) -> dict[str, str]:
        """``mapping.fields`` (vendor field -> cstoolkit name); a non-table is a ConfigError."""
        fields = self.mapping_value("fields") or {}
        if not isinstance(fields, Mapping):
            raise ConfigError("must be a table", field=f"{self.settings_path}.mapping.fields")
        return {str(k): str(v) for k, v in fields.items()}

    # -- writes --------------------------------------------------------------------------------

    def existing(self, record: R | None, ext: str, what: str = "ticket") -> R:
        """``record`` (a re-read before a write), or a BackendError naming the missing id."""
        if record is None:
            raise BackendError(f"{self.label}: {what} {ext} does not exist")
        return record

    def converted(self, convert: Callable[[str], T], value: str, context: str) -> T:
        """``convert(value)`` (a model value to the vendor's); a ValueError becomes a
        BackendError naming ``context`` (``ticket 42``, ``cannot create``)."""
        try:
            return convert(value)
        except (ValueError, KeyError) as exc:
            detail = str(exc) if isinstance(exc, ValueError) else f"unknown value {value!r}"
            raise BackendError(f"{self.label}: {context}: {detail}") from None

    def writable(self) -> None:
        """Refuse every write to a ``read_only`` instance."""
        if self.options.read_only:
            raise CapabilityError(f"{self.label} is read_only; nothing is written to it")

    def remembered_marker(self, marker: str) -> str | None:
        """The id a create with ``marker`` got, as remembered in the instance state."""
        known = (self.state.get(MARKERS_KEY, {}) or {}) if self.state is not None else {}
        value = known.get(marker) if isinstance(known, Mapping) else None
        return None if value is None else str(value)

    def remember_marker(self, marker: str | None, external_id: str) -> None:
        if marker and self.state is not None:
            markers = dict(self.state.get(MARKERS_KEY, {}) or {})
            markers[marker] = external_id
            self.state.set(MARKERS_KEY, markers)

    def create_once(self, marker: str | None, create: Callable[[], str]) -> str:
        """Create a ticket at most once for ``marker``: look it up first, and again when the
        create fails in a way that leaves it unknown whether the vendor created it (a timeout,
        a 5xx); the id is remembered in the instance state."""
        if marker:
            found = self.find_by_marker(marker)
            if found is not None:
                return found
        try:
            ext = create()
        except BackendError:
            if marker:
                found = self.find_by_marker(marker)
                if found is not None:
                    return found
            raise
        if self.remember_markers:
            self.remember_marker(marker, ext)
        return ext

    # -- people known only by phone (WhatsApp, SMS) ---------------------------------------------

    def person_by_phone(
        self,
        phone: str,
        *,
        search: Callable[[str], str | None] | None,
        create: Callable[[str], str],
        exists: Callable[[str], bool] | None = None,
    ) -> str:
        """The vendor's id of the person whose phone is ``phone``, found or created once and
        remembered in this instance's state (:func:`cstoolkit.backends.requesters.person_by_phone`:
        the calls get the number spelled by ``e164``)."""
        return requesters.person_by_phone(
            self.state, phone, search=search, create=create, exists=exists
        )

    def requester_of(self, record: Mapping[str, Any], key: str, ext: str) -> Any:
        """The requester's id on ticket ``ext`` just read (``record[key]``), for a message posted
        as theirs; None when the ticket names none: the plugin then posts
        :func:`~cstoolkit.backends.requesters.requester_note` (never an agent's reply)."""
        value = requesters.requester_of(record, key)
        if value is None:
            log.info(
                "%s: ticket %s has no requester (%r): the customer's message is kept as an "
                "internal note marked as theirs",
                self.label, ext, key,
            )  # fmt: skip
        return value

    def check_unchanged(
        self, ext: str, stamp: Any, expected: datetime | None, *, what: str = "ticket"
    ) -> datetime | None:
        """The re-read conflict check: the vendor's ``updated_at`` (``stamp``) must be the one
        the plan was made against (to the second); ``ConflictError`` otherwise. Returns the
        parsed stamp."""
        from cstoolkit.errors import ConflictError

        try:
            current = parse_time(stamp)
        except ValueError:
            current = None
        if expected is not None and (
            current is None or int(current.timestamp()) != int(expected.timestamp())
        ):
            raise ConflictError(
                f"{self.label}: {what} {ext} changed since the plan (updated {stamp}, plan made "
                f"against {iso_z(expected)}); not overwritten"
            )
        return current
