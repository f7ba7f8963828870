"""The knowledge-base actions in a backtest: ``answer_from_kb``, ``kb_handoff`` and
``suggest_articles`` on the tickets a rule matched, in arrival order, decided and counted by the
steps ``cst kb backtest`` uses (:class:`cstoolkit.knowledge.backtest.BacktestResult`), so both
backtests say the same of the same ticket (with ``--after``, the agent replies and requester
messages by the replay instant count too, as the actions read them in a run). Their changes go
into the replay's columns as the actions would make them (the ``kb_answered``/``kb_handoff``
tags, the ``kb_article`` and ``kb_score`` custom fields, the handoff's group); replies and
notes are counted."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from cstoolkit.knowledge import answer as kb_answer
from cstoolkit.knowledge.backtest import BacktestResult
from cstoolkit.triage.backtest.load import freeze

if TYPE_CHECKING:
    import numpy as np

    from cstoolkit.store import Store
    from cstoolkit.triage.backtest.replay import Replay
    from cstoolkit.triage.recipe import ActionCall

_KB_FIELDS = (kb_answer.ARTICLE_FIELD, kb_answer.SCORE_FIELD)


class KbReplay:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._index: Any = None
        #: the tally, once a knowledge-base action ran (None: the recipe has none)
        self.result: BacktestResult | None = None
        #: per row: what the knowledge-base actions did to it
        self.done: dict[int, list[str]] = {}
        self._floor = False

    @property
    def index(self) -> Any:
        if self._index is None:
            from cstoolkit.knowledge.search import Index

            self._index = Index(self.store)
        return self._index

    def apply(
        self, replay: Replay, call: ActionCall, rows: np.ndarray, changed: np.ndarray
    ) -> None:
        import numpy as np

        from cstoolkit.store import facts
        from cstoolkit.timeline.messages import requester_texts
        from cstoolkit.triage import fields as fields_mod

        params = call.params
        if self.result is None:
            self.result = BacktestResult(kb_answer.DEFAULT_MIN_SCORE)
        if call.name == "answer_from_kb" and not self._floor:
            self.result.min_score = params["min_score"]  # the first answer's floor is shown
            self._floor = True
        out = self.result
        cols = replay.data.cols
        for i in np.flatnonzero(rows).tolist():
            ticket, requester = replay.ticket(i)
            tags = list(ticket.tags)
            replies, texts = 0, []
            later = replay.data.at[i] > replay.data.created[i]  # --after: not at the arrival
            if call.name != "suggest_articles" and later:
                # what an agent and the requester had written by the replay instant
                events = replay.events(ticket.id)
                replies = fields_mod.facts(ticket, events).agent_replies
                texts = requester_texts(ticket, events)
            if call.name == "answer_from_kb":
                decision = out.answer(
                    self.index,
                    ticket,
                    requester,
                    min_score=params["min_score"],
                    handoff_words=params["handoff_words"],
                    tags=tags,
                    facts=partial(facts.for_ticket, self.store),
                    agent_replies=replies,
                    texts=texts,
                )
                hit = decision.hit
                if decision.kind != "answer" or hit is None:
                    continue
                custom = {k: v for k, v in ticket.custom_fields.items() if k not in _KB_FIELDS}
                custom.update({_KB_FIELDS[0]: hit.article.id, _KB_FIELDS[1]: hit.score})
                _put(cols["custom"], i, freeze(custom), changed)
                _put(cols["tags"], i, _with(tags, kb_answer.ANSWERED_TAG), changed)
                replay.counted["replies"] += 1
                self.done.setdefault(i, []).append(f"answer {hit.article.id} ({hit.score:.2f})")
            elif call.name == "kb_handoff":
                word = out.handoff(
                    ticket,
                    handoff_words=params["handoff_words"],
                    tags=tags,
                    agent_replies=replies,
                    texts=texts,
                )
                if word is None:
                    continue
                _put(cols["tags"], i, _with(tags, kb_answer.HANDOFF_TAG), changed)
                if params.get("group"):
                    gid = replay.group_id(params["group"], ticket.instance)
                    _put(cols["group"], i, gid, changed)
                self.done.setdefault(i, []).append(f"handoff ({word!r})")
            else:
                hits = out.suggest(
                    self.index,
                    ticket,
                    requester,
                    limit=params["limit"],
                    min_score=params["min_score"],
                )
                if hits:
                    replay.counted["notes"] += 1
                    changed[i] = True
                    ids = ", ".join(h.article.id for h in hits)
                    self.done.setdefault(i, []).append(f"suggest {ids}")


def _with(tags: list[str], tag: str) -> tuple[str, ...]:
    return tuple(tags) if tag in tags else (*tags, tag)


def _put(col: Any, i: int, value: Any, changed: np.ndarray) -> None:
    code = col.code(value)
    if int(col.codes[i]) != code:
        col.codes[i] = code
        changed[i] = True
