"""The parser: query strings (through the lexer) and recipe condition forms (mappings, lists,
shorthands) to one tree of :mod:`cstoolkit.query.tree` nodes, each leaf validated by
:func:`cstoolkit.query.values.cond`. Errors are one line naming the column or the path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Final

from cstoolkit.errors import QueryError
from cstoolkit.query.grammar import MAX_DEPTH, MAX_QUERY_LENGTH
from cstoolkit.query.lexer import Lexer, Token, fail
from cstoolkit.query.registry import (
    ALIASES,
    TIME_ALIASES,
    did_you_mean,
    field_spec,
    known_names,
)
from cstoolkit.query.tree import All, Any, Cond, Node, Not
from cstoolkit.query.values import (
    DATE_ONLY,
    NUMBER,
    age_value,
    check_op,
    cond,
    day_start,
    parse_datetime,
    resolve_name,
    tidy,
)


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = Lexer(text).tokens()
        self.k = 0
        self.depth = 0  # open parentheses and NOTs around the current token

    @property
    def tok(self) -> Token:
        return self.tokens[self.k]

    def advance(self) -> Token:
        tok = self.tokens[self.k]
        self.k += 1
        return tok

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise fail(1, "empty query")
        node = self.or_expr()
        if self.tok.kind != "END":
            raise fail(self.tok.col, f"unexpected {self.describe(self.tok)}")
        return node

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.kind == "END":
            return "end of query"
        return f"'{tok.text or tok.kind}'"

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.tok.kind == "OR":
            self.advance()
            if self.tok.kind in ("OR", "AND", ")", "END"):
                found = self.describe(self.tok)
                raise fail(self.tok.col, f"expected a condition after 'OR', got {found}")
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Any(tuple(parts))

    def and_expr(self) -> Node:
        parts: list[Node] = []
        while self.tok.kind not in ("OR", ")", "END"):
            if self.tok.kind == "AND":
                if not parts:
                    break
                self.advance()
                if self.tok.kind in ("OR", ")", "END", "AND"):
                    raise fail(self.tok.col, f"expected a condition, got {self.describe(self.tok)}")
                continue
            parts.append(self.unary())
        if not parts:
            raise fail(self.tok.col, f"unexpected {self.describe(self.tok)}")
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def unary(self) -> Node:
        tok = self.tok
        if tok.kind in ("NOT", "-", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise fail(tok.col, f"nested deeper than {MAX_DEPTH} levels (parentheses, NOT)")
            try:
                return self._nested(tok)
            finally:
                self.depth -= 1
        if tok.kind == "TERM":
            self.advance()
            return term_node(tok)
        raise fail(tok.col, f"unexpected {self.describe(tok)}")

    def _nested(self, tok: Token) -> Node:
        if tok.kind in ("NOT", "-"):
            self.advance()
            if self.tok.kind in ("OR", "AND", ")", "END"):
                found = self.describe(self.tok)
                raise fail(self.tok.col, f"expected a condition after '{tok.kind}', got {found}")
            return Not(self.unary())
        self.advance()
        node = self.or_expr()
        if self.tok.kind != ")":
            raise fail(tok.col, "'(' is never closed")
        self.advance()
        return node


def parse(text: str) -> Node:
    """Parse a query string; a malformed one raises a one-line :class:`QueryError`."""
    if not isinstance(text, str):
        raise QueryError(f"a query is a string, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise fail(
            MAX_QUERY_LENGTH + 1, f"the query is longer than {MAX_QUERY_LENGTH:,} characters"
        )
    return Parser(text).parse()


SYMBOL_OPS: Final[dict[str, str]] = {">": "gt", "<": "lt", ">=": "ge", "<=": "le"}


def term_node(tok: Token) -> Node:
    name = tok.text
    try:
        canonical = ALIASES.get(name, name)
        if canonical not in TIME_ALIASES:
            field_spec(canonical)
    except QueryError as exc:
        raise fail(tok.col, exc.message) from None
    try:
        if tok.sym == ":":
            return colon(name, tok.items)
        value, quoted = tok.items[0]
        if tok.sym == "~":
            return cond(name, "matches", value)
        return cond(name, SYMBOL_OPS[tok.sym], typed(name, value, quoted, compare=True))
    except QueryError as exc:
        raise fail(tok.value_col, exc.message) from None


def typed(name: str, raw: str, quoted: bool, *, compare: bool = False) -> object:
    """Query strings carry text; a custom/extension field (kind any) gets JSON-like values."""
    if quoted or name in TIME_ALIASES:
        return raw
    spec = field_spec(ALIASES.get(name, name))
    if spec.kind != "any":
        return raw
    if not compare and raw in ("true", "false"):
        return raw == "true"
    if NUMBER.fullmatch(raw):
        return tidy(float(raw))
    return raw


def colon(name: str, items: Sequence[tuple[str, bool]]) -> Node:
    """``field:value`` (also the recipe shorthand ``{field: value}``)."""
    if len(items) == 1:
        raw, quoted = items[0]
        if not quoted and raw.lower() == "none":
            return cond(name, "exists", False)
        absolute = TIME_ALIASES[name][0] if name in TIME_ALIASES else name
        is_time = name in TIME_ALIASES or field_spec(ALIASES.get(name, name)).kind == "datetime"
        if not quoted and ".." in raw and rangeable(name):
            low, high = raw.split("..", 1)
            if is_time and DATE_ONLY.fullmatch(high.strip()):
                start, end = parse_datetime(low), parse_datetime(high) + timedelta(days=1)
                return All((cond(absolute, "ge", start), cond(absolute, "lt", end)))
            bounds = [typed(name, v, False, compare=True) for v in (low, high)]
            return cond(name, "between", bounds)
        if is_time:
            if age_value(raw) is not None:
                raise QueryError(f"'{name}:{raw}' is ambiguous: use {name}<{raw} or {name}>{raw}")
            if DATE_ONLY.fullmatch(raw.strip()):
                return day(absolute, parse_datetime(raw))
            return cond(absolute, "is", raw)
    values = [typed(name, raw, quoted) for raw, quoted in items]
    if name in TIME_ALIASES:
        return cond(name, "in", values)
    spec = field_spec(ALIASES.get(name, name))
    loose = spec.kind in ("tags", "text")  # tag:vip, subject:refund mean "contains"
    if len(values) == 1:
        return cond(name, "contains" if loose else "is", values[0])
    return cond(name, "contains_any" if loose else "in", values)


def rangeable(name: str) -> bool:
    if name in TIME_ALIASES:
        return True
    spec = field_spec(ALIASES.get(name, name))
    return spec.kind in ("number", "datetime", "any") or (spec.kind == "enum" and spec.ordered)


def day(name: str, start: datetime) -> Node:
    return All((cond(name, "ge", start), cond(name, "lt", start + timedelta(days=1))))


# -- recipe dicts ------------------------------------------------------------------------------

_GROUP_KEYS = ("all", "any", "not")
_LEAF_KEYS = ("field", "op", "value")


def compile(obj: object, *, where: str = "condition") -> Node:
    """Compile a recipe condition: a dict, a list (all of it), a query string, or a node.

    ``where`` prefixes error messages (``recipes/x.yaml: when``); the path inside the condition
    follows it (``condition: all[1].priority: unknown priority 'hgh' ...``).
    """
    return _compile(obj, where)


def from_dict(obj: Mapping[str, object]) -> Node:
    """The inverse of ``node.to_dict()`` (any recipe form is accepted)."""
    return _compile(obj, "condition")


def _compile(obj: object, path: str, depth: int = 0) -> Node:
    if depth > MAX_DEPTH:
        raise QueryError(f"{path}: conditions nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, All | Any | Not | Cond):
        return obj
    if isinstance(obj, str):
        if not obj.strip():
            raise QueryError(f"{path}: empty condition")
        try:
            return parse(obj)
        except QueryError as exc:
            raise QueryError(f"{path}: {exc.message}", hint=exc.hint) from None
    if isinstance(obj, list | tuple):
        if not obj:
            raise QueryError(f"{path}: empty list of conditions")
        nodes = tuple(_compile(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(obj))
        return nodes[0] if len(nodes) == 1 else All(nodes)
    if not isinstance(obj, Mapping):
        raise QueryError(f"{path}: expected a condition (mapping or query string), got {obj!r}")
    if not obj:
        raise QueryError(f"{path}: empty condition")
    keys = [str(k) for k in obj]
    group = [k for k in keys if k in _GROUP_KEYS]
    if group:
        if len(keys) != 1:
            raise QueryError(f"{path}: '{group[0]}' cannot be combined with other keys: {keys}")
        key = group[0]
        body = obj[key]
        if key == "not":
            return Not(_compile(body, f"{path}.not", depth + 1))
        items = body if isinstance(body, list | tuple) else [body]
        if not items:
            raise QueryError(f"{path}.{key}: needs at least one condition")
        nodes = tuple(_compile(x, f"{path}.{key}[{i}]", depth + 1) for i, x in enumerate(items))
        return All(nodes) if key == "all" else Any(nodes)
    try:
        if "field" in keys or "op" in keys:
            return _leaf(obj, keys)
        nodes = tuple(_shorthand(str(k), v) for k, v in obj.items())
    except QueryError as exc:
        raise QueryError(f"{path}: {exc.message}", hint=exc.hint) from None
    return nodes[0] if len(nodes) == 1 else All(nodes)


def _leaf(obj: Mapping[str, object], keys: Sequence[str]) -> Cond:
    for key in keys:
        if key not in _LEAF_KEYS:
            raise QueryError(f"unknown key '{key}'{did_you_mean(key, _LEAF_KEYS)}")
    name, op = obj.get("field"), obj.get("op")
    if not isinstance(name, str) or not name:
        raise QueryError("a condition with 'op' needs a 'field'")
    if op is None:
        raise QueryError(f"the condition on '{name}' needs an 'op'")
    return cond(name, check_op(op), obj.get("value"))


def _shorthand(name: str, value: object) -> Node:
    """``{field: value}``, ``{field: [a, b]}``, ``{field: null}``, ``{field: {op: value}}``."""
    if not (name in ALIASES or name in TIME_ALIASES or _is_field(name)):
        hint = did_you_mean(name, [*known_names(), *_GROUP_KEYS, *_LEAF_KEYS])
        raise QueryError(f"unknown field '{name}'{hint}")
    if isinstance(value, Mapping):
        if not value:
            raise QueryError(f"{name}: empty condition")
        nodes = tuple(cond(name, check_op(op), v) for op, v in value.items())
        return nodes[0] if len(nodes) == 1 else All(nodes)
    if value is None:
        return cond(name, "exists", False)
    if isinstance(value, str):
        return colon(name, [(value, False)])
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return colon(name, [(str(v), True) for v in value])
        return cond(name, "in", list(value))
    if isinstance(value, date) and not isinstance(value, datetime):
        absolute = TIME_ALIASES[name][0] if name in TIME_ALIASES else name
        if field_spec(absolute).kind == "datetime":
            return day(absolute, day_start(value, value))
    spec = field_spec(resolve_name(name, "is", value))
    return cond(name, "contains" if spec.kind == "tags" else "is", value)


def _is_field(name: str) -> bool:
    try:
        field_spec(name)
    except QueryError:
        return False
    return True
