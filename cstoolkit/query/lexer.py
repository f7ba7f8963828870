"""The lexer of query strings: a string to tokens (parentheses, OR/AND/NOT, ``-``, and
``field<sym>value`` terms with their values split and unquoted), each with its column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cstoolkit.errors import QueryError


@dataclass(slots=True)
class Token:
    kind: str  # "(", ")", "OR", "AND", "NOT", "-", "TERM", "END"
    col: int  # 1-based
    text: str = ""
    sym: str = ""
    items: list[tuple[str, bool]] = field(default_factory=list)  # (value, was quoted)
    value_col: int = 0


NAME = re.compile(r"[A-Za-z_][\w.\-]*")
KEYWORDS = ("OR", "AND", "NOT")


def fail(col: int, message: str) -> QueryError:
    return QueryError(f"query: column {col}: {message}", hint="the query language: docs/query.md")


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        text, n = self.text, len(self.text)
        while True:
            while self.i < n and text[self.i].isspace():
                self.i += 1
            if self.i >= n:
                out.append(Token("END", n + 1))
                return out
            c, col = text[self.i], self.i + 1
            if c in "()":
                out.append(Token(c, col))
                self.i += 1
            elif c == "-":
                nxt = text[self.i + 1] if self.i + 1 < n else ""
                if not nxt or nxt.isspace() or nxt == ")":
                    raise fail(col, "'-' must be followed by a condition (as in -tag:spam)")
                out.append(Token("-", col))
                self.i += 1
            else:
                out.append(self._term())

    def _term(self) -> Token:
        text, start = self.text, self.i
        m = NAME.match(text, start)
        if m is None:
            raise fail(start + 1, f"unexpected '{text[start]}' (expected FIELD:VALUE)")
        name, j = m.group(), m.end()
        sym = text[j : j + 2] if text[j : j + 2] in (">=", "<=") else text[j : j + 1]
        if sym not in (":", "~", ">", "<", ">=", "<="):
            if name in KEYWORDS:
                self.i = j
                return Token(name, start + 1, name)
            if name.upper() in KEYWORDS:
                raise fail(start + 1, f"write '{name.upper()}' in capitals")
            if j < len(text) and not text[j].isspace() and text[j] not in "()":
                raise fail(j + 1, f"unexpected '{text[j]}' after '{name}' (use : ~ < > <= or >=)")
            raise fail(start + 1, f"expected FIELD:VALUE, got '{name}' (e.g. subject:\"{name}\")")
        j += len(sym)
        token = Token("TERM", start + 1, name, sym, value_col=j + 1)
        while True:
            value, quoted, j = self._value(j, split=sym == ":", regex=sym == "~")
            token.items.append((value, quoted))
            if sym == ":" and j < len(text) and text[j] == ",":
                j += 1
                continue
            break
        self.i = j
        return token

    def _value(self, j: int, *, split: bool, regex: bool) -> tuple[str, bool, int]:
        text, n = self.text, len(self.text)
        if j < n and text[j] in "\"'":
            quote, k, buf = text[j], j + 1, []
            while k < n and text[k] != quote:
                if text[k] == "\\" and k + 1 < n and text[k + 1] in (quote, "\\"):
                    k += 1
                buf.append(text[k])
                k += 1
            if k >= n:
                raise fail(j + 1, "unterminated quoted value")
            k += 1
            if k < n and not text[k].isspace() and text[k] not in "),":
                raise fail(k + 1, f"unexpected '{text[k]}' after a quoted value")
            return "".join(buf), True, k
        k, depth = j, 0
        while k < n and not text[k].isspace():
            c = text[k]
            if regex and c == "\\":
                k += 2
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and split:
                break
            k += 1
        k = min(k, n)
        if k == j:
            raise fail(j + 1, "missing value")
        return text[j:k], False, k
