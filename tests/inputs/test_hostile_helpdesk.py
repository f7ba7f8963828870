"""Generated local helpdesk lines through `cst sync pull`: pulled, or refused with
`file:line: field: problem` and exit 2; never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import Outcome, assert_clean
from .strategies import helpdesk_records

GOOD = {
    "type": "ticket",
    "id": "1",
    "subject": "Help",
    "created_at": "2026-02-01T09:00:00Z",
    "events": [{"kind": "created", "at": "2026-02-01T09:00:00Z", "role": "requester"}],
}


def _workspace(tmp_path: Path, lines: list[bytes]) -> Path:
    (tmp_path / "cstoolkit.toml").write_text(
        '[backends.demo]\nplugin = "local"\npath = "helpdesk.jsonl"\n'
    )
    (tmp_path / "helpdesk.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    return tmp_path / "cstoolkit.toml"


def _json(record: Any) -> bytes:
    return json.dumps(record, default=str, ensure_ascii=False).encode()


@given(records=st.lists(helpdesk_records(), min_size=1, max_size=3))
def test_generated_lines_pull_or_fail_naming_file_and_line(
    cst: Callable[..., Outcome], tmp_path: Path, records: list[Any]
) -> None:
    config = _workspace(tmp_path, [_json(GOOD), *(_json(r) for r in records)])
    out = cst("--config", str(config), "sync", "pull", "--full")  # one store for every example
    assert_clean(out)
    if out.exit_code == 2:
        assert "helpdesk.jsonl:" in out.stderr, out
    listed = cst("--config", str(config), "tickets", "list", "--format", "json")
    assert_clean(listed, (0, 2, 3))


@given(
    raw=st.one_of(
        st.binary(max_size=30),
        st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 100_000)),
        st.sampled_from(
            [b"{not json", b"\xff\xfe{}", b'{"type": "ticket", "id": "\xe9"}', b"null"]
        ),
    )
)
def test_raw_bytes_pull_or_fail_naming_file_and_line(
    cst: Callable[..., Outcome], tmp_path: Path, raw: bytes
) -> None:
    raw = raw.replace(b"\n", b" ")
    config = _workspace(tmp_path, [_json(GOOD), raw])
    out = cst("--config", str(config), "sync", "pull", "--full")
    assert_clean(out)
    if out.exit_code == 2 and raw.strip():
        assert f"{tmp_path / 'helpdesk.jsonl'}:2:" in out.stderr, out


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**GOOD, "requester": ["c1", "c2"]},
         "requester: expected one id (a text or a number), got a list"),
        ({**GOOD, "assignee": {"id": "a1"}},
         "assignee: expected one id (a text or a number), got an object"),
        ({**GOOD, "group": True}, "group: expected one id"),
        ({**GOOD, "id": ["1"]}, "id: expected one id"),
        ({**GOOD, "events": [{"kind": "comment", "at": "2026-02-01T10:00:00Z", "author": ["a"]}]},
         "events[1].author: expected one id"),
        ({**GOOD, "created_at": "2026-02-30T00:00:00Z"}, "created_at: not an ISO 8601 time"),
        ({**GOOD, "created_at": "9999-12-31T23:00:00-05:00"}, "out of range"),
        ({**GOOD, "created_at": "0001-01-01T00:00:00+05:00"}, "out of range"),
        ({**GOOD, "tags": [{"a": 1}]}, "tags[0]: expected a text"),
        ({**GOOD, "custom_fields": [1, 2]}, "custom_fields: expected an object"),
        ({**GOOD, "events": [{"kind": "comment", "at": "2026-02-01T10:00:00Z", "public": "yes"}]},
         "events[1].public: expected true or false"),
        ({"type": "person", "id": "p", "groups": "general"}, "groups: expected a list"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ],
)  # fmt: skip
def test_wrong_types_are_named(
    cst: Callable[..., Outcome], tmp_path: Path, record: Any, message: str
) -> None:
    line = record if isinstance(record, bytes) else _json(record)
    config = _workspace(tmp_path, [_json(GOOD), line])
    out = cst("--config", str(config), "sync", "pull")
    assert out.exit_code == 2, out
    assert f"{tmp_path / 'helpdesk.jsonl'}:2: " in out.stderr and message in out.stderr, out
    assert "Traceback" not in out.stderr


def test_a_byte_that_is_not_utf8_is_named_with_line_and_column(
    cst: Callable[..., Outcome], tmp_path: Path
) -> None:
    config = _workspace(tmp_path, [_json(GOOD), b'{"type": "group", "id": "caf\xe9"}'])
    out = cst("--config", str(config), "sync", "pull")
    assert out.exit_code == 2, out
    assert f"{tmp_path / 'helpdesk.jsonl'}:2:29: not valid UTF-8 (byte 0xe9)" in out.stderr, out
