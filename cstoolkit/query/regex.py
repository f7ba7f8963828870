"""Regular expressions in conditions (``matches``, ``~``): compiled once, refused when they could
backtrack catastrophically, searched with a time limit (docs/query.md, "Regex safety")."""

from __future__ import annotations

import functools
import itertools
import math
import re
import warnings
from dataclasses import dataclass, field

from cstoolkit.errors import QueryError
from cstoolkit.query.grammar import MAX_PATTERN, MAX_REGEX_INPUT

# -- regex safety ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` once (case-insensitive) after refusing ones that can hang."""
    if len(pattern) > MAX_PATTERN:
        raise QueryError(f"regex is longer than {MAX_PATTERN} characters")
    try:
        with warnings.catch_warnings():  # e.g. "possible nested set": not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise QueryError(f"bad regex '{pattern}': {exc}") from None
    problem = catastrophic(pattern)
    if problem:
        raise QueryError(
            f"regex '{pattern}' could backtrack catastrophically ({problem}); "
            "rewrite it without a repeated group that itself repeats"
        )
    return compiled


@dataclass(slots=True)
class _Group:
    start: int  # index of the first character of the body
    atomic: bool = False
    unbounded: bool = False  # the body holds an unbounded quantifier (*, +, {n,})
    bars: list[int] = field(default_factory=list)  # indexes of the body's top-level '|'
    end: int = 0


_QUANT_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]+([:)])")


def catastrophic(pattern: str) -> str | None:
    """A simple static check: a repeated group whose body also repeats without bound, or whose
    alternatives can match the same text (``(a+)+``, ``(a*)*``, ``(.*)*``, ``(a|a)*``).
    Possessive quantifiers (``a++``) and atomic groups (``(?>...)``) are exempt: they never
    backtrack into what they matched. The pattern is already known to compile."""
    stack = [_Group(start=0)]
    last: _Group | str | None = None  # what a quantifier would apply to
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            last, i = "atom", i + 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            last, i = "atom", j + 1
            continue
        if c == "(":
            if pattern.startswith(("(?#", "(?P="), i):  # comment, named back-reference
                last, i = "atom", _after(pattern, ")", i)
                continue
            flags = _INLINE_FLAGS.match(pattern, i)
            if flags and flags.group(1) == ")":  # global inline flags: (?i)
                last, i = None, flags.end()
                continue
            if flags:
                body = flags.end()
            elif pattern.startswith(("(?:", "(?>", "(?=", "(?!"), i):
                body = i + 3
            elif pattern.startswith(("(?<=", "(?<!"), i):
                body = i + 4
            elif pattern.startswith(("(?P<", "(?("), i):
                body = _after(pattern, ">" if pattern[i + 2] == "P" else ")", i)
            else:
                body = i + 1
            stack.append(_Group(start=body, atomic=pattern.startswith("(?>", i)))
            last, i = None, body
            continue
        if c == ")":
            if len(stack) == 1:  # unbalanced: only possible inside a (?x) comment
                last, i = "atom", i + 1
                continue
            group = stack.pop()
            group.end = i
            if group.unbounded and not group.atomic:
                stack[-1].unbounded = True
            last, i = group, i + 1
            continue
        if c == "|":
            stack[-1].bars.append(i)
            last, i = None, i + 1
            continue
        most: float | None = None
        j = i + 1
        if c in "*+":
            most = math.inf
        elif c == "?":
            most = 1
        elif c == "{":
            m = _QUANT_BRACES.match(pattern, i)
            if m and (m.group(1) or m.group(3)):
                most = math.inf if m.group(2) and not m.group(3) else int(m.group(3) or m.group(1))
                j = m.end()
        if most is None:  # an ordinary character
            last, i = "atom", i + 1
            continue
        possessive = j < n and pattern[j] == "+"
        if j < n and pattern[j] in "?+":
            j += 1
        if isinstance(last, _Group) and most > 1 and not possessive and not last.atomic:
            if last.unbounded:
                return "a repeated group contains another unbounded repeat"
            if _overlapping_alternatives(pattern, last):
                return "a repeated group has alternatives that match the same text"
        if last is not None and most == math.inf and not possessive:
            stack[-1].unbounded = True
        last, i = None, j
    return None


def _after(pattern: str, char: str, start: int) -> int:
    found = pattern.find(char, start)
    return len(pattern) if found < 0 else found + 1


def _overlapping_alternatives(pattern: str, group: _Group) -> bool:
    """Whether two alternatives of ``group`` can start matching the same text: one equals or
    begins the other, or their first characters (a literal, ``.``, ``\\w``, a class...) can be
    the same character (probed on Latin-1 and a few other characters)."""
    if not group.bars:
        return False
    edges = [group.start - 1, *group.bars, group.end]
    alternatives = [pattern[a + 1 : b] for a, b in itertools.pairwise(edges)]
    for k, first in enumerate(alternatives):
        for second in alternatives[k + 1 :]:
            if first.startswith(second) or second.startswith(first):
                return True
            if _first_chars_overlap(_first_atom(first), _first_atom(second)):
                return True
    return False


_PROBE = "".join(map(chr, range(256))) + "\u0100\u0394\u0416\u4e2d\u3042\U0001f600"
_ESCAPE_ATOM = re.compile(
    r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|.)", re.S
)


def _first_atom(alternative: str) -> str | None:
    """The first single-character atom of an alternative, or None when it starts otherwise."""
    if not alternative or alternative[0] in "()^$|":
        return None
    if alternative[0] == "\\":
        m = _ESCAPE_ATOM.match(alternative)
        return m.group() if m else None
    if alternative[0] == "[":
        j = 1 + (alternative[1:2] == "^")
        j += alternative[j : j + 1] == "]"
        while j < len(alternative) and alternative[j] != "]":
            j += 2 if alternative[j] == "\\" else 1
        return alternative[: j + 1] if j < len(alternative) else None
    return alternative[0]


@functools.lru_cache(maxsize=256)
def _first_chars_overlap(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    try:
        first, second = re.compile(a, re.IGNORECASE | re.S), re.compile(b, re.IGNORECASE | re.S)
    except re.error:
        return False
    return any(first.fullmatch(c) and second.fullmatch(c) for c in _PROBE)


#: Seconds one regex search may run when the ``regex`` package is installed (it takes a
#: timeout; ``re`` does not): a search still running then counts as no match, so a pattern
#: that is slow on some text (``a*b`` on a long run of a's is quadratic) cannot hang a
#: scheduled run. The static check in :func:`_regex` refuses the exponential ones up front.
REGEX_TIMEOUT: float = 0.1


@functools.lru_cache(maxsize=512)
def timed_regex(pattern: str) -> object | None:
    try:
        import regex as timed
    except ImportError:  # pragma: no cover - regex is a dependency; re is the fallback
        return None
    try:
        return timed.compile(pattern, timed.IGNORECASE | timed.VERSION0)
    except timed.error:  # a pattern only re understands: use re
        return None


def search(pattern: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    text = value[:MAX_REGEX_INPUT]
    compiled = compile_regex(pattern)  # validates (and refuses catastrophic patterns) first
    timed = timed_regex(pattern)
    if timed is None:
        return compiled.search(text) is not None
    try:
        return timed.search(text, timeout=REGEX_TIMEOUT) is not None  # type: ignore[attr-defined]
    except TimeoutError:
        return False
