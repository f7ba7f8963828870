"""The evaluator over columns: one condition on many tickets at once (numpy), with the same
meaning as the per-ticket evaluator.

A :class:`Table` holds one column per field, built from the same registry as per-ticket
evaluation (:func:`table_from_subjects` reads each field with its getter; a caller that already
has arrays, such as a backtest reading the store, builds the columns itself):

* :class:`Numbers`: a number or datetime field whose values are all numbers (datetimes as
  integer microseconds), with a mask of the present ones: order and equality tests are array
  operations, exactly those of :func:`~cstoolkit.query.evaluator.test_value`;
* :class:`Coded`: any field, as codes into its distinct values: each distinct value is tested
  once with :func:`~cstoolkit.query.evaluator.test_value` itself, and the codes pick the answers.

What a column cannot answer (the change operators, which compare with a recipe's previous run,
and fields without a column) is evaluated per row on ``Table.row(i)``, a :class:`Subject`.
The test-suite checks :func:`mask` equal to :func:`~cstoolkit.query.evaluator.evaluate` over
generated conditions and tickets.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cstoolkit.query.compare import is_number, items
from cstoolkit.query.evaluator import evaluate, test_value
from cstoolkit.query.grammar import CHANGE
from cstoolkit.query.regex import search
from cstoolkit.query.registry import FieldSpec, Subject, field_spec
from cstoolkit.query.tree import All, Any, Cond, Node, Not, fields_used

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Coded", "Numbers", "Table", "column_of", "mask", "table_from_subjects"]

#: Numbers beyond this are kept exactly only as Python ints: such a column is Coded.
_EXACT = 2**53
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Numbers:
    """A number field's values (float64), or a datetime field's (int64 microseconds since the
    epoch), and which rows have one."""

    values: np.ndarray
    present: np.ndarray


@dataclass
class Coded:
    """A field's values as ``codes`` (int) into ``values``, its distinct values."""

    codes: np.ndarray
    values: list[object]


Column = Numbers | Coded


@dataclass
class Table:
    """``n`` rows: a column per field, and the rows as subjects where a column cannot answer."""

    n: int
    columns: dict[str, Column] = field(default_factory=dict)
    row: Callable[[int], Subject] | None = None


def mask(node: Node, table: Table) -> np.ndarray:
    """A boolean array: which rows of ``table`` satisfy ``node``."""
    import numpy as np

    if isinstance(node, Cond):
        return _leaf(node, table)
    if isinstance(node, All):
        out = np.ones(table.n, dtype=bool)
        for child in node.children:
            out &= mask(child, table)
        return out
    if isinstance(node, Any):
        out = np.zeros(table.n, dtype=bool)
        for child in node.children:
            out |= mask(child, table)
        return out
    if isinstance(node, Not):
        return ~mask(node.child, table)
    raise TypeError(f"not a condition node: {node!r}")


def _leaf(c: Cond, table: Table) -> np.ndarray:
    import numpy as np

    column = table.columns.get(c.field)
    if c.op in CHANGE or column is None:
        if table.row is None:
            raise ValueError(f"no column for {c.field} and no rows to evaluate it on")
        return np.fromiter((evaluate(c, table.row(i)) for i in range(table.n)), bool, table.n)
    spec = field_spec(c.field)
    if isinstance(column, Numbers):
        return _numbers(spec, c, column)
    codes = np.unique(column.codes) if len(column.values) > 64 else range(len(column.values))
    answers = np.zeros(len(column.values), dtype=bool)
    if len(codes) > 64 and _substrings(spec, c, column, codes, answers):
        return answers[column.codes]
    for k in codes:
        answers[k] = test_value(spec, c, column.values[k])
    return answers[column.codes]


def _substrings(
    spec: FieldSpec, c: Cond, column: Coded, codes: Iterable[int], answers: np.ndarray
) -> bool:
    """``contains``/``contains_any``/``matches`` on many distinct strings at once, without
    ``test_value``'s per-call work: ``contains`` of strings is one search for an alternation of
    the lowered needles in each lowered value (:func:`~cstoolkit.query.compare.contains`:
    ``needle.lower() in value.lower()``, for every needle at C speed); ``matches`` is
    :func:`~cstoolkit.query.regex.search` on each value, as ``test_value`` calls it; a missing
    value is False (``answers`` starts all False). False when it does not apply: a needle that
    is not a string, a field whose values are normalised (enums, tags, kind any) or a value
    that is neither a string nor missing; then ``test_value`` answers for every value
    (rewriting what was written)."""
    if c.op not in ("contains", "contains_any", "matches") or spec.kind not in STRINGS:
        return False
    values = column.values
    chosen = codes.tolist() if hasattr(codes, "tolist") else list(codes)
    if c.op == "matches":
        pattern = str(c.value)
        for k in chosen:
            v = values[k]
            if isinstance(v, str):
                answers[k] = search(pattern, v)
            elif v is not None:
                return False  # not a string: test_value decides every value
        return True
    needles = items(c.value) if c.op == "contains_any" else (c.value,)
    if not needles or not all(isinstance(x, str) for x in needles):
        return False
    found = re.compile("|".join(re.escape(str(x).lower()) for x in needles)).search
    for k in chosen:
        v = values[k]
        if isinstance(v, str):
            answers[k] = found(v.lower()) is not None
        elif v is not None:
            return False  # not a string: test_value decides every value
    return True


#: Kinds whose values ``test_value`` takes as they are (no normalising) and compares as text.
STRINGS = frozenset({"text", "string", "id"})


def _scalar(spec: FieldSpec, value: object) -> float | int:
    if spec.kind == "datetime":
        assert isinstance(value, datetime)
        return _micros(value)
    assert is_number(value)
    return value  # type: ignore[return-value]


def _numbers(spec: FieldSpec, c: Cond, col: Numbers) -> np.ndarray:
    """``test_value`` for a number or datetime that every present row has: missing values
    satisfy only is_not, not_in and exists false; contains never holds."""
    import numpy as np

    x, present, op, v = col.values, col.present, c.op, c.value
    if op == "exists":
        return present.copy() if v else ~present
    if op in ("is", "is_not", "in", "not_in"):
        wanted = [_scalar(spec, w) for w in items(v)]
        hit = present & np.isin(x, wanted)
        return hit if op in ("is", "in") else ~hit
    if op == "between":
        low, high = (_scalar(spec, w) for w in items(v))
        return present & (x >= low) & (x <= high)
    if op in ("gt", "lt", "ge", "le"):
        w = _scalar(spec, v)
        compared = {"gt": x > w, "lt": x < w, "ge": x >= w, "le": x <= w}[op]
        return present & compared
    return np.zeros(len(x), dtype=bool)  # contains, contains_any: a number contains nothing


def _micros(value: datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def column_of(spec: FieldSpec, values: Sequence[object]) -> Column:
    """The column of ``values`` (as ``spec``'s getter returns them) for a field of ``spec``."""
    import numpy as np

    n = len(values)
    present = np.fromiter((v is not None for v in values), bool, n)
    if spec.kind == "number" and all(
        v is None or (is_number(v) and not math.isnan(v) and abs(v) <= _EXACT)  # type: ignore[arg-type]
        for v in values
    ):
        return Numbers(np.array([0 if v is None else v for v in values], np.float64), present)
    if spec.kind == "datetime" and all(
        v is None or (isinstance(v, datetime) and v.tzinfo is not None) for v in values
    ):
        micros = [0 if v is None else _micros(v) for v in values]  # type: ignore[arg-type]
        return Numbers(np.array(micros, np.int64), present)
    distinct: dict[object, int] = {}
    originals: list[object] = []
    codes = np.empty(n, np.int64)
    for i, v in enumerate(values):
        key = _key(v)
        k = distinct.get(key)
        if k is None:
            k = distinct[key] = len(originals)
            originals.append(v)
        codes[i] = k
    return Coded(codes, originals)


def _key(value: object) -> object:
    """A hashable stand-in that tells apart the values the language tells apart (``1``,
    ``1.0``, ``True`` and ``"1"`` included)."""
    if isinstance(value, str | int | float | bool | datetime) or value is None:
        return (type(value).__name__, value)
    try:
        return ("json", json.dumps(value, sort_keys=True, default=repr))
    except (TypeError, ValueError):
        return ("id", id(value))


def table_from_subjects(
    subjects: Sequence[Subject], fields: Iterable[str] | Node | None = None
) -> Table:
    """A table of ``subjects`` with a column for each of ``fields`` (the fields a node tests,
    when given a node), each read with its registry getter; rows fall back to the subjects."""
    names = fields_used(fields) if isinstance(fields, All | Any | Not | Cond) else fields or ()
    columns: dict[str, Column] = {}
    for name in sorted(set(names)):
        spec = field_spec(name)
        columns[name] = column_of(spec, [spec.getter(s) for s in subjects])
    return Table(len(subjects), columns, subjects.__getitem__)
