"""Training labels: what people finally decided, never what cst wrote.

For each live ticket: the **group** and **priority** it has now, unless its last value was
cst's own write (:func:`cstoolkit.timeline.decisions.decided_by_cst`, from the audit log of
pushes): such a ticket is **left out** of that target's training and evaluation (not weighted
down: a recipe's decision is exactly what the model must not learn back). A value a recipe set
and a person later changed is the person's. The **topic tags** are the ticket's tags among the
team's frequent ones (:data:`MIN_TAG_SHARE` of the tickets, at most :data:`MAX_TAGS`), and the
**language** the ticket's language. Tags are taken as they are: a tag a recipe added is not
told apart (docs/routing.md says so; a team whose recipes tag topics should exclude those tags
with ``--exclude-tag``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cstoolkit.store import routing as db
from cstoolkit.timeline import EventRow
from cstoolkit.timeline.decisions import DECISION_KINDS, decided_by_cst, last_setters

if TYPE_CHECKING:
    from cstoolkit.store import Store

TARGETS = ("group", "priority", "tags", "language")
MIN_TAG_SHARE = 0.01
MIN_TAG_COUNT = 5
MAX_TAGS = 40


@dataclass(slots=True)
class Labelled:
    """The examples and, per target, each example's label (None: not a training label)."""

    examples: list[db.Example]
    group: list[str | None]
    priority: list[str | None]
    language: list[str | None]
    tags: list[list[str]]
    left_out: dict[str, int]


def label(
    examples: Sequence[db.Example],
    decisions: Mapping[str, Sequence[EventRow]],
    writes: dict[str, dict[str, list[tuple[int, str | None]]]],
) -> Labelled:
    """Labels of ``examples`` from their decision events and cst's writes (see the module)."""
    group: list[str | None] = []
    priority: list[str | None] = []
    left_out = {"group": 0, "priority": 0}
    for ex in examples:
        last = last_setters(decisions.get(ex.id, ()))
        mine = writes.get(ex.id, {})
        if ex.group is not None and not decided_by_cst(last.group, mine.get("group_id", [])):
            group.append(ex.group)
        else:
            group.append(None)
            left_out["group"] += ex.group is not None
        if decided_by_cst(last.priority, mine.get("priority", [])):
            priority.append(None)
            left_out["priority"] += 1
        else:
            priority.append(ex.priority)
    return Labelled(
        examples=list(examples),
        group=group,
        priority=priority,
        language=[ex.language or None for ex in examples],
        tags=[list(ex.tags) for ex in examples],
        left_out=left_out,
    )


def topic_tags(tags: Sequence[Sequence[str]], exclude: Sequence[str] = ()) -> list[str]:
    """The tags a team uses as topics: frequent enough, most frequent first."""
    counts = Counter(t for ts in tags for t in set(ts) if t not in exclude)
    floor = max(MIN_TAG_COUNT, int(MIN_TAG_SHARE * len(tags)))
    return [t for t, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if n >= floor][
        :MAX_TAGS
    ]


def load(store: Store, examples: Sequence[db.Example]) -> Labelled:
    """Label ``examples`` with what the store knows (events and the audit log)."""
    return label(examples, db.decision_rows(store, DECISION_KINDS), db.cst_writes(store))
