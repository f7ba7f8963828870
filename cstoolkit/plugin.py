"""Declarative plugin classes: what a backend, channel or survey provider looks like.

A plugin class states what it is with class attributes (``name``, ``settings``,
``capabilities``, ``requires``) and implements the methods of its protocol. The host reads the
attributes without instantiating anything, so ``cst plugins list`` and ``cst config check`` work
even when a plugin's optional dependency is missing.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from cstoolkit.articles import ArticlePage
from cstoolkit.config.core import BACKEND_KEYS, MAPPING_TABLES
from cstoolkit.config.core import FILTER_KEYS as _FILTER_KEYS
from cstoolkit.errors import ConfigError

# ``Page`` lives in the model (the store stores pages without knowing the plugin API); it is
# part of the plugin API all the same, re-exported here with the types it holds, as before.
from cstoolkit.model import Event, Group, Page, Person, Ticket  # noqa: F401
from cstoolkit.plugin_settings import (
    SETTING_TYPES as _TYPES,  # noqa: F401  (API 1.0 named the setting types here)
)
from cstoolkit.plugin_settings import (
    PluginSettings,
    Setting,
    SettingsNamespace,
    options_class_of,
    setting,
)

if TYPE_CHECKING:
    from cstoolkit.messages import DeliveryResult, Message, Recipient, SurveyAnswer, SurveyOffer
    from cstoolkit.store.kv import KeyValue

# -- capabilities ------------------------------------------------------------------------------

TICKETS_READ = "tickets.read"
TICKETS_WRITE = "tickets.write"
TICKETS_CREATE = "tickets.create"
COMMENTS_WRITE = "comments.write"
CONFLICT_CHECK = "conflict_check"  # a real compare-and-set on update (e.g. Zendesk safe_update)
SURVEYS_SEND = "surveys.send"
MESSAGES_SEND = "messages.send"

KNOWN_CAPABILITIES = frozenset(
    {
        TICKETS_READ,
        TICKETS_WRITE,
        TICKETS_CREATE,
        COMMENTS_WRITE,
        CONFLICT_CHECK,
        SURVEYS_SEND,
        MESSAGES_SEND,
    }
)


# -- settings schema (cstoolkit.plugin_settings; re-exported here, where API 1.0 named them) --

# Settings every backend instance accepts, whatever its plugin (declared by the config schema).
COMMON_BACKEND_SETTINGS: tuple[Setting, ...] = tuple(
    Setting(k.name, k.setting_type, required=k.required, default=k.default, help=k.help)
    for k in BACKEND_KEYS
)
#: Keys of the common ``filters`` table (a plugin refuses keys its vendor cannot filter on).
FILTER_KEYS = _FILTER_KEYS
#: Tables of the common ``mapping`` table.
MAPPING_KEYS = (*MAPPING_TABLES, "plan_field")


# -- plugin base -------------------------------------------------------------------------------


OptionsT = TypeVar("OptionsT")

#: Where each kind of instance lives in cstoolkit.toml (for messages naming a setting).
SECTIONS = {
    "backend": "backends",
    "channel": "channels",
    "survey_provider": "surveys",
    "inbound_source": "inbound",
    "knowledge_source": "knowledge",
}


class PluginBase(Generic[OptionsT]):
    """What every declarative plugin class has.

    A plugin with typed settings names its :class:`~cstoolkit.plugin_settings.PluginSettings`
    class as the type parameter (``class AcmeBackend(Backend[AcmeSettings])``, or
    ``options_class = AcmeSettings``): ``settings`` is then derived from it and every instance
    gets ``self.options``, an ``AcmeSettings`` checked and converted from ``config``. A plugin
    that declares a ``settings`` tuple (plugin API 1.0) keeps ``self.config`` as it was and
    gets ``self.options`` as a :class:`~cstoolkit.plugin_settings.SettingsNamespace`.
    """

    kind: ClassVar[str] = "plugin"
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings: ClassVar[tuple[Setting, ...]] = ()
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Import names of optional dependencies; a plugin missing one is listed as disabled.
    requires: ClassVar[tuple[str, ...]] = ()
    #: The typed settings class (derived from the type parameter when not set).
    options_class: ClassVar[type[PluginSettings] | None] = None

    instance: str
    config: dict[str, Any]
    options: OptionsT

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found = options_class_of(cls)
        if found is not None and "options_class" not in vars(cls):
            cls.options_class = found
        own = vars(cls).get("options_class")
        if own is not None:
            if "settings" in vars(cls):
                raise TypeError(
                    f"{cls.__name__}: declare settings either as a typed settings class or as "
                    "a Setting tuple, not both"
                )
            cls.settings = own.schema()

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        """Keep the instance's name, settings and state; build ``options`` from a typed
        settings class (a ``ConfigError`` naming the field when a value does not fit)."""
        self.instance = instance
        self.config = dict(config)
        self.state = state
        options_class = type(self).options_class
        if options_class is not None:
            options = options_class.from_config(self.config, where=self.settings_path)
            self.options = cast(OptionsT, options)

    @property
    def settings_path(self) -> str:
        """``backends.NAME`` (``channels.NAME``, ``surveys.NAME``): names a setting in errors."""
        return f"{SECTIONS.get(self.kind, self.kind)}.{getattr(self, 'instance', '?')}"

    def __getattr__(self, name: str) -> Any:
        # ``options`` of a plugin declaring a Setting tuple: built the first time it is read,
        # so an API 1.0 plugin that never reads it is not affected at all.
        if name == "options" and "config" in self.__dict__:
            namespace = SettingsNamespace(self.settings, self.config, where=self.settings_path)
            self.__dict__["options"] = namespace
            return namespace
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def missing_requirements(cls) -> list[str]:
        return [mod for mod in cls.requires if importlib.util.find_spec(mod) is None]

    @classmethod
    def secret_settings(cls) -> frozenset[str]:
        return frozenset(s.name for s in cls.settings if s.secret)

    @classmethod
    def setting(cls, name: str) -> Setting | None:
        for s in cls.settings:
            if s.name == name:
                return s
        return None


_COMMON = {s.name: s for s in COMMON_BACKEND_SETTINGS}


class BackendSettings(PluginSettings):
    """Typed settings of a backend: the common backend settings (``read_only``,
    ``start_date``, ``filters``, ``mapping``), which are declared once in
    :data:`COMMON_BACKEND_SETTINGS` and so not repeated in a plugin's ``settings``."""

    read_only: bool = setting(like=_COMMON["read_only"], common=True)
    start_date: str | None = setting(like=_COMMON["start_date"], common=True)
    filters: dict[str, Any] | None = setting(like=_COMMON["filters"], common=True)
    mapping: dict[str, Any] | None = setting(like=_COMMON["mapping"], common=True)


# -- backend protocol --------------------------------------------------------------------------


@dataclass(slots=True)
class Comment:
    body: str
    public: bool = False
    #: written by the ticket's requester (a customer's message that came in), not by an agent;
    #: a backend that cannot post as the requester (its API writes only as the API user, or the
    #: ticket names no requester) keeps it as an internal note marked as theirs
    #: (:func:`cstoolkit.backends.requester_note`), never as an agent's public reply
    from_requester: bool = False


@dataclass(slots=True)
class Changes:
    """Field changes to write to one ticket (``None`` means: leave as it is).

    ``expected_updated_at`` is the ``updated_at`` the plan was made against; a backend with the
    ``conflict_check`` capability refuses the write (:class:`~cstoolkit.errors.ConflictError`)
    when the ticket changed since.
    """

    status: str | None = None
    priority: str | None = None
    assignee_id: str | None = None
    group_id: str | None = None
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    expected_updated_at: datetime | None = None

    def is_empty(self) -> bool:
        return not (
            self.status
            or self.priority
            or self.assignee_id
            or self.group_id
            or self.add_tags
            or self.remove_tags
            or self.custom_fields
            or self.comments
        )


@dataclass(slots=True)
class ApplyResult:
    external_id: str
    changed: bool
    updated_at: datetime | None = None
    detail: str = ""


@dataclass(slots=True)
class NewTicket:
    """A ticket to create in a backend (``marker`` lets mirror find it again after a crash)."""

    subject: str
    description: str
    requester_email: str | None = None
    requester_name: str = ""
    status: str = "new"
    priority: str = "normal"
    channel: str = "other"
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    marker: str | None = None
    #: the requester's phone (E.164) when they wrote in by WhatsApp or SMS (last: positional
    #: callers of API 1.1 keep working)
    requester_phone: str | None = None
    #: the customer's language (ISO 639-1, ``es``) when known: from the message, or guessed
    #: from its words; a backend stores it where it can (the ticket's or requester's locale)
    language: str | None = None


@dataclass(slots=True)
class CheckResult:
    """The verdict of a live, read-only connection check (``cst doctor``)."""

    ok: bool
    detail: str


class Backend(PluginBase[OptionsT]):
    """A ticketing backend.

    Synchronous and simple on purpose: the engine, not the plugin, decides batching,
    concurrency and persistence. Subclasses implement :meth:`pull` and, when they declare
    ``tickets.write`` / ``tickets.create``, :meth:`apply` / :meth:`create`.

    ``config`` holds the instance's settings with secret references already resolved; ``state``
    is the instance's key-value area in the store for anything that must survive runs (an OAuth
    token, a mapping cache).
    """

    kind: ClassVar[str] = "backend"
    capabilities: ClassVar[frozenset[str]] = frozenset({TICKETS_READ})

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        super().__init__(instance, config, state)

    def pull(
        self, cursor: str | None, *, full: bool = False, since: datetime | None = None
    ) -> Iterator[Page]:
        """Yield pages of tickets changed after ``cursor`` (``None``: from the start).

        With ``full=True`` re-read everything; the cursor of the last page is the one to resume
        from next time. ``since`` (an aware UTC datetime, or None) means "start from tickets
        updated at or after this time" and takes the place of ``cursor`` when given: the engine
        passes it on a first run (the instance's ``start_date``) and for ``cst sync pull
        --since``. A backend that cannot filter by time may ignore it (the store's upsert is
        idempotent), but must then still yield everything after ``cursor``.

        The instance's common settings are in ``self.config``: ``filters`` (a dict with keys
        among :data:`FILTER_KEYS`, each a string or a list) and ``mapping`` (see
        docs/plugins/backend-protocol.md); a backend applies the filters it supports and raises
        :class:`~cstoolkit.errors.ConfigError` for a filter its vendor cannot apply.

        An unreadable cursor (garbage, or made by another version) must not be trusted silently
        past data: either restart from the beginning (or from ``since``) or raise
        :class:`~cstoolkit.errors.BackendError` naming the instance.

        Optional: a ``stats`` attribute with ``requests``, ``retries`` and
        ``seconds_waited_rate_limit`` (an :class:`cstoolkit.http.HttpStats`) is read by the
        engine for the ``--json`` summary.
        """
        raise NotImplementedError

    def apply(self, external_id: str, changes: Changes) -> ApplyResult:
        """Write ``changes`` to one ticket; idempotent (applying twice changes nothing more)."""
        raise NotImplementedError

    def create(self, ticket: NewTicket) -> str:
        """Create a ticket and return its external id."""
        raise NotImplementedError

    def fetch(self, external_id: str) -> Ticket | None:
        """Re-read one ticket (the push engine's conflict check for backends without a real
        compare-and-set). Optional: the default says it is not supported."""
        raise NotImplementedError

    def find_by_marker(self, marker: str) -> str | None:
        """Return the external id of a ticket carrying ``marker``, if any (for mirror)."""
        return None

    def check(self) -> CheckResult:
        """A live, read-only connection check; the default pulls nothing and says so."""
        return CheckResult(True, "no live check implemented by this plugin")

    def close(self) -> None:
        """Release connections; called by the engine when done."""


class Channel(PluginBase[OptionsT]):
    """A way to deliver a message to a person (email, chat, SMS, webhook).

    ``send`` returns a :class:`~cstoolkit.messages.DeliveryResult` (sent / failed / unknown)
    rather than raising for delivery problems; an exception counts as *unknown*. ``idempotent``
    says that a second delivery of the same ``idempotency_key`` cannot reach the person twice:
    the provider deduplicates the key, or :meth:`lookup` can tell whether it was delivered. The
    engine reconciles a crash between send and commit only for idempotent channels; for the
    others the survey becomes ``in_doubt`` and is never resent blindly.
    """

    kind: ClassVar[str] = "channel"
    capabilities: ClassVar[frozenset[str]] = frozenset({MESSAGES_SEND})
    #: True when the provider offers an idempotency key or a delivery lookup.
    idempotent: ClassVar[bool] = False
    #: Which address of a Recipient :meth:`address` returns: email, phone, any or a handle name.
    address_kind: ClassVar[str] = "email"

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        super().__init__(instance, config, state)

    def address(self, recipient: Recipient) -> str | None:
        """The address this channel would deliver to, or None when the recipient has none."""
        if self.address_kind == "email":
            return recipient.email
        if self.address_kind == "phone":
            return recipient.phone
        if self.address_kind == "any":
            return recipient.email or recipient.phone or recipient.id
        return recipient.handles.get(self.address_kind)

    def send(self, message: Message) -> DeliveryResult:
        """Deliver one message; never raise for a delivery problem (return ``failed``)."""
        raise NotImplementedError

    def lookup(
        self,
        idempotency_key: str,
        *,
        message: Message | None = None,
        since: datetime | None = None,
    ) -> DeliveryResult | None:
        """Was ``idempotency_key`` delivered? A result if so, None if not.

        ``message`` is the same message composed again and ``since`` when it was reserved, for
        providers that can only search (e.g. list messages to a number after a time). Raise
        NotImplementedError when the provider offers no lookup (an idempotent channel without
        lookup is then simply sent again with the same idempotency key).
        """
        raise NotImplementedError

    def check(self) -> CheckResult:
        return CheckResult(True, "no live check implemented by this plugin")

    def close(self) -> None:
        """Release connections (an SMTP session reused across a run); called when done."""


class SurveyProvider(PluginBase[OptionsT]):
    """Composes surveys (CSAT, NPS, CES) and, for hosted providers, collects the answers.

    :meth:`compose` turns a :class:`~cstoolkit.messages.SurveyOffer` into the message the
    configured channel sends; it must be deterministic for a given offer (it is called again to
    reconcile a crashed send). It may store what it needs in ``offer.data``, which is saved with
    the offer. Hosted providers implement :meth:`pull_responses`.
    """

    kind: ClassVar[str] = "survey_provider"
    capabilities: ClassVar[frozenset[str]] = frozenset({SURVEYS_SEND})
    #: The survey kinds this provider can compose.
    kinds: ClassVar[frozenset[str]] = frozenset({"csat", "nps", "ces"})

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        super().__init__(instance, config, state)

    def compose(self, offer: SurveyOffer, channel: Channel) -> Message:
        raise NotImplementedError

    def pull_responses(self, since: datetime | None) -> Iterator[SurveyAnswer]:
        """Answers collected by the provider since ``since`` (hosted providers only)."""
        return iter(())


# -- helpers shared by backend plugins ---------------------------------------------------------


def marker_token(marker: str, *, length: int = 16, prefix: str = "cst-") -> str:
    """The tag/label that carries a mirror marker on a vendor ticket: ``prefix`` + a hash.

    A marker is free text of any length, but vendor tags and labels are short and restricted
    (lowercased, no spaces or colons, a length cap), so the marker travels as ``prefix`` + the
    first ``length`` hex digits of its SHA-1 and is found again by recomputing the token. Keep
    a backend's ``length`` fixed once it has shipped: tags already written must keep matching.
    """
    return prefix + hashlib.sha1(marker.encode()).hexdigest()[:length]


def merge_mapping(
    defaults: Mapping[str, str], override: Any, enum: Any, name: str, label: str
) -> dict[str, str]:
    """``defaults`` updated with an instance's ``mapping.<name>`` table (vendor -> model value).

    ``override`` is the raw config value (None keeps the defaults); every target must be a
    value of ``enum`` (e.g. :class:`~cstoolkit.model.Status`). ``name`` is the setting's path
    (``"mapping.statuses"``) and ``label`` the instance label used in the one-line
    :class:`~cstoolkit.errors.ConfigError` message. Keys are kept as strings, verbatim.
    """
    out = dict(defaults)
    if override is None:
        return out
    if not isinstance(override, Mapping):
        raise ConfigError(f"{label}: {name} must be a table")
    allowed = {m.value for m in enum}
    for key, value in override.items():
        if str(value) not in allowed:
            raise ConfigError(
                f"{label}: {name}.{key} = {value!r} is not one of {', '.join(sorted(allowed))}"
            )
        out[str(key)] = str(value)
    return out


class KnowledgeSource(PluginBase[OptionsT]):
    """A knowledge base cst reads articles from (plugin API 1.2): a help center, a Solutions
    folder, a folder of Markdown files.

    :meth:`pull` yields :class:`~cstoolkit.articles.ArticlePage` objects from ``cursor`` (None:
    from the start), each with the opaque cursor that resumes after it; the engine commits each
    page and its cursor in one transaction (``cst kb sync``). A source pages, retries and
    guards against cursors that do not advance exactly as a backend does (HTTP sources build on
    :mod:`cstoolkit.http` and :mod:`cstoolkit.backends`).
    """

    kind: ClassVar[str] = "knowledge_source"

    def pull(self, cursor: str | None) -> Iterator[ArticlePage]:
        raise NotImplementedError

    def check(self) -> CheckResult:
        """A live, read-only check that the source answers (``cst doctor``)."""
        return CheckResult(True, "no live check")


PLUGIN_KINDS: dict[str, type[PluginBase[Any]]] = {
    "backend": Backend,
    "channel": Channel,
    "survey_provider": SurveyProvider,
    "knowledge_source": KnowledgeSource,
}
