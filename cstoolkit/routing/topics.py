"""The routing model's predicted tags as the topics of the knowledge-gaps table
(:mod:`cstoolkit.knowledge.gaps`; docs/knowledge.md, "Knowledge gaps").

:func:`gap_topics` turns ``--topics auto|tags|model`` into the function the table takes, with a
one-line note when the model's topics were asked for (or would be used) but cannot be: the
``[ml]`` extra is not installed, no model was trained, or the model predicts no tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cstoolkit.errors import UsageError
from cstoolkit.knowledge.gaps import TOPIC_SOURCES, GapRequest, Topics
from cstoolkit.routing import learn, modelfile

if TYPE_CHECKING:
    from cstoolkit.model import Person, Ticket

__all__ = ["gap_topics", "predicted_tags"]


def predicted_tags(
    directory: Path, name: str = modelfile.DEFAULT_NAME
) -> tuple[Topics | None, str | None]:
    """The model's predicted tags as topics, or ``None`` and why not (one line)."""
    _, meta_path = modelfile.paths(directory, name)
    if not meta_path.exists():
        return None, f"no routing model in {directory} (cst model train)"
    try:
        learn.require_sklearn()
        from cstoolkit.routing.service import Predictor

        predictor = Predictor(directory, name)
        if "tags" not in predictor.bundle["models"]:
            return None, "the routing model predicts no topic tags (too few tagged tickets)"
    except UsageError as exc:
        return None, str(exc)

    def topics(pairs: Sequence[tuple[Ticket, Person | None]]) -> list[list[str]]:
        predictor.many(pairs)
        return [list(predictor(t, r).get("predicted.tags") or []) for t, r in pairs]

    return topics, None


def gap_topics(source: str, directory: Path) -> GapRequest:
    """What ``--topics SOURCE`` (:data:`TOPIC_SOURCES`) asks the gaps table for: ``auto``
    takes the model's predicted tags for tickets without tags when a model exists; ``model``
    takes them for every ticket; without a usable model both fall back to the tags, with a
    note saying why."""
    if source not in TOPIC_SOURCES:
        raise UsageError(f"--topics must be one of {', '.join(TOPIC_SOURCES)}, not {source!r}")
    if source == "tags":
        return GapRequest()
    predicted, why = predicted_tags(directory)
    if predicted is None:
        return GapRequest(note=f"knowledge gaps: topics from tags only: {why}")
    if source == "model":
        return GapRequest(predicted=predicted, every_ticket=True, source="model")
    return GapRequest(predicted=predicted, source="tags, else model")
