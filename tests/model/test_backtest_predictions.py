"""`cst triage backtest --per-ticket` with a routing model trained on generated data: the
prediction and its confidence beside each decision, what `route` did, and what the model
changed against the recipe alone (checked against a replay without the model)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from tests.model.conftest import run
from tests.model.test_routing_cli import MODEL_RECIPE

PERIOD = ("--since", "2026-02-01", "--until", "2026-03-01", "--sla-sample", "0")


def _backtest(workspace: Path, *args: str) -> Any:
    (workspace / "model-routing.yaml").write_text(MODEL_RECIPE)
    return run(workspace, "triage", "backtest", str(workspace / "model-routing.yaml"), *PERIOD,
               "--per-ticket", "--limit", "0", *args)  # fmt: skip


def test_each_decision_beside_the_prediction_and_what_the_model_changed(
    trained: Path,
) -> None:
    res = _backtest(trained, "--json")
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    view = result["per_ticket"]
    rows = view["tickets"]
    assert rows and view["total"] == len(rows)
    for row in rows:
        group = row["prediction"]["group"]
        assert group["value"].startswith("demo:") and 0 <= group["confidence"] <= 1
        assert set(row["prediction"]) >= {"group", "priority", "language"}
        if "model" in row["rules"]:  # the rule asks for confidence >= 0.8: route takes it
            assert group["confidence"] >= 0.8
            assert row["route"] == "model: group"
        else:
            assert row["route"] is None  # route never ran: the keyword rule decided
        if row["route"] == "model: group" and row["decisions"]:
            # the sample's tickets arrive routed by a trigger: old -> the prediction
            (line,) = row["decisions"]
            assert line.startswith("group: ") and line.endswith(f" -> {group['value']}")
    model = result["model"]
    assert model["present"] and model["asked"] and model["predicted"]
    assert model["route_by_model"] == result["rule_matches"]["model"]
    changed = [r for r in rows if r["model_changed"]]
    assert model["changed_by_model"] == len(changed) > 0
    assert model["changed_fields"] == {"group": len(changed)}

    # the recipe alone: the same replay with the model removed
    alone = trained.parent / "alone"
    shutil.copytree(trained, alone)
    shutil.rmtree(alone / "models")
    res = _backtest(alone, "--json")
    assert res.exit_code == 0, res.output
    without = json.loads(res.stdout)
    assert without["model"] == {"present": False, "asked": True, "predicted": False}
    groups = {r["ticket"]: _final(r, "group") for r in without["per_ticket"]["tickets"]}
    differ = {r["ticket"] for r in rows if _final(r, "group") != groups.get(r["ticket"])}
    assert differ == {r["ticket"] for r in changed}
    for r in changed:  # "group: recipe alone -> with the model"
        (line,) = r["model_changed"]
        left = groups.get(r["ticket"]) or _final(r, "group", 0)  # else as it arrived
        assert line == f"group: {left} -> {_final(r, 'group')}"


def _final(row: dict[str, Any], name: str, side: int = 1) -> str | None:
    """The new (or, ``side=0``, old) value of a ``name: old -> new`` decision."""
    for line in row["decisions"]:
        if line.startswith(f"{name}: "):
            return line.removeprefix(f"{name}: ").split(" -> ")[side]
    return None


def test_table_and_csv_show_the_prediction_column(trained: Path) -> None:
    res = _backtest(trained)
    assert res.exit_code == 0, res.output
    assert "Decisions per ticket" in res.output and "prediction" in res.output
    assert "the model changed the decisions of" in res.output
    assert "group demo:" in res.output
    res = _backtest(trained, "--format", "csv", "--limit", "3")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 3
    assert list(rows[0]) == [
        "ticket", "rules", "decisions", "prediction", "route", "model_changed", "knowledge",
    ]  # fmt: skip
    assert rows[0]["prediction"].startswith("group demo:")
    res = run(trained, "triage", "backtest", str(trained / "model-routing.yaml"), *PERIOD,
              "--format", "csv")  # fmt: skip
    figures = list(csv.DictReader(io.StringIO(res.stdout)))
    model = {r["name"]: int(r["value"]) for r in figures if r["section"] == "model"}
    assert model["changed_by_model"] > 0 and model["compared"] >= model["changed_by_model"]


def test_without_a_model_one_line_and_no_prediction_column(ws: Path) -> None:
    res = _backtest(ws)
    assert res.exit_code == 0, res.output
    assert "no routing model trained" in res.output
    assert "Traceback" not in res.output
    header = res.output.split("Decisions per ticket")[1].splitlines()[2]
    assert "prediction" not in header and "rules" in header


def test_a_recipe_that_does_not_ask_the_model_still_shows_its_predictions(
    trained: Path,
) -> None:
    recipe = trained / "recipes" / "keyword-routing.yaml"
    res = run(trained, "triage", "backtest", str(recipe), *PERIOD, "--per-ticket", "--json")
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert result["model"] == {"present": True, "asked": False, "predicted": True}
    rows = result["per_ticket"]["tickets"]
    assert rows and all(r["prediction"]["group"]["value"].startswith("demo:") for r in rows)
    assert all(r["route"] is None and r["model_changed"] == [] for r in rows)
    res = run(trained, "triage", "backtest", str(recipe), *PERIOD, "--per-ticket")
    assert "the recipe does not ask the routing model" in res.output
