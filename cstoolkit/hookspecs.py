"""Every hook a cstoolkit plugin can implement.

Each hook takes a ``register`` callback (the llm / datasette pattern): the plugin calls it once per
thing it adds. A plugin module implements hooks with the :data:`hookimpl` marker::

    from cstoolkit import hookimpl

    @hookimpl
    def register_backends(register):
        register(MyBackend)

Every hook here is documented in docs/plugins/hooks.md with its exact signature; a test fails
when one is missing there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from cstoolkit.inbound_source import InboundSource
    from cstoolkit.plugin import Backend, Channel, KnowledgeSource, SurveyProvider

PROJECT = "cstoolkit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register ticketing backend classes (subclasses of :class:`cstoolkit.plugin.Backend`).

    .. versionadded:: 0.1
    """


@hookspec
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register channel classes (subclasses of :class:`cstoolkit.plugin.Channel`).

    .. versionadded:: 0.1
    """


@hookspec
def register_survey_providers(register: Callable[[type[SurveyProvider]], None]) -> None:
    """Register survey provider classes (subclasses of :class:`cstoolkit.plugin.SurveyProvider`).

    .. versionadded:: 0.1
    """


@hookspec
def register_actions(register: Callable[[Any], None]) -> None:
    """Register recipe actions: objects with a ``name`` attribute usable in a recipe's ``then``.

    .. versionadded:: 0.1
    """


@hookspec
def register_metrics(register: Callable[[Any], None]) -> None:
    """Register KPI metrics: objects with a ``name`` attribute computed by ``cst report kpi``.

    .. versionadded:: 0.1
    """


@hookspec
def register_exporters(register: Callable[[Any], None]) -> None:
    """Register report output formats: objects with a ``name`` attribute (the ``--format`` value).

    .. versionadded:: 0.1
    """


@hookspec
def register_knowledge_sources(register: Callable[[type[KnowledgeSource]], None]) -> None:
    """Register knowledge source classes (subclasses of
    :class:`cstoolkit.plugin.KnowledgeSource`): where ``cst kb sync`` reads articles from.

    .. versionadded:: 1.2
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``cst`` command line (``cli.add_command(...)``).

    Called only when a command that is not built in is invoked, so plugin imports never slow
    down ``cst --help``; plugins that want their command listed in ``cst --help`` announce it in
    the ``cstoolkit.commands`` entry-point group as well.

    .. versionadded:: 0.1
    """


@hookspec
def register_inbound_sources(register: Callable[[type[InboundSource]], None]) -> None:
    """Register inbound sources (subclasses of :class:`cstoolkit.inbound_source.InboundSource`):
    ways customers' messages come in (a provider's webhook, a polled mailbox), configured as
    ``[inbound.NAME]`` instances and served by ``cst inbound serve`` / ``cst inbound poll``.

    .. versionadded:: 1.2
    """
