"""Two hosts mirroring at once into one store: each run finds the rows it wrote.

Two processes (forked, each with its own connection, as on two hosts) mirror two pairs of
local helpdesks at the same moment through one store (a real PostgreSQL server, and SQLite).
Each plans comment changes; the ids of the rows it planned come from ``RETURNING``, so each
settles exactly its own rows: every comment arrives once, as an internal note, and its ledger
entry points at the planned change of the run that made it.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

from cstoolkit import mirror, push
from cstoolkit.builtin.local import LocalBackend
from cstoolkit.plugin import Changes, Comment
from cstoolkit.store.ledger import DONE, Ledger
from cstoolkit.store.mirror_links import Links
from cstoolkit.sync import pull
from tests.conftest import StoreFactory
from tests.sync.conftest import sample

_ctx = multiprocessing.get_context("fork")
PAIRS = (("desk1", "copy1"), ("desk2", "copy2"))
COMMENTED = 12


def _comments(path: Path) -> list[tuple[str, bool]]:
    """(body, public) of every comment on the latest version of each ticket in ``path``."""
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text("utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("type") == "ticket":
            latest[rec["id"]] = rec
    return [
        (str(e.get("body")), bool(e.get("public")))
        for rec in latest.values()
        for e in rec.get("events") or []
        if e.get("kind") == "comment"
    ]


def _local(root: Path, name: str) -> LocalBackend:
    return LocalBackend(name, {"path": str(root / f"{name}.jsonl")}, None)


def _mirror(stores: StoreFactory, root: Path, pair: tuple[str, str], start: Any, out: Any) -> None:
    store = stores()
    source, target = pair
    start.wait(30)
    summary = mirror.mirror(
        store, source, _local(root, target), apply=True, backend_for=lambda n: _local(root, n)
    )
    store.close()
    out.put((pair, summary.run_id, summary.updated, summary.ok))


def test_two_hosts_mirroring_at_once_each_settle_their_own_rows(
    tmp_path: Path, store_factory: StoreFactory
) -> None:
    store = store_factory()
    bodies: dict[str, list[str]] = {}
    for n, (source, target) in enumerate(PAIRS):
        sample(tmp_path / f"{source}.jsonl", 30, seed=3 + n)
        (tmp_path / f"{target}.jsonl").touch()
        pull(store, _local(tmp_path, source))
        first = mirror.mirror(store, source, _local(tmp_path, target), apply=True)
        assert first.ok and first.created > COMMENTED
        desk = _local(tmp_path, source)
        ids = [t.external_id for t, _ in store.select(instance=source)][:COMMENTED]
        bodies[source] = [f"customer {source} says {i}" for i in ids]
        for ext, body in zip(ids, bodies[source], strict=True):
            desk.apply(ext, Changes(comments=[Comment(body, public=True)]))
        pull(store, _local(tmp_path, source))
    store.close()

    start, out = _ctx.Barrier(2), _ctx.Queue()
    procs = [
        _ctx.Process(target=_mirror, args=(store_factory, tmp_path, pair, start, out))
        for pair in PAIRS
    ]
    for p in procs:
        p.start()
    results = {r[0]: r[1:] for r in (out.get(timeout=120) for _ in procs)}
    for p in procs:
        p.join(30)
        assert p.exitcode == 0, "a mirror run failed (see its traceback above)"

    store = store_factory()
    ledger = Ledger(store, mirror.SCOPE)
    for (source, target), (run_id, updated, ok) in results.items():
        assert ok and updated == COMMENTED, (source, updated)
        rows = {e.id: e for e in push.entries(store, run_id=run_id)}
        assert len(rows) == COMMENTED and all(e.state == push.APPLIED for e in rows.values())
        assert {e.instance for e in rows.values()} == {target}, "only its own target's rows"
        for key in (e.ledger_key for e in rows.values()):
            entry = ledger.get(str(key))
            assert entry is not None and entry.state == DONE, key
            assert rows[int(entry.provider_ref or 0)].ledger_key == key, "settled its own row"
        notes = _comments(tmp_path / f"{target}.jsonl")
        assert Counter(b for b, _ in notes if b in bodies[source]) == Counter(bodies[source])
        assert all(not public for b, public in notes if b in bodies[source]), "internal notes"
        some = next(iter(rows.values())).ticket_id
        assert Links(store).peer(some, source) is not None
    store.close()
