"""The one reader of files people write: strict UTF-8 text and bounded YAML with positions.

Every file a person (or another tool) writes for cst is read here: ``cstoolkit.toml``, recipes,
their ``*.test.yaml`` files, the roster, survey templates, survey answer CSV files and the lines
of a local helpdesk file. So every one of them gets the same guarantees (docs/security.md,
"Files people write"):

* text is UTF-8, strictly: a byte that is not is reported as
  ``file:line:column: not valid UTF-8 (byte 0xff)``, never replaced or guessed; a leading
  byte-order mark is dropped;
* a file is refused above a size limit before it is read (:data:`MAX_TEXT_BYTES`);
* YAML is the safe subset (no tags that build Python objects), and a document is refused with
  ``file:line: message`` when it nests deeper than :data:`MAX_DEPTH`, uses more than
  :data:`MAX_ALIASES` aliases, or when its aliases would expand it by more than
  :data:`MAX_ALIAS_EXPANSION` nodes ("billion laughs": 600 bytes that expand to a billion
  nodes). The limits are checked on the composed node graph, whose size is linear in the
  input, before any value is built, so a bomb fails in milliseconds;
* every value of a YAML document knows its line and column (:class:`Doc`), and an error at the
  end of the input points at the last line, never past it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cstoolkit.errors import ConfigError

#: Files people write are refused above this size (bytes), unless the caller allows more.
MAX_TEXT_BYTES: Final = 4 * 1024 * 1024
#: A YAML document may nest mappings and lists this deep.
MAX_DEPTH: Final = 64
#: A YAML document may use this many aliases (``*name``).
MAX_ALIASES: Final = 1_000
#: Aliases may add this many nodes to a document beyond those written out.
MAX_ALIAS_EXPANSION: Final = 10_000

Path_ = tuple[str | int, ...]


class FileError(ConfigError):
    """A problem in a file people write, at ``file:line:column`` when known (exit 2)."""


# -- text ----------------------------------------------------------------------------------------


def position(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of character ``index`` of ``text`` (clamped to the text:
    an index at or past the end is the end of the last line)."""
    index = max(0, min(index, len(text)))
    if index == len(text) and text.endswith("\n") and text:
        index -= 1  # the end of input is the end of the last line, not a line after it
    line = text.count("\n", 0, index) + 1
    start = text.rfind("\n", 0, index) + 1
    return line, index - start + 1


def decode(data: bytes, path: str, *, first_line: int = 1) -> str:
    """``data`` as UTF-8 text; anything else is a :class:`FileError` at the first bad byte.

    ``first_line`` is the line number of the first byte (for one line of a larger file).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + first_line
        line_start = data.rfind(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8", "replace")) + 1
        raise FileError(
            f"not valid UTF-8 (byte 0x{data[start]:02x})", path=path, line=line, column=column
        ) from None
    return text.removeprefix("\ufeff")


def read_bytes(path: str | Path, *, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of ``path``; a missing, unreadable or too large file is a :class:`FileError`."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise FileError("no such file", path=str(p)) from None
    except IsADirectoryError:
        raise FileError("is a directory, not a file", path=str(p)) from None
    except OSError as exc:
        raise FileError(f"cannot read: {exc.strerror}", path=str(p)) from None
    if len(data) > limit:
        raise FileError(f"larger than the limit of {limit:,} bytes", path=str(p))
    return data


def read_text(path: str | Path, *, limit: int = MAX_TEXT_BYTES) -> str:
    """The text of a file people write: strict UTF-8, at most ``limit`` bytes."""
    return decode(read_bytes(path, limit=limit), str(path))


# -- findings ------------------------------------------------------------------------------------


@dataclass
class Problem:
    """One finding about a file (an error or a warning), at a line and column."""

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

    def error(self) -> FileError:
        return FileError(self.message, path=self.path, line=self.line, column=self.column)


# -- YAML ----------------------------------------------------------------------------------------


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

    def error(self, at: Path_, message: str, *, key: bool = False) -> FileError:
        return self.problem(at, message, key=key).error()

    def field_error(self, field: str | None, message: str, base: Path_ = ()) -> FileError:
        """An error at a dotted field (``agents[0].shift``, as ConfigError names fields),
        placed under ``base``: the message names the field, the position is where it is."""
        at = (*base, *field_path(field or ""))
        shown = f"{field}: " if field else ""
        return self.error(at, shown + message)


def field_path(field: str) -> Path_:
    """``"agents[0].shift.start"`` -> ``("agents", 0, "shift", "start")``."""
    out: list[str | int] = []
    for part in field.split("."):
        name, _, rest = part.partition("[")
        if name:
            out.append(name)
        for index in rest.replace("]", "").split("[") if rest else ():
            out.append(int(index) if index.isdigit() else index)
    return tuple(out)


def load_yaml(path: str | Path, *, limit: int = MAX_TEXT_BYTES) -> Doc:
    """Read and parse one YAML file people write (see the module docstring for the limits)."""
    return loads_yaml(read_text(path, limit=limit), str(path))


@functools.cache
def _loader_class() -> Any:
    """PyYAML's safe loader (in C when available), reading ``13:00`` as the text it looks like.

    YAML 1.1 reads an unquoted ``13:00`` as the number 780 (base 60), which no one writing a
    shift or an office hour means; YAML 1.2 dropped that rule, and so does cst.
    """
    import re

    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # PyYAML's own int and float patterns without their base-60 alternatives
    patterns = {
        "tag:yaml.org,2002:int": re.compile(
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
        ),
        "tag:yaml.org,2002:float": re.compile(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
            r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
    }
    resolvers = {
        first: [(tag, patterns.get(tag, regexp)) for tag, regexp in entries]
        for first, entries in base.yaml_implicit_resolvers.items()
    }
    return type("Loader", (base,), {"yaml_implicit_resolvers": resolvers})


def loads_yaml(text: str, path: str = "<yaml>") -> Doc:
    """Parse one YAML document; any problem is a :class:`FileError` at its position."""
    import yaml

    loader = _loader_class()(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(exc, text, path) from None
        except yaml.reader.ReaderError as exc:
            line, column = position(text, exc.position)
            what = f"character U+{exc.character:04X}" if isinstance(exc.character, int) else "byte"
            raise FileError(
                f"invalid YAML: {what} not allowed ({exc.reason})",
                path=path,
                line=line,
                column=column,
            ) from None
        except yaml.YAMLError as exc:
            raise FileError(f"invalid YAML: {exc}", path=path) from None
        doc = Doc(path=path, data=None, text=text)
        if node is None:
            doc.marks[()] = (1, 1)
            return doc
        _check_graph(node, path)
        doc.data = _build(loader, node, (), doc)
        return doc
    finally:
        loader.dispose()


def _syntax_error(exc: Any, text: str, path: str) -> FileError:
    mark = exc.problem_mark or exc.context_mark
    line, column = _clamp(mark, text) if mark else (None, None)
    message = f"invalid YAML: {exc.problem or exc.context}"
    context = exc.context_mark
    if exc.problem and exc.context and context is not None and context is not mark:
        c_line, c_column = _clamp(context, text)
        message += f" ({exc.context} at line {c_line}, column {c_column})"
    return FileError(message, path=path, line=line, column=column)


def _clamp(mark: Any, text: str) -> tuple[int, int]:
    """A mark's 1-based position, never past the end of the text."""
    index = getattr(mark, "index", None)
    if isinstance(index, int) and index >= 0:
        return position(text, index)
    lines = text.splitlines() or [""]
    line = min(mark.line + 1, len(lines))
    return line, min(mark.column + 1, len(lines[line - 1]) + 1)


def _mark(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _check_graph(root: Any, path: str) -> None:
    """Refuse a node graph that is too deep, uses too many aliases or would expand too much.

    PyYAML composes an alias as a second reference to the anchored node, so the graph holds
    each written node once. One memoised post-order walk gives each node's expanded size and
    height (what building values from it would create), counts the aliases (references to a
    node already seen) and finds an alias inside its own anchor (a cycle).
    """
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.MappingNode):
            return [n for pair in node.value for n in pair]
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        return []

    def fail(node: Any, message: str) -> FileError:
        line, column = _mark(node)
        return FileError(message, path=path, line=line, column=column)

    size: dict[int, int] = {}  # id(node) -> expanded size (nodes), once its walk is done
    height: dict[int, int] = {}  # id(node) -> levels of nesting from it down
    on_path: set[int] = set()
    aliases = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = children(node)
            size[key] = 1 + sum(size[id(c)] for c in kids)
            height[key] = 1 + max((height[id(c)] for c in kids), default=0)
            continue
        if key in on_path:
            raise fail(node, "an alias refers to its own anchor (a recursive structure)")
        if key in size:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise fail(node, f"more than {MAX_ALIASES:,} aliases")
            continue
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children(node)))
    if height[id(root)] > MAX_DEPTH:
        node = root
        for _ in range(MAX_DEPTH):  # follow the deepest branch to the first level too many
            node = max(children(node), key=lambda c: height[id(c)])
        raise fail(node, f"nested deeper than {MAX_DEPTH} levels")
    extra = size[id(root)] - len(size)
    if extra > MAX_ALIAS_EXPANSION:
        raise fail(
            root,
            f"aliases expand this document by {extra:,} nodes, more than the limit of "
            f"{MAX_ALIAS_EXPANSION:,} (an alias bomb?)",
        )


def _build(loader: Any, node: Any, at: Path_, doc: Doc) -> Any:
    import yaml

    doc.marks[at] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        try:
            loader.flatten_mapping(node)
        except yaml.YAMLError as exc:
            raise doc.error(at, f"invalid merge (<<): {getattr(exc, 'problem', exc)}") from None
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, column = _mark(key_node)
                raise FileError(
                    "a key must be a plain value", path=doc.path, line=line, column=column
                )
            key = _scalar(loader, key_node, doc)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            if key in out:
                line, column = _mark(key_node)
                raise FileError(f"duplicate key {key!r}", path=doc.path, line=line, column=column)
            doc.key_marks[(*at, key)] = _mark(key_node)
            out[key] = _build(loader, value_node, (*at, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, child, (*at, i), doc) for i, child in enumerate(node.value)]
    return _scalar(loader, node, doc)


def _scalar(loader: Any, node: Any, doc: Doc) -> Any:
    import yaml

    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        # PyYAML's timestamp constructor raises ValueError on 2026-02-30 and year 0
        problem = getattr(exc, "problem", None) or str(exc)
        line, column = _mark(node)
        raise FileError(
            f"invalid value {node.value!r}: {problem}", path=doc.path, line=line, column=column
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
