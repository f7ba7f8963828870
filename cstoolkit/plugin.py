"""Declarative plugin classes: what a backend, channel or survey provider looks like.

A plugin class states what it is with class attributes (``name``, ``settings``,
``capabilities``, ``requires``) and implements the methods of its protocol. The host reads the
attributes without instantiating anything, so ``cst plugins list`` and ``cst config check`` work
even when a plugin's optional dependency is missing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from cstoolkit.model import Event, Group, Person, Ticket

if TYPE_CHECKING:
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


# -- settings schema ---------------------------------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "path": (str,),
    "list": (list,),
    "table": (dict,),
}


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration field of a plugin instance.

    ``secret=True`` marks a value that is never shown: ``cst config show`` redacts it, errors and
    logs never contain it, and the config file should hold a reference (``env:NAME`` or
    ``key:NAME``) rather than the value itself.
    """

    name: str
    type: str = "str"
    required: bool = False
    default: Any = None
    secret: bool = False
    help: str = ""
    choices: tuple[str, ...] | None = None

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not acceptable, or None."""
        allowed = _TYPES.get(self.type)
        if allowed is None:
            return f"unknown setting type {self.type!r}"
        if isinstance(value, bool) and self.type in ("int", "float"):
            return f"expected {self.type}, got a boolean"
        if not isinstance(value, allowed):
            return f"expected {self.type}, got {type(value).__name__}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        return None


# Settings every backend instance accepts, whatever its plugin.
COMMON_BACKEND_SETTINGS: tuple[Setting, ...] = (
    Setting("plugin", required=True, help="The backend plugin this instance uses."),
    Setting("read_only", "bool", default=False, help="Never write anything to this instance."),
)


# -- plugin base -------------------------------------------------------------------------------


class PluginBase:
    """What every declarative plugin class has."""

    kind: ClassVar[str] = "plugin"
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings: ClassVar[tuple[Setting, ...]] = ()
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Import names of optional dependencies; a plugin missing one is listed as disabled.
    requires: ClassVar[tuple[str, ...]] = ()

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


# -- backend protocol --------------------------------------------------------------------------


@dataclass(slots=True)
class Page:
    """One page of a pull: what it holds and the opaque cursor that resumes *after* it.

    The sync engine commits the rows and ``cursor`` in one transaction, so a killed run resumes
    exactly after the last committed page. ``deleted`` lists external ids the vendor reports as
    deleted (or spam / merged away) in this page.
    """

    tickets: list[Ticket] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cursor: str | None = None


@dataclass(slots=True)
class Comment:
    body: str
    public: bool = False


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


@dataclass(slots=True)
class CheckResult:
    """The verdict of a live, read-only connection check (``cst doctor``)."""

    ok: bool
    detail: str


class Backend(PluginBase):
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
        self.instance = instance
        self.config = dict(config)
        self.state = state

    def pull(self, cursor: str | None, *, full: bool = False) -> Iterator[Page]:
        """Yield pages of tickets changed after ``cursor`` (``None``: from the start).

        With ``full=True`` re-read everything; the cursor of the last page is the one to resume
        from next time.
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


class Channel(PluginBase):
    """A way to deliver a message to a person (email, chat, SMS, webhook)."""

    kind: ClassVar[str] = "channel"
    capabilities: ClassVar[frozenset[str]] = frozenset({MESSAGES_SEND})

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        self.instance = instance
        self.config = dict(config)
        self.state = state


class SurveyProvider(PluginBase):
    """Composes surveys (CSAT, NPS, CES) and, for hosted providers, sends and collects them."""

    kind: ClassVar[str] = "survey_provider"

    def __init__(self, instance: str, config: Mapping[str, Any], state: KeyValue) -> None:
        self.instance = instance
        self.config = dict(config)
        self.state = state


PLUGIN_KINDS: dict[str, type[PluginBase]] = {
    "backend": Backend,
    "channel": Channel,
    "survey_provider": SurveyProvider,
}
