"""The report's stored columns (cstoolkit.store.column_chunk): what is stored reads back
exactly, whole seconds packed as int32 and anything else kept as float64."""

from __future__ import annotations

import json
import math
from typing import Any

from cstoolkit.store.column_chunk import SOURCE_COLUMNS, build, decode_chunk, encode, splice

DAY0 = 1_772_323_200  # 2026-03-01


def _row(n: int, created: float, **over: Any) -> tuple[Any, ...]:
    values: dict[str, Any] = {
        "t.id": f"t:{n}", "CAST(t.created_at AS INTEGER)": created, "t.status": "solved",
        "t.deleted": 0, "t.assignee_id": "t:a1", "t.group_id": None, "t.channel": "email",
        "t.priority": "high", "t.instance": "t", "f.first_reply": created + 60,
        "f.last_public_reply": created + 120, "f.first_solve": None, "f.last_solve": None,
        "f.reopens": 0, "f.agent_replies": 2, "f.solver": None, "f.requester_wait": None,
        "f.agent_work": 30, "f.horizon": created + 500, "f.events": 4,
        "f.status_since": created, "f.status_log": json.dumps([created, 0, created + 9, 4]),
        "f.wait_log": None, "f.work_log": json.dumps([created, created + 30]),
        "f.reply_log": json.dumps([[created + 60, "t:a1", created], [created + 120, None, None]]),
        "f.agent_log": "[]", "f.assignment_log": json.dumps([[created, "t:a1"]]),
        "f.answer_log": json.dumps([[created + 400, "csat", 4.5, "ok"], [created, "x", None, ""]]),
        "f.sla_policy": "std",
        "f.sla_instances": json.dumps([[0, 3600.5, 1, None, 0, created + 7, created + 3]]),
    }  # fmt: skip
    values.update(over)
    return tuple(values[c] for c in SOURCE_COLUMNS)


def _same(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(
        (isinstance(y, float) and math.isnan(y))
        if isinstance(x, float) and math.isnan(x)
        else x == y
        for x, y in zip(a.tolist(), b.tolist(), strict=True)
    )


def test_a_chunk_reads_back_exactly() -> None:
    chunk = build(
        [_row(1, DAY0 + 5), _row(2, DAY0 + 7.5), _row(3, DAY0 + 9, **{"f.horizon": 2**40})]
    )
    back = decode_chunk(encode(chunk))
    assert back.ids == chunk.ids and back.strings == chunk.strings
    for name, values in chunk.arrays.items():
        assert _same(back[name], values), name
    assert back["sla_target"].tolist() == [3600.5] * 3  # not whole seconds: float64 kept


def test_splicing_replaces_exactly_the_changed_tickets() -> None:
    old = build([_row(1, DAY0 + 5), _row(2, DAY0 + 7)])
    new = build([_row(2, DAY0 + 8, **{"t.channel": "chat", "f.reply_log": "[]"})])
    out = decode_chunk(encode(splice(old, ["t:2", "t:9"], new)))
    assert out.ids == ["t:1", "t:2"]
    strings = out.string_array()
    assert [strings[c] for c in out["channel"]] == ["email", "chat"]
    assert out["n_reply"].tolist() == [2, 0] and len(out["reply_at"]) == 2
    assert out["created"].tolist() == [DAY0 + 5, DAY0 + 8]


def test_a_value_no_ticket_holds_any_more_leaves_the_chunk() -> None:
    old = build([_row(1, DAY0 + 5, **{"t.assignee_id": "t:erased"}), _row(2, DAY0 + 7)])
    assert "t:erased" in old.strings
    new = build([_row(1, DAY0 + 5, **{"t.assignee_id": "t:pseudonym"})])
    out = decode_chunk(encode(splice(old, ["t:1"], new)))
    assert "t:erased" not in out.strings
    strings = out.string_array()
    assert sorted(strings[c] for c in out["assignee"]) == ["t:a1", "t:pseudonym"]
    assert [strings[c] for c in out["reply_who"]].count(None) == 2
