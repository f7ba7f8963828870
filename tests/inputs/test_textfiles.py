"""The one reader of files people write (cstoolkit/textfiles.py): strict UTF-8 with the
position of a bad byte, a size limit, and YAML whose aliases, depth and positions are bounded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit import secrets
from cstoolkit.errors import ConfigError as FileError  # textfiles.FileError is one

from .conftest import Outcome, assert_clean
from .strategies import scalars


@given(
    head=st.text(max_size=40),
    bad=st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]),
    tail=st.text(max_size=10),
)
def test_a_byte_that_is_not_utf8_is_named_by_line_and_column(
    tmp_path_factory: pytest.TempPathFactory, head: str, bad: bytes, tail: str
) -> None:
    path = tmp_path_factory.mktemp("utf8") / "f.txt"
    path.write_bytes(head.encode() + bad + tail.encode())
    from cstoolkit.textfiles import read_text

    with pytest.raises(FileError) as err:
        read_text(path)
    line = head.count("\n") + 1
    column = len(head) - (head.rfind("\n") + 1) + 1
    assert str(err.value) == f"{path}:{line}:{column}: not valid UTF-8 (byte 0x{bad[0]:02x})"


def test_size_limit_and_byte_order_mark(tmp_path: Path) -> None:
    from cstoolkit import textfiles
    from cstoolkit.textfiles import load_yaml, read_text

    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" * (textfiles.MAX_TEXT_BYTES // 5 + 1))
    with pytest.raises(FileError, match="larger than the limit of 4,194,304 bytes"):
        load_yaml(path)
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_yaml(path).data == {"a": 1}
    with pytest.raises(FileError, match="no such file"):
        read_text(tmp_path / "missing.yaml")


DOCS = st.recursive(
    scalars(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(doc=DOCS, cut=st.integers(0, 400), style=st.booleans())
def test_yaml_errors_point_inside_the_file(doc: Any, cut: int, style: bool) -> None:
    """Any prefix of a valid document loads or fails at a line and column inside the text
    (issue 18: an error at the end of input was reported on a line after the last)."""
    text = yaml.safe_dump(doc, allow_unicode=True, default_flow_style=style)[:cut]
    loads_yaml = _loader()
    try:
        loads_yaml(text, "d.yaml")
    except FileError as exc:
        lines = text.splitlines() or [""]
        assert exc.line is not None and 1 <= exc.line <= len(lines), (text, str(exc))
        assert exc.column is not None and 1 <= exc.column <= len(lines[exc.line - 1]) + 1
        assert "\n" not in str(exc)


def _loader() -> Any:
    try:
        from cstoolkit.textfiles import loads_yaml
    except ImportError:  # before the one reader existed
        from cstoolkit.triage.loader import loads as loads_yaml  # type: ignore[no-redef]
    return loads_yaml


def test_yaml_limits() -> None:
    from cstoolkit import textfiles
    from cstoolkit.textfiles import loads_yaml

    deep = "a: " + "[" * (textfiles.MAX_DEPTH + 1) + "]" * (textfiles.MAX_DEPTH + 1)
    with pytest.raises(FileError, match="nested deeper than 64 levels"):
        loads_yaml(deep, "d.yaml")
    loads_yaml("a: " + "[" * 60 + "]" * 60, "d.yaml")
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * (textfiles.MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(FileError, match="more than 1,000 aliases"):
        loads_yaml(many, "d.yaml")
    with pytest.raises(FileError, match="refers to its own anchor"):
        loads_yaml("a: &a [1, *a]\n", "d.yaml")
    with pytest.raises(FileError, match=r"d.yaml:1:4: invalid value '2026-02-30'"):
        loads_yaml("a: 2026-02-30\n", "d.yaml")
    with pytest.raises(FileError, match="invalid YAML: character U\\+0007 not allowed"):
        loads_yaml("a: \x07\n", "d.yaml")
    ok = loads_yaml("base: &b {x: 1}\nuse: {<<: *b, y: 2}\nt: 13:00\n", "d.yaml")
    assert ok.data == {"base": {"x": 1}, "use": {"x": 1, "y": 2}, "t": "13:00"}
    assert ok.pos(("use", "y")) == (2, 18) and ok.key_pos(("use", "y")) == (2, 15)


def test_every_file_people_write_is_read_strictly(
    cst: Callable[..., Outcome], tmp_path: Path
) -> None:
    """cstoolkit.toml, a survey answers CSV file and a recipe: the same UTF-8 error."""
    config = tmp_path / "cstoolkit.toml"
    config.write_bytes(b'[backends.demo]\nplugin = "local"\npath = "caf\xe9.jsonl"\n')
    out = cst("--config", str(config), "status")
    assert_clean(out)
    assert f"{config}:3:12: not valid UTF-8 (byte 0xe9)" in out.stderr, out
    secrets.set_key("survey-key", "s" * 40)
    config.write_text(
        '[channels.x]\nplugin = "outbox"\npath = "outbox"\n'
        '[surveys.csat]\nplugin = "builtin"\nkind = "csat"\nchannel = "x"\n'
        'signing_keys = { k1 = "key:survey-key" }\n'
    )
    answers = tmp_path / "answers.csv"
    answers.write_bytes(b"ticket,score,survey\ndemo:1,5,caf\xe9\n")
    out = cst("--config", str(config), "survey", "import", str(answers))
    assert_clean(out)
    assert f"{answers}:2:13: not valid UTF-8 (byte 0xe9)" in out.stderr, out
