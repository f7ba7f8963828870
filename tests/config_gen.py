"""Generated configurations for the config tests: a valid workspace and structure-aware mutations.

:data:`SKELETON` is a configuration every part of which is valid (each section, a plugin
instance of each kind, references between them, a ``[run]`` plan). :func:`mutated` draws up to
a few mutations of it: wrong types, unknown and misspelled keys, deleted keys, references to
things that do not exist, numbers out of range, odd strings, sections replaced by scalars.
:func:`to_toml` writes it in one of several TOML styles (table headers or inline tables,
comments, CRLF), so the line of every key is found through each form.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import strategies as st

from cstoolkit import secrets
from cstoolkit.cli import main
from cstoolkit.sample import SampleSpec, generate_file

SIGNING_KEY = "k" * 40
RECIPE = """\
name: generated
query: "status:new,open"
rules:
  - name: vip
    when: {tags: vip}
    then:
      - set: {priority: high}
"""
ROSTER = """\
timezone: Europe/Madrid
groups:
  general: {tier: 1}
agents:
  - id: a1
    groups: [general]
"""

SKELETON: dict[str, Any] = {
    "store": {"path": "cst.db"},
    "backends": {
        "demo": {
            "plugin": "local",
            "path": "desk.jsonl",
            "page_size": 50,
            "start_date": "2024-01-01",
            "mapping": {"statuses": {"hold": "on_hold"}},
        },
        "copy": {"plugin": "local", "path": "copy.jsonl", "read_only": False},
    },
    "channels": {"outbox": {"plugin": "outbox", "path": "outbox"}},
    "surveys": {
        "csat": {
            "plugin": "builtin",
            "kind": "csat",
            "channel": "outbox",
            "signing_keys": {"k1": "key:survey-key"},
            "delay": "24h",
            "max_age": "7d",
            "fatigue_days": 14,
            "quiet_hours": "21:00-08:00",
            "timezone": "Europe/Madrid",
            "sample_rate": 1.0,
            "exclude_tags": ["spam"],
        }
    },
    "calendars": {
        "madrid": {
            "timezone": "Europe/Madrid",
            "hours": {"mon-fri": "09:00-18:00"},
            "holidays": ["2026-12-24"],
        }
    },
    "sla": {
        "standard": {
            "calendar": "madrid",
            "when": "tag:vip",
            "first_reply": "4h",
            "resolution": {"urgent": "8h", "normal": "3d"},
        }
    },
    "roster": "roster.yaml",
    "kpi": {"calendar": "madrid", "period_days": 30, "backlog_buckets": ["1d", "7d"]},
    "costs": {"agent_hour": 30.0},
    "staffing": {"target": "80/20", "interval": "30m", "aht": "5m"},
    "run": {
        "timeout": "10m",
        "steps": [
            "sync pull",
            {"command": "triage run recipe.yaml --apply", "name": "vip", "needs": ["sync pull"]},
            "survey send",
            "report kpi --format json",
            "status --format json",
            "sync mirror demo copy",
            "store prune --older-than 30d",
        ],
    },
    "doctor": {"timeout": "2s"},
}

#: Where a value names another part of the configuration (or a file).
REFERENCES: list[tuple[str | int, ...]] = [
    ("surveys", "csat", "channel"),
    ("surveys", "csat", "signing_keys", "k1"),
    ("sla", "standard", "calendar"),
    ("kpi", "calendar"),
    ("roster",),
    ("backends", "demo", "path"),
    ("run", "steps", 0),
    ("run", "steps", 1, "command"),
    ("run", "steps", 1, "needs", 0),
    ("run", "steps", 5),
]
REFERENCE_VALUES = [
    "outbx",
    "nope",
    "",
    "24x7",
    "madrid",
    "demo",
    "key:missing-key",
    "env:CST_GEN_UNSET",
    "missing.yaml",
    "sync pull nope",
    "sync mirror demo nope",
    "triage run missing.yaml",
    "survey send --survey nps",
    "frobnicate",
    "store",
    "sync pull --bogus",
    "report kpi --calendar nowhere",
    "survey send --survey csat",
]
ODD_STRINGS = [
    "",
    " ",
    "-5m",
    "0",
    "0s",
    "99999999999999999999d",
    "1e400",
    "soon",
    "25:00-08:00",
    "21:00",
    "Europe/Nowhere",
    "../../etc/passwd",
    "a" * 300,
    "80",
    "150/20",
    "mon-fri",
    "2026-02-30",
    "\u00e9t\u00e9",
    "${CST_GEN_UNSET:-}",
    "status:",
    "priority>=",
]


def workspace(root: Path) -> Path:
    """The files the skeleton names: helpdesks, recipe, roster, keys. Returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    generate_file(SampleSpec(tickets=40, days=10, seed=3), root / "desk.jsonl")
    (root / "copy.jsonl").write_text("", "utf-8")
    (root / "recipe.yaml").write_text(RECIPE, "utf-8")
    (root / "roster.yaml").write_text(ROSTER, "utf-8")
    secrets.set_key("survey-key", SIGNING_KEY)
    return root / "cstoolkit.toml"


def cst(*args: str) -> tuple[int, str, str]:
    """``cst ARGS`` in this process, through the real entry point (exit codes mapped)."""
    with CliRunner().isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()


# -- mutations ---------------------------------------------------------------------------------

WEIRD = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, -1, 1, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-5, 5), st.sampled_from(ODD_STRINGS)), max_size=3),
    st.dictionaries(st.sampled_from(["a", "kind", "plugin"]), st.integers(-3, 3), max_size=2),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _exists(data: Any, path: tuple[str | int, ...]) -> bool:
    try:
        _get(data, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _typo(word: str, i: int) -> str:
    if len(word) < 3:
        return word + "x"
    i %= len(word) - 1
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The skeleton with zero to three mutations."""
    data = copy.deepcopy(SKELETON)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        kind = draw(
            st.sampled_from(
                ["type", "unknown", "delete", "reference", "range", "string", "section"]
            )
        )
        paths = _paths(data)
        if not paths:
            break
        if kind == "reference":
            path = draw(st.sampled_from([p for p in REFERENCES if _exists(data, p)] or paths))
            _set(data, path, draw(st.sampled_from(REFERENCE_VALUES)))
        elif kind == "section":
            name = draw(st.sampled_from(sorted(data)))
            data[name] = draw(st.sampled_from([5, "x", [1], [], {}, True]))
        elif kind == "unknown":
            tables = [p for p in [(), *paths] if isinstance(_get(data, p), dict)]
            at = draw(st.sampled_from(tables))
            table = _get(data, at)
            names = sorted(map(str, table)) or ["plugin"]
            name = draw(
                st.one_of(
                    st.builds(_typo, st.sampled_from(names), st.integers(0, 20)),
                    st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
                )
            )
            table[name] = draw(WEIRD)
        elif kind == "delete":
            path = draw(st.sampled_from(paths))
            parent = _get(data, path[:-1])
            del parent[path[-1]]
        else:
            path = draw(st.sampled_from(paths))
            if kind == "range":
                value = draw(st.sampled_from([-1, 0, -(10**9), 10**12, 2.5, -0.5, 1e308]))
            elif kind == "string":
                value = draw(st.sampled_from(ODD_STRINGS))
            else:
                value = draw(WEIRD)
            _set(data, path, value)
    return data


def _set(data: Any, path: tuple[str | int, ...], value: Any) -> None:
    if not path:
        return
    _get(data, path[:-1])[path[-1]] = value


# -- TOML ----------------------------------------------------------------------------------------

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: Any) -> str:
    key = str(key)
    return key if _BARE.match(key) else _string(key)


def _string(text: str) -> str:
    escaped = json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
    return escaped


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def to_toml(data: dict[str, Any], *, inline: bool, comments: bool, crlf: bool) -> str:
    """``data`` as TOML: nested tables as ``[a.b]`` headers, or inline below the first level."""
    lines: list[str] = []
    note = "  # generated" if comments else ""

    def table(prefix: list[str], value: dict[str, Any], depth: int) -> None:
        subtables = []
        for k, v in value.items():
            if isinstance(v, dict) and v and not (inline and depth >= 1):
                subtables.append((k, v))
            else:
                lines.append(f"{_key(k)} = {_value(v)}{note}")
        for k, v in subtables:
            lines.append("")
            if comments:
                lines.append(f"# the {k} table")
            lines.append("[" + ".".join(_key(p) for p in [*prefix, k]) + "]")
            table([*prefix, k], v, depth + 1)

    table([], data, 0)
    return ("\r\n" if crlf else "\n").join(lines) + "\n"


STYLES = st.fixed_dictionaries(
    {"inline": st.booleans(), "comments": st.booleans(), "crlf": st.booleans()}
)
