"""The words of the condition language: its operators, the kinds of fields, which operators
apply to which kind, and the limits on what a condition may ask."""

from __future__ import annotations

from typing import Final

OPERATORS: Final[tuple[str, ...]] = (
    "is", "is_not", "in", "not_in", "contains", "contains_any", "matches",
    "gt", "lt", "ge", "le", "between", "exists", "changed", "changed_from", "changed_to",
)  # fmt: skip

#: enum: a closed set of values; text: free text (``:`` means contains); string: a short value
#: compared whole, case-insensitively (email, plan); id: compared whole, case-sensitively;
#: tags: a list of tags; number; datetime; any: custom and extension values (JSON scalars).
KINDS: Final[tuple[str, ...]] = (
    "enum",
    "text",
    "string",
    "id",
    "tags",
    "number",
    "datetime",
    "any",
)

EQUALITY: Final = frozenset({"is", "is_not", "in", "not_in", "exists"})
CHANGE: Final = frozenset({"changed", "changed_from", "changed_to"})
ORDER: Final = frozenset({"gt", "lt", "ge", "le", "between"})
TEXT: Final = frozenset({"contains", "contains_any", "matches"})
KIND_OPS: Final[dict[str, frozenset[str]]] = {
    "enum": EQUALITY | CHANGE,  # + ORDER when the enum is ordered (priority)
    "text": EQUALITY | CHANGE | TEXT,
    "string": EQUALITY | CHANGE | TEXT,
    "id": EQUALITY | CHANGE | TEXT,
    "tags": EQUALITY | CHANGE | TEXT,
    "number": EQUALITY | CHANGE | ORDER,
    "datetime": EQUALITY | CHANGE | ORDER,
    "any": frozenset(OPERATORS),
}
CASE_INSENSITIVE: Final = frozenset({"text", "string"})

#: Regexes are matched against at most this many leading characters of a value.
MAX_REGEX_INPUT: Final = 100_000
MAX_PATTERN: Final = 1_000

# Limits on what a query may ask (docs/security.md, "Files people write"): a query string's
# length; how deeply parentheses, NOT and recipe groups nest; the size of a number and of an
# age. Dates lie between model.EARLIEST and model.LATEST (1900-01-01 to 9999-01-01). Past them the
# parser would recurse without bound, SQLite could not bind the number or the date arithmetic
# would overflow; each is a one-line QueryError naming where it was written instead.
MAX_QUERY_LENGTH: Final = 10_000
MAX_DEPTH: Final = 32
MAX_NUMBER: Final = 10**15
MAX_AGE_HOURS: Final = 100 * 8766  # a century
