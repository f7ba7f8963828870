"""Training labels: the last group/priority set by anyone but cst (the timeline decides)."""

from __future__ import annotations

from cstoolkit.routing.labels import label, topic_tags
from cstoolkit.store.routing import Example
from cstoolkit.timeline.decisions import Setter, decided_by_cst, last_setters


def _ex(tid: str, group: str | None = "demo:billing", priority: str = "high") -> Example:
    return Example(tid, "demo", 0, "s", "d", "email", "es", group, priority, [], {}, None, None,
                   None)  # fmt: skip


def _row(tid: str, kind: str, at: int, author: str | None, role: str, new: str) -> tuple:  # type: ignore[type-arg]
    return (f"{tid}-{at}", tid, kind, at, author, role, None, None, None, new, "{}")


def test_last_setters_reads_group_and_priority_changes_in_time_order() -> None:
    rows = [
        _row("t", "group_change", 200, "a2", "agent", "technical"),
        _row("t", "group_change", 100, None, "system", "billing"),
        _row("t", "priority_change", 150, "a1", "agent", "high"),
        _row("t", "comment", 300, "a1", "agent", "x"),
    ]
    last = last_setters(rows)
    assert last.group == Setter(200, "a2", "agent", "technical")
    assert last.priority == Setter(150, "a1", "agent", "high")


def test_decided_by_cst_rules() -> None:
    push = [(1000, "demo:billing")]
    assert not decided_by_cst(Setter(900, "a1", "agent", "general"), [])  # cst never wrote it
    assert decided_by_cst(None, push)  # no event at all after cst's write
    assert decided_by_cst(Setter(500, "a1", "agent", "general"), push)  # people before cst
    assert decided_by_cst(Setter(1010, "api", "agent", "billing"), push)  # the echo of the push
    assert decided_by_cst(Setter(800, "api", "agent", "billing"), push)  # echo, clock skew
    assert not decided_by_cst(Setter(1020, "a3", "agent", "technical"), push)  # a person moved it
    assert not decided_by_cst(Setter(1000 + 7200, "a3", "agent", "billing"), push)  # later, again


def test_label_leaves_out_what_cst_decided() -> None:
    exs = [_ex("demo:1"), _ex("demo:2"), _ex("demo:3", group=None)]
    decisions = {"demo:2": [_row("demo:2", "group_change", 5000, "a1", "agent", "billing")]}
    writes = {
        "demo:1": {"group_id": [(1000, "demo:billing")], "priority": [(1000, "high")]},
        "demo:2": {"group_id": [(1000, "demo:general")]},
    }
    lab = label(exs, decisions, writes)
    assert lab.group == [None, "demo:billing", None]  # 1: cst's; 2: a person after cst; 3: none
    assert lab.priority == [None, "high", "high"]
    assert lab.left_out == {"group": 1, "priority": 1}


def test_topic_tags_frequent_and_not_excluded() -> None:
    tags = [["refund", "es"]] * 10 + [["login", "es"]] * 6 + [["rare"]] * 2
    assert topic_tags(tags, exclude=["es"]) == ["refund", "login"]
