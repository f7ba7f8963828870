"""`cst model train|evaluate|explain|status` on a tiny generated workspace (scikit-learn)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.cli import main
from tests.model.conftest import run


def fails(ws: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run through the console entry point (errors -> one line and their exit code)."""
    with pytest.raises(SystemExit) as info:
        main(["--config", str(ws / "cstoolkit.toml"), *args])
    return int(info.value.code or 0), capsys.readouterr().err


def test_train_writes_model_and_metadata_and_evaluate_reports_baselines(
    trained_once: tuple[Path, Any],
) -> None:
    ws, res = trained_once
    assert json.loads(res.stdout)["data"]["tickets"] == 400
    meta = json.loads((ws / "models" / "routing.json").read_text())
    assert meta["data"]["tickets"] == 400 and len(meta["data"]["hash"]) == 64
    assert set(meta["classes"]["group"]) <= {"demo:general", "demo:billing", "demo:technical",
                                             "demo:escalations"}  # fmt: skip
    assert sum(meta["classes"]["group"].values()) == 400
    assert meta["versions"]["scikit-learn"] and meta["features"]["chars"]
    assert meta["metrics"]["targets"]["group"]["model"]["floors"][0]["floor"] == 0.0
    assert meta["size_bytes"] < 50e6
    res = run(ws, "model", "evaluate", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    group = out["targets"]["group"]
    assert {"model", "majority", "recipes"} <= set(group)
    assert out["split"]["train"]["to"] <= out["split"]["test"]["from"]  # older -> newer
    assert group["model"]["macro_f1"] > group["majority"]["macro_f1"]
    res = run(ws, "model", "evaluate", "--json", "--test-share", "0.3", "--exclude-tag", "billing")
    assert "billing" not in json.loads(res.stdout)["targets"]["tags"]["model"]["classes"]
    res = run(ws, "model", "evaluate", "--format", "html", "--test-share", "0.3")
    assert res.exit_code == 0, res.output
    assert "coverage and accuracy at each confidence floor" in res.stdout
    assert "<svg" in res.stdout and "confusion" in res.stdout


def test_explain_and_status(trained: Path) -> None:
    ws = trained
    res = run(ws, "model", "explain", "demo:390", "--json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["prediction"].startswith("demo:") and got["for"]
    res = run(ws, "model", "status", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["retrain"] is None


def test_changed_or_incompatible_model_is_refused_in_one_line(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = trained
    meta_path = ws / "models" / "routing.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(dict(meta, versions={"scikit-learn": "0.1.0"})))
    code, err = fails(ws, capsys, "model", "explain", "demo:390")
    assert code == 2 and "trained with scikit-learn 0.1.0" in err
    assert len(err.strip().splitlines()) == 1
    meta_path.write_text(json.dumps(meta))
    with open(ws / "models" / "routing.skops", "ab") as fh:
        fh.write(b"tampered")
    code, err = fails(ws, capsys, "model", "explain", "demo:390")
    assert code == 2 and "hash differs" in err


def test_privacy_forget_marks_the_model_for_retraining(trained: Path) -> None:
    ws = trained
    from cstoolkit.store import open_store

    store = open_store(ws / "cstoolkit.db")
    try:
        requester = store.conn.execute(
            "SELECT requester_id FROM tickets WHERE id = 'demo:5'"
        ).fetchone()[0]
    finally:
        store.close()
    res = run(ws, "privacy", "forget", requester)
    assert res.exit_code == 0, res.output
    res = run(ws, "model", "status", "--json")
    assert "privacy forget" in json.loads(res.stdout)["retrain"]


def test_no_model_is_one_line_exit_2(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = fails(ws, capsys, "model", "explain", "demo:1")
    assert code == 2 and "no model" in err


MODEL_RECIPE = """
name: model-routing
query: "status:new,open,pending,solved,closed"
rules:
  - name: model
    when: {predicted.group.confidence: {ge: 0.8}}
    then: [{route: {floor: 0.8}}]
    stop: true
  - name: billing words
    when: {subject: {contains_any: [factura, invoice, fatura]}}
    then: [{set: {group: billing}}]
"""


def test_triage_run_and_backtest_use_the_model(trained: Path) -> None:
    ws = trained
    (ws / "model-routing.yaml").write_text(MODEL_RECIPE)
    res = run(ws, "triage", "run", str(ws / "model-routing.yaml"), "--json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["tickets"] and plan["predictions"]
    some = next(iter(plan["predictions"].values()))
    assert some["predicted.group"].startswith("demo:")
    assert 0 <= some["predicted.group.confidence"] <= 1
    res = run(ws, "triage", "run", str(ws / "model-routing.yaml"))
    assert "prediction" in res.stdout and "group demo:" in res.stdout
    res = run(ws, "triage", "backtest", str(ws / "model-routing.yaml"), "--since",
              "2026-01-01", "--until", "2026-03-01", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    matches = json.loads(res.stdout)["rule_matches"]
    assert matches["model"] > 0


def test_training_and_prediction_open_no_network_connection(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ticket's text never leaves the machine: training, evaluation and prediction run with
    every outgoing connection refused (a library fetching anything would fail here)."""
    import socket

    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[1:] or kwargs)
        raise OSError("network refused by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    trained = run(ws, "model", "train", "--json")
    assert trained.exit_code == 0, trained.output
    explained = run(ws, "model", "explain", "demo:390", "--json")
    assert explained.exit_code == 0, explained.output
    assert json.loads(explained.output)
    assert attempts == []
