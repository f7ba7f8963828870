"""`cst triage backtest` replays the knowledge-base actions with the steps `cst kb backtest`
uses: the same tickets answered with the same articles, handoffs, suggestions, and the changes
the actions make (tags, custom fields, replies) in the figures and in the per-ticket view."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.config_gen import cst
from tests.test_knowledge_actions import workspace  # noqa: F401  (the fixture)

PERIOD = ("--since", "2026-11-01", "--until", "2026-11-03")


def _backtest(ws: Path, *args: str) -> tuple[int, str, str]:
    config = str(ws / "cstoolkit.toml")
    return cst("--config", config, "triage", "backtest", str(ws / "first-line.yaml"), *PERIOD,
               "--sla-sample", "0", *args)  # fmt: skip


def test_triage_backtest_answers_what_kb_backtest_answers(workspace: Path) -> None:  # noqa: F811
    code, out, err = cst(
        "--config", str(workspace / "cstoolkit.toml"), "kb", "backtest", "--min-score", "0.2",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    kb = json.loads(out)
    code, out, err = _backtest(workspace, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["errors"] == {}  # the kb actions run (no "no knowledge base here")
    replayed = result["knowledge"]
    assert replayed["min_score"] == 0.2
    assert replayed["evaluated"] == 5 and replayed["handed_off"] == 1
    # the same tickets, articles and scores as `cst kb backtest` at the same floor
    assert replayed["tickets"] == kb["tickets"]
    assert replayed["articles"] == kb["articles"]
    assert replayed["answered"] == kb["answered"] == 3
    # suggestions: every ticket but the handed-off one whose text matches an article
    assert replayed["suggested"] >= 3
    # the answers' and handoff's changes, as the actions make them
    assert result["field_changes"]["tags"] == 4  # 3 x kb_answered, 1 x kb_handoff
    assert result["field_changes"]["custom"] == 3  # kb_article, kb_score
    assert result["field_changes"]["group"] == 1  # the handoff's group
    assert result["counted"]["replies"] == 3
    assert result["counted"]["notes"] == replayed["suggested"]


def test_per_ticket_view_shows_the_knowledge_base_decisions(workspace: Path) -> None:  # noqa: F811
    code, out, err = _backtest(workspace, "--per-ticket", "--json")
    assert code == 0, err
    view = json.loads(out)["per_ticket"]
    by_id = {t["ticket"]: t for t in view["tickets"]}
    assert view["total"] == 5 and set(by_id) == {f"demo:{n}" for n in range(1, 6)}
    one = by_id["demo:1"]
    assert one["rules"] == ["handoff", "answer"]
    assert one["knowledge"][0].startswith("answer help:en/reset-password.md (")
    assert "tags +kb_answered" in one["decisions"]
    assert "custom.kb_article: - -> help:en/reset-password.md" in one["decisions"]
    four = by_id["demo:4"]
    # handed to the team; an agent still gets the suggestion note (as suggest_articles does)
    assert four["knowledge"] == ["handoff ('humano')", "suggest help:es/contrasena.md"]
    assert four["decisions"] == ["group: - -> demo:general", "tags +kb_handoff"]
    assert four["prediction"] is None  # no routing model here
    code, out, err = _backtest(workspace, "--per-ticket")
    assert code == 0, err
    out += err  # the one-line summaries go to stderr
    assert "would have been answered" in out and "Decisions per ticket" in out
    assert "no routing model trained" in out
    assert "prediction" not in out.split("Decisions per ticket")[1].splitlines()[2]
    code, out, err = _backtest(workspace, "--per-ticket", "--format", "csv", "--limit", "2")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["ticket"] for r in rows] == ["demo:1", "demo:2"]
    assert rows[0]["knowledge"].startswith("answer help:en/reset-password.md")


def test_after_an_agent_reply_the_replay_does_not_answer(workspace: Path) -> None:  # noqa: F811
    """With --after 1h the answer runs an hour after arrival: ticket 3, which an agent answered
    five minutes in, gets no automatic answer (as answer_from_kb decides in a run)."""
    code, out, err = _backtest(workspace, "--after", "1h", "--json")
    assert code == 0, err
    answered = {t["ticket"] for t in json.loads(out)["knowledge"]["tickets"]}
    assert answered == {"demo:1", "demo:2"}


def test_csv_figures_carry_the_knowledge_base_replay(workspace: Path) -> None:  # noqa: F811
    code, out, err = _backtest(workspace, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    kb = {r["name"]: r["value"] for r in rows if r["section"] == "knowledge"}
    assert kb["answered"] == "3" and kb["handed_off"] == "1"
    articles = {r["name"] for r in rows if r["section"] == "kb_article"}
    assert articles == {"help:en/reset-password.md", "help:es/reembolso.md"}
