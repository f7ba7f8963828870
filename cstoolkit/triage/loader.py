"""YAML with positions: every value of a recipe, roster or test file knows its line and column.

PyYAML's composer keeps a mark on every node; :func:`load` builds plain Python values from the
node tree and a :class:`Doc` that maps each value's path (``("rules", 2, "when")``) to its
``(line, column)``, both 1-based. Errors then name ``file:line:column``.

Only the safe subset of YAML is read (no Python tags, no code): recipes are data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cstoolkit.errors import ConfigError

Path_ = tuple[str | int, ...]


class RecipeError(ConfigError):
    """A problem in a recipe, roster or recipe-test file, at a file, line and column."""


@dataclass
class Problem:
    """One finding of ``cst recipe check`` (an error or a warning)."""

    path: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }

    def error(self) -> RecipeError:
        return RecipeError(self.message, path=self.path, line=self.line, column=self.column)


@dataclass
class Doc:
    """A loaded YAML document: its data and where each part of it was written."""

    path: str
    data: Any
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    text: str = ""

    def pos(self, at: Path_) -> tuple[int, int]:
        """The line and column of the value at ``at`` (or of its nearest ancestor)."""
        trail = tuple(at)
        while trail:
            if trail in self.marks:
                return self.marks[trail]
            trail = trail[:-1]
        return self.marks.get((), (1, 1))

    def key_pos(self, at: Path_) -> tuple[int, int]:
        """Where the *key* of the mapping entry at ``at`` was written (for unknown keys)."""
        return self.key_marks.get(tuple(at)) or self.pos(at)

    def problem(
        self, at: Path_, message: str, severity: str = "error", *, key: bool = False
    ) -> Problem:
        line, column = self.key_pos(at) if key else self.pos(at)
        return Problem(self.path, line, column, message, severity)

    def error(self, at: Path_, message: str, *, key: bool = False) -> RecipeError:
        return self.problem(at, message, key=key).error()


def _mark(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def loads(text: str, path: str = "<recipe>") -> Doc:
    """Parse one YAML document; a syntax error is a :class:`RecipeError` at its position."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_cls(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
            message = f"invalid YAML: {exc.problem or exc.context}"
            raise RecipeError(message, path=path, line=line, column=column) from None
        except yaml.YAMLError as exc:
            raise RecipeError(f"invalid YAML: {exc}", path=path) from None
        doc = Doc(path=path, data=None, text=text)
        if node is None:
            doc.marks[()] = (1, 1)
            return doc
        doc.data = _build(loader, node, (), doc)
        return doc
    finally:
        loader.dispose()


def load(path: str | Path) -> Doc:
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise RecipeError("no such file", path=str(p)) from None
    except OSError as exc:
        raise RecipeError(f"cannot read: {exc.strerror}", path=str(p)) from None
    except UnicodeDecodeError:
        raise RecipeError("not UTF-8 text", path=str(p)) from None
    return loads(text, str(p))


def _build(loader: Any, node: Any, at: Path_, doc: Doc) -> Any:
    import yaml

    doc.marks[at] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, column = _mark(key_node)
                raise RecipeError(
                    "a key must be a plain value", path=doc.path, line=line, column=column
                )
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            if key in out:
                line, column = _mark(key_node)
                raise RecipeError(f"duplicate key {key!r}", path=doc.path, line=line, column=column)
            doc.key_marks[(*at, key)] = _mark(key_node)
            out[key] = _build(loader, value_node, (*at, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, child, (*at, i), doc) for i, child in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        line, column = _mark(node)
        raise RecipeError(
            f"invalid value: {exc}", path=doc.path, line=line, column=column
        ) from None


def walk(doc: Doc) -> Iterator[tuple[Path_, Any]]:
    """Every (path, value) of a document, depth first."""

    def visit(at: Path_, value: Any) -> Iterator[tuple[Path_, Any]]:
        yield at, value
        if isinstance(value, dict):
            for k, v in value.items():
                yield from visit((*at, k), v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                yield from visit((*at, i), v)

    yield from visit((), doc.data)
