"""The house rules import-linter cannot see (its contracts are in pyproject.toml, run by CI as
``lint-imports``): SQL only in the store, no private name used across modules.

Run as a script (``python tests/test_architecture.py``) to print the figures: SQL calls and SQL
text outside the store per module, private names used across modules, and the largest modules.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import Counter
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cstoolkit"

#: Modules outside the store that still hold SQL, each with the package that removes it. The
#: list only shrinks: a module cleaned must leave it (the test fails when an entry is stale).
SQL_ALLOWED: set[str] = set()
#: SQL text allowed outside the store although no statement runs there.
SQL_TEXT_ALLOWED = {
    # The metric plugin API (frozen): ``MetricContext.tickets_sql`` hands plugins a statement.
    "cstoolkit/kpi/metrics.py",
}
#: (importer, module, name) private names still used across modules, with their owner.
PRIVATE_ALLOWED: set[tuple[str, str, str]] = set()

SQL_CALLS = {"execute", "executemany", "executescript"}
SQL_TEXT = re.compile(
    r"\b(SELECT\s[\s\S]*\bFROM\s+\w|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|"
    r"CREATE\s+(TEMP\s+|TEMPORARY\s+)?TABLE|PRAGMA\s)"
)


@lru_cache(maxsize=1)
def modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        out.append((rel, ast.parse(path.read_text("utf-8"), rel)))
    return out


def in_store(rel: str) -> bool:
    return rel.startswith("cstoolkit/store/")


def module_aliases(tree: ast.Module) -> dict[str, str]:
    """Local names bound to cstoolkit modules (``import cstoolkit.x as y``, ``from cstoolkit
    import query``, ``from cstoolkit.ops import run as engine``)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cstoolkit"):
                    found[a.asname or a.name.split(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("cstoolkit"):
                continue
            for a in node.names:
                target = f"{node.module}.{a.name}"
                path = PACKAGE.parent / target.replace(".", "/")
                if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
                    found[a.asname or a.name] = target
    return found


def sql_calls(rel: str, tree: ast.Module) -> list[int]:
    """Lines calling ``execute``/``executemany``/``executescript`` on something that is not a
    cstoolkit module (``engine.execute(plan)`` of ``cstoolkit.ops.run`` is no SQL)."""
    aliases = module_aliases(tree)
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id in aliases)
        ):
            lines.append(node.lineno)
    return lines


def raw_connections(tree: ast.Module) -> list[int]:
    """Lines reaching for a store's raw connection (``store.conn``)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "conn"
    ]


def sql_text(tree: ast.Module) -> list[int]:
    """Lines of string literals (f-string parts included, docstrings not) that read as SQL."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if SQL_TEXT.search(text):
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SQL_TEXT.search(node.value)
        ):
            lines.append(node.lineno)
    return sorted(set(lines))


def private_uses(rel: str, tree: ast.Module) -> list[tuple[str, str, str]]:
    """(importer, module, name) for each private name of another cstoolkit module imported
    (``from m import _x``) or read (``m._x``)."""
    own = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    out = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("cstoolkit")
            and node.module != own
        ):
            out |= {
                (rel, node.module, a.name)
                for a in node.names
                if a.name.startswith("_") and not a.name.startswith("__")
            }
    aliases = module_aliases(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != own
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            out.add((rel, aliases[node.value.id], node.attr))
    return sorted(out)


# -- the rules -------------------------------------------------------------------------------


def test_no_sql_outside_the_store() -> None:
    """Outside cstoolkit/store/ no module runs a statement or touches the raw connection,
    except the modules another package is rebuilding (SQL_ALLOWED)."""
    found = {}
    for rel, tree in modules():
        if in_store(rel) or rel in SQL_ALLOWED:
            continue
        lines = sql_calls(rel, tree) + raw_connections(tree)
        if lines:
            found[rel] = sorted(lines)
    assert found == {}, "SQL belongs in cstoolkit/store (a typed function there): " + str(found)


def test_no_sql_text_outside_the_store() -> None:
    found = {}
    for rel, tree in modules():
        if in_store(rel) or rel in SQL_ALLOWED | SQL_TEXT_ALLOWED:
            continue
        lines = sql_text(tree)
        if lines:
            found[rel] = lines
    assert found == {}, "SQL text belongs in cstoolkit/store: " + str(found)


def test_ids_of_new_rows_come_from_returning() -> None:
    """No ``lastrowid`` and no ``MAX(id)`` lookup: with two hosts on one PostgreSQL store they
    find another host's row. (Pruning keeps each instance's latest sync run by ``MAX(id)``: a
    choice among old rows, not the lookup of a row just written.)"""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if "lastrowid" in line or (
                re.search(r"MAX\(\s*id\s*\)", line, re.I)
                and rel != "cstoolkit/store/maintenance.py"
            ):
                found.append(f"{rel}:{n}")
    assert found == []


def test_the_allow_lists_only_shrink() -> None:
    """An allowed module that holds no SQL any more must leave the list (so it stays clean)."""
    trees = dict(modules())
    stale = [
        rel
        for rel in sorted(SQL_ALLOWED)
        if rel not in trees or not (sql_calls(rel, trees[rel]) or raw_connections(trees[rel]))
    ]
    stale += [
        rel for rel in sorted(SQL_TEXT_ALLOWED) if rel not in trees or not sql_text(trees[rel])
    ]
    uses = {u for rel, tree in trees.items() for u in private_uses(rel, tree)}
    stale += [str(p) for p in sorted(PRIVATE_ALLOWED - uses)]
    assert stale == []


def test_no_private_name_used_across_modules() -> None:
    found = [
        u for rel, tree in modules() for u in private_uses(rel, tree) if u not in PRIVATE_ALLOWED
    ]
    assert found == [], "make the name public (and documented) or move the code: " + str(found)


def test_the_checker_sees_what_it_should() -> None:
    """The detectors find what they look for (so an empty result above means something)."""
    tree = ast.parse(
        "from cstoolkit.ops import run as engine\n"
        "from cstoolkit.kpi.render import _cell\n"
        "from cstoolkit import query\n"
        "def f(store):\n"
        "    '''SELECT a FROM b in a docstring is prose'''\n"
        "    engine.execute(1)\n"
        "    store.conn.execute(f'SELECT id FROM tickets WHERE x = {1}')\n"
        "    query._search(2)\n"
        "    return 'DELETE FROM people'\n"
    )
    assert sql_calls("x.py", tree) == [7]
    assert raw_connections(tree) == [7]
    assert sql_text(tree) == [7, 9]
    assert private_uses("cstoolkit/x.py", tree) == [
        ("cstoolkit/x.py", "cstoolkit.kpi.render", "_cell"),
        ("cstoolkit/x.py", "cstoolkit.query", "_search"),
    ]


def top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return names | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}


#: Modules a forbidden contract does not cover, on purpose (by contract id).
NOT_COVERED = {
    "drivers": {"store", "__about__", "__main__"},
    "click": {"cli", "testing", "output", "__about__", "__main__"},
}


def test_every_module_is_in_the_contracts() -> None:
    """A new top-level module or package is placed in a layer and checked by the forbidden
    contracts (pyproject.toml), so the import checks cannot miss it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    contracts = {c["id"]: c for c in config["contracts"]}
    layered = [
        name.strip() for layer in contracts["layers"]["layers"] for name in re.split(r"[:|]", layer)
    ]
    tops = top_level_modules()
    assert sorted(layered) == sorted(tops)
    for cid, exempt in NOT_COVERED.items():
        covered = {m.removeprefix("cstoolkit.") for m in contracts[cid]["source_modules"]}
        assert covered == tops - exempt, cid


# -- figures ---------------------------------------------------------------------------------


def figures() -> dict[str, object]:
    calls: Counter[str] = Counter()
    text: Counter[str] = Counter()
    private = []
    sizes = {}
    for rel, tree in modules():
        sizes[rel] = len((ROOT / rel).read_text("utf-8").splitlines())
        private += private_uses(rel, tree)
        if in_store(rel):
            continue
        if n := len(sql_calls(rel, tree)):
            calls[rel] = n
        if n := len(sql_text(tree)):
            text[rel] = n
    return {"sql_calls": calls, "sql_text": text, "private": private, "sizes": sizes}


if __name__ == "__main__":
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    f = figures()
    calls, text = f["sql_calls"], f["sql_text"]
    assert isinstance(calls, Counter) and isinstance(text, Counter)
    print(f"SQL calls outside the store: {sum(calls.values())} in {len(calls)} modules")
    for rel, n in calls.most_common():
        print(f"  {n:4d}  {rel}")
    print(f"SQL text outside the store: {sum(text.values())} literals in {len(text)} modules")
    for rel, n in text.most_common():
        print(f"  {n:4d}  {rel}")
    print(f"private names used across modules: {len(f['private'])}")  # type: ignore[arg-type]
    for use in f["private"]:  # type: ignore[attr-defined]
        print("  ", *use)
    sizes = f["sizes"]
    assert isinstance(sizes, dict)
    big = sorted(((n, rel) for rel, n in sizes.items() if n > limit), reverse=True)
    print(f"modules over {limit} lines: {len(big)}")
    for n, rel in big:
        print(f"  {n:5d}  {rel}")
