"""The one condition language: ``--query`` strings and recipe ``when:`` blocks.

Both compile to the same tree of frozen nodes (:class:`All`, :class:`Any`, :class:`Not`,
:class:`Cond`). A tree is evaluated per ticket against a :class:`Subject` with :func:`evaluate`,
over columns of many tickets with :func:`columnar.mask`, or handed to the store, which
compiles what it can to SQL (:func:`to_sql`; the caller filters the rest per ticket). All
give the same answer; the test-suite checks it.

Entry points:

* :func:`parse` -- a query string (``status:open tag:vip created<7d``) to a node;
* :func:`compile` / :func:`from_dict` -- a recipe condition (dict, list or query string) to a node;
* :func:`cond` -- one validated leaf;
* :func:`evaluate`, :func:`to_sql`, :func:`snapshot` -- use a node;
* :class:`Selection` -- a node with the context its per-ticket parts need, for the store.

Rooms: :mod:`~.grammar` (operators, kinds, limits), :mod:`~.lexer` and :mod:`~.parser`
(strings and recipe forms to the tree), :mod:`~.tree`, :mod:`~.values` (ages, dates, numbers),
:mod:`~.registry` (the one field registry) and :mod:`~.catalog` (every core field, declared
once), :mod:`~.evaluator` (per ticket), :mod:`~.columnar` (over numpy columns),
:mod:`~.storage` (lowering for the store's SQL compiler, :mod:`cstoolkit.store.condition_sql`),
:mod:`~.regex` (regex safety) and :mod:`~.docs` (docs/query.md's tables).

Fields live in the :data:`FIELDS` registry; other modules and plugins add theirs with
:func:`register_field` (one field) or :func:`register_namespace` (a family such as ``ai.``).
"""

from __future__ import annotations

from cstoolkit.query import catalog, columnar
from cstoolkit.query.catalog import builtin_fields as _builtin_fields
from cstoolkit.query.compare import normal as _normal
from cstoolkit.query.evaluator import changed_fields, evaluate, snapshot, test_value
from cstoolkit.query.grammar import (
    KINDS,
    MAX_AGE_HOURS,
    MAX_DEPTH,
    MAX_NUMBER,
    MAX_QUERY_LENGTH,
    MAX_REGEX_INPUT,
    OPERATORS,
)
from cstoolkit.query.parser import compile, from_dict, parse
from cstoolkit.query.regex import REGEX_TIMEOUT, search
from cstoolkit.query.regex import compile_regex as _regex
from cstoolkit.query.regex import search as _search
from cstoolkit.query.registry import (
    ALIASES,
    FIELDS,
    NAMESPACES,
    NEEDS,
    STORE_NEEDS,
    TIME_ALIASES,
    FieldSpec,
    Subject,
    field_spec,
    fields_doc,
    register_field,
    register_namespace,
    require,
)
from cstoolkit.query.storage import Context, Selection, lower, per_ticket_fields, to_sql
from cstoolkit.query.tree import All, Any, Cond, Node, Not, fields_used
from cstoolkit.query.values import cond
from cstoolkit.query.values import parse_datetime as _parse_datetime

catalog.declare()

__all__ = [
    "ALIASES",
    "FIELDS",
    "KINDS",
    "MAX_AGE_HOURS",
    "MAX_DEPTH",
    "MAX_NUMBER",
    "MAX_QUERY_LENGTH",
    "MAX_REGEX_INPUT",
    "NAMESPACES",
    "NEEDS",
    "OPERATORS",
    "REGEX_TIMEOUT",
    "STORE_NEEDS",
    "TIME_ALIASES",
    "All",
    "Any",
    "Cond",
    "Context",
    "FieldSpec",
    "Node",
    "Not",
    "Selection",
    "Subject",
    "changed_fields",
    "columnar",
    "compile",
    "cond",
    "evaluate",
    "field_spec",
    "fields_doc",
    "fields_used",
    "from_dict",
    "lower",
    "parse",
    "per_ticket_fields",
    "register_field",
    "register_namespace",
    "require",
    "search",
    "snapshot",
    "test_value",
    "to_sql",
]
# Older private names some callers and tests read (kept as aliases of the public ones).
_ALIASES_OF_PRIVATE = (_builtin_fields, _normal, _parse_datetime, _regex, _search)
