"""Generated queries through `cst tickets list --query`, `cst triage run --query` and recipe
`when:` conditions: a result or one line naming the column, exit 2; never a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from hypothesis import given

from cstoolkit import query
from cstoolkit.errors import QueryError

from .conftest import Outcome, Workspace, assert_clean
from .strategies import queries, query_texts


@given(text=query_texts())
def test_generated_queries_list_tickets_or_fail_in_one_line(
    cst: Callable[..., Outcome], workspace: Workspace, text: str
) -> None:
    out = cst(*workspace.args("tickets", "list", "--query", text, "--format", "json"))
    assert_clean(out, (0, 2, 3))
    if out.exit_code == 2 and "query: column" in out.stderr:
        column = int(out.stderr.split("query: column ")[1].split(":")[0])
        assert 1 <= column <= len(text) + 1, out


@given(text=queries())
def test_generated_queries_in_triage_and_recipes(
    cst: Callable[..., Outcome], workspace: Workspace, text: str
) -> None:
    ran = cst(*workspace.args("triage", "run", str(_recipe(workspace, text)), "--query", text))
    assert_clean(ran, (0, 1, 2))
    checked = cst(*workspace.args("recipe", "check", str(_recipe(workspace, text))))
    assert_clean(checked)


def _recipe(workspace: Workspace, when: str) -> object:
    path = workspace.dir / "q.yaml"
    doc = {"rules": [{"name": "q", "when": when, "then": [{"add_tags": ["q"]}]}]}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("(" * 40 + "status:open" + ")" * 40, 33, "nested deeper than 32 levels"),
        ("-" * 40 + "status:open", 33, "nested deeper than 32 levels"),
        ("NOT " * 40 + "status:open", 129, "nested deeper than 32 levels"),
        ("status:open " * 1000, 10_001, "longer than 10,000 characters"),
        ("created:9999-12-31", 9, "out of range"),
        ("created>0001-01-01T00:00:00+05:00", 9, "out of range"),
        ("created_at>9999-12-31T23:59:59-05:00", 12, "out of range"),
        ("created:2026-02-30", 9, "not a date"),
        ("created<0000-01-01", 9, "not a date"),
        ("created<99999999999999999999w", 9, "out of range (at most 100 years)"),
        ("hours_since_created>" + "9" * 400, 21, "finite number"),
        ("custom.x:" + "9" * 30, 10, "out of range (at most 10^15)"),
        ("custom.x>" + "9" * 30, 10, "out of range (at most 10^15)"),
        ("created:9998-12-31..9999-12-31", 9, "out of range"),
    ],
)
def test_limits_are_one_line_errors_naming_the_column(
    cst: Callable[..., Outcome], workspace: Workspace, text: str, column: int, message: str
) -> None:
    with pytest.raises(QueryError) as err:
        query.parse(text)
    assert f"query: column {column}: " in str(err.value) and message in str(err.value)
    out = cst(*workspace.args("tickets", "list", "--query", text))
    assert out.exit_code == 2, out
    assert f"error: query: column {column}: " in out.stderr and message in out.stderr, out
    assert "Traceback" not in out.stderr + out.stdout


def test_recipe_conditions_nest_at_most_the_limit() -> None:
    deep: object = {"status": "open"}
    for _ in range(query.MAX_DEPTH + 2):
        deep = {"not": deep}
    with pytest.raises(QueryError, match="nested deeper than 32 levels"):
        query.compile(deep)
    shallow: object = {"status": "open"}
    for _ in range(query.MAX_DEPTH - 1):
        shallow = {"not": shallow}
    query.compile(shallow)


def test_recipe_numbers_and_dates_out_of_range() -> None:
    for obj, message in (
        ({"custom.seats": 10**30}, "out of range (at most 10^15)"),
        ({"hours_since_created": {"gt": 10**16}}, "out of range (at most 10^15)"),
        ({"custom.seats": float("inf")}, "finite number"),
        ({"created_at": {"gt": "1899-12-31"}}, "out of range"),
    ):
        with pytest.raises(QueryError) as err:
            query.compile(obj)
        assert message in str(err.value)
