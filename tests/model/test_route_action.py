"""The route action and predicted.* conditions, with a fixed predictor (no model needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.model import Status, Ticket
from cstoolkit.triage.engine import Context, Planner
from cstoolkit.triage.recipe import load_recipe

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
RECIPE = """
name: model-routing
rules:
  - name: model
    when: {predicted.group.confidence: {ge: 0.8}}
    then: [{route: {floor: 0.8}}]
    stop: true
  - name: billing words
    when: {subject: {contains: factura}}
    then: [{set: {group: billing}}]
"""


def _ticket(tid: str, subject: str) -> Ticket:
    return Ticket(tid, "demo", tid.split(":")[1], subject, Status.NEW, NOW, NOW)


def test_above_the_floor_the_model_routes_below_it_the_rules_do(tmp_path: Path) -> None:
    preds = {
        "demo:1": {"predicted.group": "demo:technical", "predicted.group.confidence": 0.93},
        "demo:2": {"predicted.group": "demo:technical", "predicted.group.confidence": 0.55},
    }

    def predict(ticket: Ticket, _requester: Any) -> dict[str, Any]:
        return preds[ticket.id]

    (tmp_path / "r.yaml").write_text(RECIPE)
    recipe = load_recipe(tmp_path / "r.yaml")
    plan = Planner([recipe], Context(now=NOW, predict=predict)).plan(
        [(_ticket("demo:1", "factura"), None), (_ticket("demo:2", "factura"), None)]
    )
    by_id = {tp.ticket_id: tp for tp in plan.tickets}
    assert by_id["demo:1"].after["group_id"] == "demo:technical"
    assert "model: group demo:technical (0.93)" in " ".join(by_id["demo:1"].done)
    assert by_id["demo:2"].after["group_id"] == "demo:billing"  # the rules decided
    assert by_id["demo:2"].matched == ["model-routing/billing words"]


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from cstoolkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out + out.err


def test_recipe_test_cases_take_predictions_and_refuse_unknown_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE)
    (tmp_path / "r.test.yaml").write_text(
        "cases:\n"
        "  - name: sure\n"
        "    ticket: {subject: factura}\n"
        "    predicted: {group: technical, group.confidence: 0.9}\n"
        "    expect: {matched: [model], changes: {group: 'demo:technical'}}\n"
    )
    code, out = _main(capsys, "recipe", "test", str(tmp_path / "r.test.yaml"))
    assert code == 0, out
    assert "PASS sure [model: group demo:technical, group.confidence 0.9]" in out
    assert "decided: group: - -> demo:technical" in out
    code, out = _main(capsys, "recipe", "test", str(tmp_path / "r.test.yaml"), "--json")
    assert code == 0, out
    (case,) = json.loads(out)[0]["cases"]
    assert case["predicted"] == {
        "predicted.group": "demo:technical",
        "predicted.group.confidence": 0.9,
    }
    assert case["changes"] == ["group: - -> demo:technical"]
    (tmp_path / "r.test.yaml").write_text(
        "cases:\n"
        "  - ticket: {subject: factura}\n"
        "    predicted: {groups: technical}\n"
        "    expect: {matched: [model]}\n"
    )
    code, out = _main(capsys, "recipe", "test", str(tmp_path / "r.test.yaml"))
    assert code == 2 and "unknown prediction 'groups'" in out
