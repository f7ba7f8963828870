"""Generated recipes (structure and text) through `cst recipe check` and `cst triage run`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from .conftest import Outcome, Workspace, assert_clean
from .strategies import recipes

VALID = """\
name: valid
query: "status:new,open,pending"
rules:
  - name: first
    when: {all: [{priority: {in: [high, urgent]}}, "tag:vip"]}
    then:
      - set: {priority: urgent}
      - note: "Hi {{ requester.first_name }}"
    stop: true
  - name: second
    when: "created<7d -tag:spam"
    then: [{add_tags: [seen]}]
"""


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@given(doc=recipes())
def test_generated_recipes_pass_or_fail_in_one_line(
    cst: Callable[..., Outcome], workspace: Workspace, doc: Any
) -> None:
    path = workspace.dir / "gen.yaml"
    path.write_text(_dump(doc), "utf-8")
    checked = cst(*workspace.args("recipe", "check", str(path)))
    assert_clean(checked)
    ran = cst(*workspace.args("triage", "run", str(path), "--query", "id:demo:1,demo:2,demo:3"))
    assert_clean(ran, (0, 1, 2))
    if ran.exit_code == 1:  # tickets failed: each named on one line, and how many
        assert "tickets failed" in ran.stderr, str(ran)
    if checked.exit_code == 0:
        assert ran.exit_code in (0, 1), f"recipe check passed, triage run refused it\n{ran}"


_EDITS = st.sampled_from(
    ["{", "}", "[", "]", "&a ", "*a", "!!python/name:os.system", "<<: *a\n", ": ", "- ", "\t",
     "'", '"', "#", "|", ">", "\n", "  ", "\x00", "\x07", "\ufeff", "é", "%YAML 1.1\n", "---\n",
     "...\n", "? ", "@", "`"]
)  # fmt: skip


@given(
    edits=st.lists(st.tuples(st.integers(0, len(VALID)), _EDITS), min_size=1, max_size=4),
    cut=st.integers(0, len(VALID)) | st.none(),
)
def test_mutated_recipe_text_passes_or_fails_in_one_line(
    cst: Callable[..., Outcome], tmp_path: Path, edits: list[tuple[int, str]], cut: int | None
) -> None:
    text = VALID
    for at, piece in edits:
        text = text[:at] + piece + text[at:]
    if cut is not None:
        text = text[:cut]
    path = tmp_path / "mutated.yaml"
    path.write_text(text, "utf-8")
    out = cst("recipe", "check", str(path))
    assert_clean(out)
    for line in out.stderr.splitlines():
        where = line.removeprefix("error: ")
        if where.startswith(f"{path}:") and where[len(str(path)) + 1 :][:1].isdigit():
            number = int(where[len(str(path)) + 1 :].split(":")[0])
            assert 1 <= number <= max(1, len(text.splitlines())), f"a line past the end\n{out}"


@given(data=st.binary(min_size=1, max_size=40), at=st.integers(0, len(VALID)))
def test_bytes_that_are_not_utf8_are_named_by_position(
    cst: Callable[..., Outcome], tmp_path: Path, data: bytes, at: int
) -> None:
    raw = VALID.encode()[:at] + data + VALID.encode()[at:]
    path = tmp_path / "bytes.yaml"
    path.write_bytes(raw)
    out = cst("recipe", "check", str(path))
    assert_clean(out)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        assert f"{path}:{line}:" in out.stderr and "not valid UTF-8 (byte 0x" in out.stderr, out


@given(levels=st.integers(3, 12), fan=st.integers(3, 12), where=st.sampled_from(["when", "then"]))
def test_alias_bombs_are_refused_by_the_expansion_limit(
    cst: Callable[..., Outcome], tmp_path: Path, levels: int, fan: int, where: str
) -> None:
    from cstoolkit.textfiles import MAX_ALIAS_EXPANSION

    lines = ['x0: &a0 ["lol", "lol", "lol"]']
    for n in range(1, levels + 1):
        lines.append(f"x{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * fan) + "]")
    lines.append(f"rules: [{{name: r, {where}: *a{levels}}}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    out = cst("recipe", "check", str(path))
    assert_clean(out)
    expanded = 3 * fan**levels
    if expanded > MAX_ALIAS_EXPANSION + 100:
        assert out.exit_code == 2 and "aliases expand this document" in out.stderr, out


def test_billion_laughs_is_refused_at_once(cst: Callable[..., Outcome], tmp_path: Path) -> None:
    """The 600-byte recipe of issue 14 (3 GB and 29 s before): refused by the limit."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("rules: [{name: lol, when: *i, then: []}]")
    path = tmp_path / "lol.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 700
    out = cst("recipe", "check", str(path))
    assert out.exit_code == 2, out
    assert f"{path}:1:1: error: aliases expand this document by" in out.stderr, out
    assert "(an alias bomb?)" in out.stderr
