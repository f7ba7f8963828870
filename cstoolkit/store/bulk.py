"""Writing many rows of one table at once: one statement per table and page, not one per row.

:func:`upsert` is what the sync path (``Store.upsert_page``) and the facts refresh write with.
It has one meaning on both dialects, that of running ``INSERT ... ON CONFLICT`` once per row in
order: a later row with the same key wins. Where the rows go in one statement (COPY) they are
made unique by key first, the last one kept: that meaning, and what a single PostgreSQL
statement needs (it refuses to update one row twice).

* SQLite: ``executemany`` of the statement (the loop runs in C).
* PostgreSQL: the rows are streamed with ``COPY`` into a temporary table of the connection,
  then moved with one ``INSERT ... SELECT ... ON CONFLICT`` (``PostgresStore``'s cursor:
  ``copy_upsert``). ``executemany`` sends one statement per row; ``COPY`` is several times
  cheaper for both the client and the server. Below :data:`COPY_MIN` rows the round trips of
  the temporary table cost more than they save, and ``executemany`` is used there too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

#: Fewest rows worth a COPY on PostgreSQL (tests set it to 0 to drive every write through COPY).
COPY_MIN = 64


@functools.lru_cache(maxsize=64)
def conflict_clause(
    columns: tuple[str, ...],
    key: tuple[str, ...],
    also: str = "",
    update: tuple[str, ...] | None = None,
) -> str:
    """``ON CONFLICT (key) DO UPDATE SET c = excluded.c, ...`` for the ``update`` columns (by
    default every column but the key; ``DO NOTHING`` when there is none), then ``also`` (more
    assignments)."""
    changed = update if update is not None else [c for c in columns if c not in key]
    sets = [f"{c} = excluded.{c}" for c in changed]
    if also:
        sets.append(also)
    action = "DO UPDATE SET " + ", ".join(sets) if sets else "DO NOTHING"
    return f"ON CONFLICT ({', '.join(key)}) {action}"


@functools.lru_cache(maxsize=64)
def upsert_sql(table: str, columns: tuple[str, ...], conflict: str) -> str:
    """The one-row statement :func:`upsert` runs for each row where it does not copy."""
    marks = ",".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {conflict}"


def unique(rows: Sequence[tuple[Any, ...]], at: Sequence[int]) -> list[tuple[Any, ...]]:
    """``rows`` with one row per key (the values at positions ``at``), the last one kept."""
    if len(rows) < 2:
        return list(rows)
    if len(at) == 1:
        i = at[0]
        return list({r[i]: r for r in rows}.values())
    return list({tuple(r[i] for i in at): r for r in rows}.values())


def upsert(
    cur: Any,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: Sequence[str] = ("id",),
    also: str = "",
    update: Sequence[str] | None = None,
) -> None:
    """Insert ``rows`` (values in ``columns`` order) into ``table``, updating every non-key
    column of a row whose ``key`` exists, or the ``update`` columns only (and applying
    ``also``, e.g. ``"deleted = 0"``); inside the caller's transaction."""
    if not rows:
        return
    cols, keys = tuple(columns), tuple(key)
    conflict = conflict_clause(cols, keys, also, None if update is None else tuple(update))
    copy = getattr(cur, "copy_upsert", None)
    if copy is not None and len(rows) >= COPY_MIN:
        copy(table, cols, conflict, unique(rows, [cols.index(k) for k in keys]))
    else:
        cur.executemany(upsert_sql(table, cols, conflict), rows)
