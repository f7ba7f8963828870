"""Events are interpreted in one place: the timeline (cstoolkit/timeline).

Every other module reads a ticket's facts. This test walks the syntax trees of the core and the
first-party plugins and finds every place that

* names an event kind (``EventKind.COMMENT``): allowed only where events are *created* (a
  backend's mapper, a generator, a fixture) or decoded, listed in :data:`CREATORS` with why;
* compares or dispatches on one (``kind == EventKind.COMMENT``, ``kind in (...)``,
  ``kind == "status_change"``, or SQL such as ``e.kind = 'comment'``): allowed only in the
  timeline and in :data:`INTERPRETERS`, each with why it is not a fact.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cstoolkit.model import EventKind

ROOT = Path(__file__).resolve().parents[1]
TIMELINE = "cstoolkit/timeline/"
KIND_VALUES = frozenset(k.value for k in EventKind)
_SQL_KIND = re.compile(
    r"\bkind\s*(?:=|<>|!=|\bIN\b)\s*\(?\s*'(" + "|".join(sorted(KIND_VALUES)) + r")'",
    re.IGNORECASE,
)

#: Modules that name event kinds to create (or decode) events, never to read facts from them.
CREATORS = {
    "cstoolkit/store/surveys.py": "writes the survey_offered / survey_answered events",
    "cstoolkit/store/privacy.py": "rewrites forgotten people's ids in the events a page brings",
    "cstoolkit/backends/http_base.py": "creates the created event of HTTP backends' tickets",
    "cstoolkit/builtin/local.py": "the local backend's mapper: reads and writes helpdesk files",
    "cstoolkit/builtin/local_values.py": "the local backend's values: a survey event's "
    "survey_kind and score are parsed there",
    "cstoolkit/synthetic/simulation.py": "the sample generator writes events",
    "cstoolkit/testing/fake.py": "the fake backend of the plugin test kit creates events",
    "cstoolkit/triage/testing.py": "recipe test files describe their fixtures' events",
    "plugins/cstoolkit-zendesk/cstoolkit_zendesk/records.py": "Zendesk's mapper",
    "plugins/cstoolkit-freshdesk/cstoolkit_freshdesk/records.py": "Freshdesk's mapper",
    "plugins/cstoolkit-helpscout/cstoolkit_helpscout/records.py": "Help Scout's mapper",
    "plugins/cstoolkit-jira-sm/cstoolkit_jira_sm/records.py": "Jira Service Management's mapper",
    "plugins/cstoolkit-liveagent/cstoolkit_liveagent/backend.py": "LiveAgent's mapper",
    "plugins/cstoolkit-request-tracker/cstoolkit_request_tracker/records.py": "RT's mapper",
    "plugins/cstoolkit-zammad/cstoolkit_zammad/backend.py": "Zammad's mapper",
}

#: Modules that test an event's kind for something that is not a fact of the ticket.
INTERPRETERS = {
    "cstoolkit/store/privacy.py": "which fields of an event hold a person id depends on its "
    "kind (assignments hold them in old/new): rewritten on erasure, not read as a fact",
    "cstoolkit/triage/backtest/load.py": "the values a replayed ticket arrived with (its "
    "first priority, group and tag changes): the state it is replayed in, not a fact of it",
    "cstoolkit/store/backtest.py": "reads those first changes for the backtest (see load.py)",
    "plugins/cstoolkit-request-tracker/cstoolkit_request_tracker/backend.py": "RT's mapper "
    "takes a ticket's description from its creating transaction (mapping, before any fact)",
    "cstoolkit/triage/testing.py": "a recipe test file's created event is public unless the "
    "file says otherwise (building the fixture, before any fact)",
}


def _sources() -> list[Path]:
    paths = sorted((ROOT / "cstoolkit").rglob("*.py"))
    for plugin in sorted((ROOT / "plugins").glob("*/")):
        paths += [p for p in sorted(plugin.rglob("*.py")) if "tests" not in p.parts]
    return paths


def _is_kind_member(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in EventKind.__members__
        and (
            (isinstance(node.value, ast.Name) and node.value.id == "EventKind")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "EventKind")
        )
    )


def _is_kind_value(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in KIND_VALUES
    if isinstance(node, ast.Attribute) and node.attr == "value":  # EventKind.X.value
        return _is_kind_member(node.value)
    return _is_kind_member(node)


def _compares_kinds(node: ast.Compare) -> bool:
    for side in [node.left, *node.comparators]:
        if _is_kind_value(side):
            return True
        if isinstance(side, ast.Tuple | ast.List | ast.Set) and any(
            _is_kind_value(e) for e in side.elts
        ):
            return True
    return False


def _findings(path: Path) -> tuple[list[int], list[int]]:
    """(lines naming an event kind, lines interpreting one)."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    names: list[int] = []
    reads: list[int] = []
    for node in ast.walk(tree):
        if _is_kind_member(node):
            names.append(node.lineno)
        if _interprets(node):
            reads.append(node.lineno)
    return names, reads


def _interprets(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare):
        return _compares_kinds(node)
    if isinstance(node, ast.MatchValue):
        return _is_kind_value(node.value)
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _SQL_KIND.search(node.value) is not None
    )


def test_events_are_interpreted_only_in_the_timeline() -> None:
    naming: dict[str, list[int]] = {}
    reading: dict[str, list[int]] = {}
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(TIMELINE):
            continue
        names, reads = _findings(path)
        if names and rel not in CREATORS and rel not in INTERPRETERS:
            naming[rel] = names
        if reads and rel not in INTERPRETERS:
            reading[rel] = reads
    assert not reading, f"events interpreted outside cstoolkit/timeline: {reading}"
    assert not naming, f"event kinds named outside the timeline and the creators: {naming}"


def test_the_allow_lists_hold_no_stale_entries() -> None:
    """Each allowed module still does what it is allowed to (else it leaves the list)."""
    for rel in CREATORS:
        names, reads = _findings(ROOT / rel)
        assert names or reads, f"{rel} no longer names event kinds: drop it from CREATORS"
        assert (ROOT / rel).exists(), rel
    for rel in INTERPRETERS:
        _, reads = _findings(ROOT / rel)
        assert reads, f"{rel} no longer interprets events: drop it from INTERPRETERS"


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from cstoolkit.model import EventKind\n"
        "def f(e, kind):\n"
        "    if e.kind == EventKind.COMMENT:\n"  # 3
        "        pass\n"
        "    if kind in ('status_change', 'x'):\n"  # 5
        "        pass\n"
        "    sql = \"SELECT 1 FROM events e WHERE e.kind = 'survey_answered'\"\n"  # 7
        "    match kind:\n"
        "        case 'comment':\n"  # 9
        "            pass\n"
        "    return EventKind.CREATED.value == kind\n",  # 11
        "utf-8",
    )
    names, reads = _findings(sample)
    assert sorted(set(reads)) == [3, 5, 7, 9, 11]
    assert sorted(set(names)) == [3, 11]
