"""The learned-routing workflow the commands call: train, evaluate, predict, explain, status.

Evaluation is time-ordered: the tickets are sorted by creation, the model is trained on the
older ``1 - test_share`` and tested on the newer rest, never the reverse. The same test tickets
are scored for two baselines: the **majority class** of the training part, and **what the
current recipes decided** (each test ticket planned as it arrived, status new with no group, by
the recipes given; where they decide nothing the ticket stays in the majority class, as it would
in the desk's default queue).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import UsageError
from cstoolkit.model import Channel, Person, Priority, Role, Status, Ticket, now
from cstoolkit.routing import learn, metrics, modelfile
from cstoolkit.routing.labels import Labelled, load, topic_tags
from cstoolkit.store import routing as db
from cstoolkit.timespec import parse_time

if TYPE_CHECKING:
    from cstoolkit.store import Store

#: tags never taken as topics: languages and the markers cst's sample and recipes use
DEFAULT_EXCLUDED_TAGS = ("es", "en", "pt", "vip", "escalated")
MIN_TICKETS = 20
RecipeDecider = Callable[[Sequence[db.Example]], list[dict[str, Any]]]


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def data_hash(lab: Labelled) -> str:
    """SHA-256 of what the model learns from: each ticket's id, text and labels, in order."""
    h = hashlib.sha256()
    for i, ex in enumerate(lab.examples):
        for part in (ex.id, ex.subject, ex.description, lab.group[i], lab.priority[i]):
            h.update((part or "").encode())
            h.update(b"\0")
    return h.hexdigest()


def _labels(lab: Labelled, rows: Sequence[int]) -> dict[str, list[Any]]:
    return {
        "group": [lab.group[i] for i in rows],
        "priority": [lab.priority[i] for i in rows],
        "language": [lab.language[i] for i in rows],
        "tags": [lab.tags[i] for i in rows],
    }


def _load(
    store: Store, since: datetime | None, until: datetime | None
) -> tuple[Labelled, list[str]]:
    exs = db.examples(store, since, until)
    if len(exs) < MIN_TICKETS:
        raise UsageError(f"only {len(exs)} tickets to learn from (at least {MIN_TICKETS})")
    lab = load(store, exs)
    return lab, []


def _fit(lab: Labelled, rows: Sequence[int], kind: str, exclude: Sequence[str]) -> dict[str, Any]:
    labels = _labels(lab, rows)
    tags = topic_tags(labels["tags"], exclude)
    return learn.fit([lab.examples[i] for i in rows], labels, tags, kind)


def train(
    store: Store,
    directory: Path,
    *,
    name: str = modelfile.DEFAULT_NAME,
    since: datetime | None = None,
    until: datetime | None = None,
    kind: str = "calibrated",
    exclude_tags: Sequence[str] = DEFAULT_EXCLUDED_TAGS,
    validation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on every labelled ticket, write the model and its metadata, record it in the
    store (its tickets, for privacy erasure); return the metadata."""
    import time

    learn.require_sklearn()
    lab, _ = _load(store, since, until)
    started = time.perf_counter()
    bundle = _fit(lab, range(len(lab.examples)), kind, exclude_tags)
    seconds = time.perf_counter() - started
    exs = lab.examples
    trained_at = now()
    meta: dict[str, Any] = {
        "name": name,
        "trained_at": trained_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "from": _iso(exs[0].created),
            "to": _iso(exs[-1].created),
            "tickets": len(exs),
            "hash": data_hash(lab),
            "left_out_cst_decided": lab.left_out,
        },
        "classes": {
            "group": dict(Counter(g for g in lab.group if g is not None)),
            "priority": dict(Counter(p for p in lab.priority if p is not None)),
            "language": dict(Counter(x for x in lab.language if x is not None)),
            "tags": dict(Counter(t for ts in lab.tags for t in ts if t in bundle["tags"])),
        },
        "targets": sorted(bundle["models"]),
        "classifier": kind,
        "features": learn.FEATURE_SET,
        "excluded_tags": list(exclude_tags),
        "train_seconds": round(seconds, 2),
        "metrics": validation or {},
    }
    path = modelfile.save(bundle, meta, directory, name)
    db.record_model(store, name, str(path), meta["data"]["hash"], trained_at, (e.id for e in exs))
    return modelfile.read_meta(directory, name)


def evaluate(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    test_share: float = 0.2,
    kind: str = "calibrated",
    exclude_tags: Sequence[str] = DEFAULT_EXCLUDED_TAGS,
    recipes: RecipeDecider | None = None,
    floors: Sequence[float] = metrics.FLOORS,
) -> dict[str, Any]:
    """Time-ordered validation of the model and the two baselines (see the module)."""
    learn.require_sklearn()
    if not 0.0 < test_share < 1.0:
        raise UsageError(f"--test-share must be between 0 and 1 (got {test_share})")
    lab, _ = _load(store, since, until)
    n = len(lab.examples)
    cut = int(n * (1 - test_share))
    if cut < MIN_TICKETS // 2 or n - cut < 1:
        raise UsageError(f"{n} tickets are too few to split by time")
    train_rows, test_rows = range(cut), range(cut, n)
    bundle = _fit(lab, train_rows, kind, exclude_tags)
    test = [lab.examples[i] for i in test_rows]
    preds = learn.predict(bundle, test)
    decided = recipes(test) if recipes is not None else None
    out: dict[str, Any] = {
        "split": {
            "train": {
                "tickets": cut,
                "from": _iso(lab.examples[0].created),
                "to": _iso(lab.examples[cut - 1].created),
            },
            "test": {
                "tickets": n - cut,
                "from": _iso(lab.examples[cut].created),
                "to": _iso(lab.examples[-1].created),
            },
        },
        "classifier": kind,
        "targets": {},
    }
    for target in ("group", "priority", "language"):
        ys: list[Any] = getattr(lab, target)
        rows = [i for i in test_rows if ys[i] is not None]
        if not rows or target not in bundle["models"]:
            continue
        truth = [ys[i] for i in rows]
        pick = [i - cut for i in rows]
        model = metrics.report(
            truth,
            [preds[j].get(f"predicted.{target}") for j in pick],
            [preds[j].get(f"predicted.{target}.confidence", 0.0) for j in pick],
            floors,
        )
        majority = metrics.majority([ys[i] for i in train_rows if ys[i] is not None])
        entry: dict[str, Any] = {
            "model": model.as_dict(),
            "majority": dict(
                metrics.report(truth, [majority] * len(truth)).as_dict(), label=majority
            ),
        }
        if decided is not None and target in ("group", "priority"):
            rec = [decided[j].get(target) or majority for j in pick]
            entry["recipes"] = metrics.report(truth, rec).as_dict()
        best = max(entry["majority"]["macro_f1"], entry.get("recipes", {}).get("macro_f1", 0.0))
        entry["gain_over_best_baseline"] = round(model.macro_f1 - best, 4)
        out["targets"][target] = entry
    if "tags" in bundle["models"]:
        tagset = set(bundle["tags"])
        out["targets"]["tags"] = {
            "model": metrics.set_report(
                [[t for t in lab.tags[i] if t in tagset] for i in test_rows],
                [p.get("predicted.tags", []) for p in preds],
            ).as_dict()
        }
    return out


# -- prediction --------------------------------------------------------------------------------


def example_of(ticket: Ticket, requester: Person | None) -> db.Example:
    return db.Example(
        id=ticket.id,
        instance=ticket.instance,
        created=int(ticket.created_at.timestamp()),
        subject=ticket.subject or "",
        description=ticket.description or "",
        channel=ticket.channel.value,
        language=ticket.language,
        group=ticket.group_id,
        priority=ticket.priority.value,
        tags=list(ticket.tags),
        custom_fields=dict(ticket.custom_fields),
        organization=requester.organization if requester else None,
        plan=requester.plan if requester else None,
        requester_id=ticket.requester_id,
    )


class Predictor:
    """The workspace's model, verified and loaded on first use, predicting per ticket (cached
    by ticket id and text). Commands create one whenever a model exists; a run whose recipes
    never ask for a prediction never loads it."""

    def __init__(self, directory: Path, name: str = modelfile.DEFAULT_NAME) -> None:
        self.directory = directory
        self.name = name
        self._bundle: dict[str, Any] | None = None
        self.meta: dict[str, Any] = {}
        self._cache: dict[tuple[str, str, str], dict[str, Any]] = {}
        #: the latest prediction of each ticket (what a command shows beside its decisions)
        self.last: dict[str, dict[str, Any]] = {}

    @property
    def bundle(self) -> dict[str, Any]:
        if self._bundle is None:
            learn.require_sklearn()
            self._bundle, self.meta = modelfile.load(self.directory, self.name)
        return self._bundle

    def __call__(self, ticket: Ticket, requester: Person | None) -> dict[str, Any]:
        key = (ticket.id, ticket.subject or "", ticket.description or "")
        got = self._cache.get(key)
        if got is None:
            got = learn.predict(self.bundle, [example_of(ticket, requester)])[0]
            self._cache[key] = got
        self.last[ticket.id] = got
        return got

    def describe(self, ticket_id: str) -> str:
        """``group demo:billing 0.93, priority high 0.61`` for a ticket predicted in this run."""
        got = self.last.get(ticket_id)
        if not got:
            return ""
        parts = []
        for target in ("group", "priority", "tags", "language"):
            value = got.get(f"predicted.{target}")
            if value is None:
                continue
            shown = ",".join(value) if isinstance(value, list) else value
            parts.append(f"{target} {shown or '-'} {got[f'predicted.{target}.confidence']:.2f}")
        return ", ".join(parts)

    def many(self, items: Sequence[tuple[Ticket, Person | None]]) -> None:
        """Predict many tickets at once (one matrix: much faster) into the cache."""
        todo = [
            (t, r)
            for t, r in items
            if (t.id, t.subject or "", t.description or "") not in self._cache
        ]
        for start in range(0, len(todo), 2000):
            chunk = todo[start : start + 2000]
            preds = learn.predict(self.bundle, [example_of(t, r) for t, r in chunk])
            for (t, _), p in zip(chunk, preds, strict=True):
                self._cache[(t.id, t.subject or "", t.description or "")] = p
                self.last[t.id] = p


def explain(
    store: Store, directory: Path, ticket_id: str, target: str = "group", top: int = 10
) -> dict[str, Any]:
    learn.require_sklearn()
    exs = db.examples_by_id(store, [ticket_id])
    if not exs:
        raise UsageError(f"unknown ticket {ticket_id!r}")
    bundle, _ = modelfile.load(directory)
    return dict(learn.explain(bundle, exs[0], target, top), ticket=ticket_id)


def status(
    store: Store, directory: Path, name: str = modelfile.DEFAULT_NAME, weeks: int = 4
) -> dict[str, Any]:
    """The model's age, whether it must be retrained, and the last weeks' accuracy (tickets
    created since ``weeks`` ago, or since training if later) against its validation figures."""
    meta = modelfile.read_meta(directory, name)
    record = db.model_record(store, name)
    trained = parse_time(meta["trained_at"], relative=False)
    current = now()
    out: dict[str, Any] = {
        "name": name,
        "trained_at": meta["trained_at"],
        "age_days": round((current - trained).total_seconds() / 86400, 1),
        "tickets": meta["data"]["tickets"],
        "data_to": meta["data"]["to"],
        "retrain": record.stale_reason if record is not None else "not recorded in this store",
        "validation": {
            t: v["model"]["accuracy"] for t, v in meta.get("metrics", {}).get("targets", {}).items()
        },
        "recent": {},
    }
    learn.require_sklearn()
    from datetime import timedelta

    since = current - timedelta(weeks=weeks)
    exs = db.examples(store, since)
    if exs:
        lab = load(store, exs)
        bundle, _ = modelfile.load(directory, name)
        preds = learn.predict(bundle, exs)
        for target in ("group", "priority", "language"):
            ys = getattr(lab, target)
            pairs = [
                (y, p.get(f"predicted.{target}"))
                for y, p in zip(ys, preds, strict=True)
                if y is not None and f"predicted.{target}" in p
            ]
            if pairs:
                out["recent"][target] = {
                    "tickets": len(pairs),
                    "accuracy": round(sum(y == p for y, p in pairs) / len(pairs), 4),
                }
    out["weeks"] = weeks
    return out


def recipe_decider(plan: Callable[[Ticket, Person | None], dict[str, Any]]) -> RecipeDecider:
    """A baseline from a planning function: each example as it arrived (status new, no group,
    normal priority, no tags) -> the group and priority the recipes set (None: no decision)."""

    def decide(exs: Sequence[db.Example]) -> list[dict[str, Any]]:
        out = []
        for ex in exs:
            at = datetime.fromtimestamp(ex.created, UTC)
            ticket = Ticket(
                id=ex.id,
                instance=ex.instance,
                external_id=ex.id.partition(":")[2],
                subject=ex.subject,
                description=ex.description,
                status=Status.NEW,
                created_at=at,
                updated_at=at,
                priority=Priority.NORMAL,
                language=ex.language,
                custom_fields=dict(ex.custom_fields),
                requester_id=ex.requester_id,
            )
            try:
                ticket = replace(ticket, channel=Channel(ex.channel))
            except ValueError:
                pass
            person = None
            if ex.requester_id is not None:
                person = Person(
                    id=ex.requester_id,
                    instance=ex.instance,
                    external_id="",
                    role=Role.REQUESTER,
                    organization=ex.organization,
                    plan=ex.plan,
                )
            after = plan(ticket, person)
            out.append(
                {
                    "group": after.get("group_id"),
                    "priority": after.get("priority")
                    if after.get("priority") != Priority.NORMAL.value
                    else None,
                }
            )
        return out

    return decide
