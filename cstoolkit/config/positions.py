"""Where each key of a TOML file is: key path -> line number.

:mod:`tomllib` keeps no positions, so this scans the source text once. It follows every form a
key can take: ``[table]`` and ``[[array.of.tables]]`` headers, dotted and quoted keys, inline
tables, arrays (each element gets an integer index in the path) and multi-line strings, so a
problem anywhere in the file can name its line. The text has already been parsed by tomllib,
so the scanner can assume it is valid; on anything it does not follow it stops and keeps what it
found (a line is a help, never a reason to fail).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence

Path = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.out: dict[Path, int] = {}
        self.tables_of_arrays: dict[Path, int] = {}

    # -- characters ----------------------------------------------------------------------------

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        chunk = self.s[self.i : self.i + n]
        self.line += chunk.count("\n")
        self.i += n

    def skip_blank(self, newlines: bool) -> None:
        """Spaces and comments, and line ends when ``newlines``."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            else:
                return

    def record(self, path: Path) -> None:
        self.out.setdefault(path, self.line)

    # -- keys ----------------------------------------------------------------------------------

    def key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            c = self.peek()
            if c == '"':
                start = self.i
                self.basic_string()
                parts.append(tomllib.loads("k = " + self.s[start : self.i])["k"])
            elif c == "'":
                end = self.s.index("'", self.i + 1)
                parts.append(self.s[self.i + 1 : end])
                self.i = end + 1
            else:
                m = _BARE.match(self.s, self.i)
                if not m:
                    raise ValueError("key expected")
                parts.append(m.group(0))
                self.i = m.end()
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()

    def resolve(self, parts: Sequence[str]) -> Path:
        """A header's path, with the index of each array of tables it passes through."""
        path: Path = ()
        for part in parts:
            path = (*path, part)
            if path in self.tables_of_arrays:
                path = (*path, self.tables_of_arrays[path])
        return path

    # -- values --------------------------------------------------------------------------------

    def basic_string(self) -> None:
        self.advance()  # opening quote
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                self.advance(2)
            elif c == '"':
                self.advance()
                return
            else:
                self.advance()

    def multiline(self, quote: str) -> None:
        self.advance(3)
        while self.i < len(self.s):
            if quote == '"' and self.s[self.i] == "\\":
                self.advance(2)
                continue
            if self.s.startswith(quote * 3, self.i):
                self.advance(3)
                while self.peek() == quote:  # up to two quotes may end the content
                    self.advance()
                return
            self.advance()

    def value(self, path: Path) -> None:
        c = self.peek()
        if self.s.startswith('"""', self.i) or self.s.startswith("'''", self.i):
            self.multiline(c)
        elif c == '"':
            self.basic_string()
        elif c == "'":
            end = self.s.index("'", self.i + 1)
            self.i = end + 1
        elif c == "{":
            self.advance()
            while True:
                self.skip_blank(newlines=True)
                if self.peek() in ("}", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                self.pair(path)
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    index += 1
                    continue
                self.record((*path, index))
                self.value((*path, index))
        else:
            while self.i < len(self.s) and self.s[self.i] not in ",]}\n#":
                self.i += 1

    def pair(self, table: Path) -> None:
        parts = self.key()
        for n in range(1, len(parts) + 1):
            self.record((*table, *parts[:n]))
        self.skip_blank(newlines=False)
        if self.peek() != "=":
            raise ValueError("= expected")
        self.advance()
        self.skip_blank(newlines=False)
        self.value((*table, *parts))

    # -- the file ------------------------------------------------------------------------------

    def scan(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self.skip_blank(newlines=True)
            if self.i >= len(self.s):
                return self.out
            if self.s.startswith("[[", self.i):
                self.advance(2)
                parts = self.key()
                parent = self.resolve(parts[:-1])
                array = (*parent, parts[-1])
                index = self.tables_of_arrays.get(array, -1) + 1
                self.tables_of_arrays[array] = index
                table = (*array, index)
                self.record(array)
                self.record(table)
                self.i = self.s.index("]]", self.i) + 2
            elif self.peek() == "[":
                self.advance()
                table = self.resolve(self.key())
                for n in range(1, len(table) + 1):
                    self.record(table[:n])
                self.i = self.s.index("]", self.i) + 1
            else:
                self.pair(table)


def key_lines(text: str) -> dict[Path, int]:
    """Each key path of ``text`` (array elements as int indices) -> the 1-based line it is on."""
    scanner = _Scanner(text)
    try:
        return scanner.scan()
    except (ValueError, IndexError, tomllib.TOMLDecodeError):
        return scanner.out


def line_of(lines: dict[Path, int], path: Sequence[str | int]) -> int | None:
    """The line of ``path``; else of the first key inside it; else of its nearest parent."""
    want = tuple(path)
    if want in lines:
        return lines[want]
    inside = [n for p, n in lines.items() if p[: len(want)] == want]
    if inside:
        return min(inside)
    for n in range(len(want) - 1, 0, -1):
        if want[:n] in lines:
            return lines[want[:n]]
    return None


def field_name(path: Sequence[str | int]) -> str:
    """``("run", "steps", 2, "name")`` -> ``run.steps[2].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_field(name: str) -> Path:
    """``run.steps[2].name`` -> ``("run", "steps", 2, "name")`` (the reverse of field_name)."""
    out: list[str | int] = []
    for part in name.split("."):
        head, *indexes = part.split("[")
        if head:
            out.append(head)
        for index in indexes:
            digits = index.rstrip("]")
            out.append(int(digits) if digits.isdigit() else digits)
    return tuple(out)


def locate(text: str, table: Sequence[str], key: str | None = None) -> int | None:
    """The 1-based line of ``[table]`` (or of ``key`` inside it) in TOML source text."""
    if not text:
        return None
    path: list[str | int] = [*table]
    if key is not None:
        path.append(key)
    return line_of(key_lines(text), path)
