"""Versioned schema migrations: ``NNNN_name.sql`` files applied in order, each once.

A migration may have a Python step (:data:`STEPS`) that runs after its statements, in the same
transaction: migration 0010 builds the facts of every stored ticket that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """Split the file into statements (no statement here contains a ``;`` in a literal)."""
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in body.split(";") if s.strip()]


def _load() -> tuple[Migration, ...]:
    found = []
    for entry in resources.files(__package__).iterdir():
        m = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return tuple(found)


MIGRATIONS: tuple[Migration, ...] = _load()

#: version -> "module:function" called as ``function(store, cursor, on_progress=callback)``
#: after the statements (``callback(done, total)`` or None: see ``Store.migrate``).
STEPS: dict[int, str] = {
    10: "cstoolkit.store.facts:build_all",
    11: "cstoolkit.store.columns:install",
    13: "cstoolkit.store.knowledge:create_index",
}
