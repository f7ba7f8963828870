"""A first answer from the knowledge base on a ticket an inbound message created.

With ``answer_from_kb = true`` on an ``[inbound.NAME]`` source, the engine's ``on_created`` hook
queues each ticket it creates; :meth:`FirstAnswer.flush` (after a poll; after each webhook
request) then:

1. pulls the source's backend into the store (``cst sync pull``'s incremental pull, under its
   lock), so the new tickets and their first message are there;
2. runs the recipe actions ``kb_handoff`` and ``answer_from_kb`` on exactly those tickets, as
   ``cst triage run --apply`` would (the same planner, ledger and one write path: a planned
   change pushed to the helpdesk, revertible with ``cst triage revert RUN``);
3. when something was written, pulls again: the store then holds the answer as the helpdesk
   does (``cst inbound replies`` delivers it from there on WhatsApp and SMS).

So the rules are the action's, not a copy: once per ticket (the ledger and the ``kb_article``
field), never once an agent has replied, never after the customer asked for a person (then the
ticket is tagged ``kb_handoff`` and no automatic answer follows), in the ticket's language
(the engine gives a new ticket the message's language). The answer is a public reply in the
helpdesk: ``cst inbound replies`` delivers it over WhatsApp or SMS like an agent's reply; a
helpdesk notifies an email requester itself.

A first answer that cannot be tried now (the sync lock is held, the helpdesk is down) is
reported and not retried by the source; the ``first-line`` recipe (``cst triage run``) answers
those tickets later by the same rules.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cstoolkit.errors import CstError
from cstoolkit.inbound_source import InboundMessage

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.inbound.engine import Settings
    from cstoolkit.store import Store

log = logging.getLogger(__name__)

ANSWERED = "answered"
HANDED_OFF = "handed_off"
NOT_ANSWERED = "not_answered"
NOT_TRIED = "not_tried"


@dataclass
class Answer:
    """What the knowledge base did on one new ticket."""

    source: str
    ticket_id: str
    action: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "ticket": self.ticket_id, "action": self.action,
                "detail": self.detail}  # fmt: skip


def recipe_text(settings: Settings) -> str:
    """The recipe the source runs on its new tickets: the knowledge base's two actions with
    the source's floor and handoff words (JSON is YAML, so nothing here needs escaping)."""
    from cstoolkit.knowledge import answer as kb_answer

    words = settings.handoff_words or list(kb_answer.HANDOFF_WORDS)
    floor = settings.answer_min_score
    if floor is None:
        floor = kb_answer.DEFAULT_MIN_SCORE
    recipe = {
        "name": f"inbound-{settings.name}",
        "description": f"First answer from the knowledge base on [inbound.{settings.name}]'s "
        "new tickets.",
        "rules": [
            {"name": "hand off on request", "then": [{"kb_handoff": {"handoff_words": words}}]},
            {
                "name": "answer from the knowledge base",
                "then": [{"answer_from_kb": {"min_score": floor, "handoff_words": words}}],
            },
        ],
    }
    return json.dumps(recipe, ensure_ascii=False, indent=1)


class FirstAnswer:
    """The ``on_created`` hook of a source with ``answer_from_kb`` (see the module)."""

    def __init__(self, config: Config, host: Any, store: Store, settings: Settings) -> None:
        self.config, self.host, self.store, self.settings = config, host, store, settings
        self.queue: list[str] = []

    def __call__(self, message: InboundMessage, ticket_id: str) -> None:
        self.queue.append(ticket_id)

    def flush(self) -> list[Answer]:
        """Answer the queued tickets (see the module); never raises for one ticket's or the
        helpdesk's failure: it is reported."""
        queued, self.queue = list(dict.fromkeys(self.queue)), []
        if not queued:
            return []
        try:
            self._pull()
            return self._answer(queued)
        except Exception as exc:  # the messages are taken: their first answer waits
            if not isinstance(exc, CstError):
                log.exception("inbound.%s: first answer failed", self.settings.name)
            reason = str(exc) if isinstance(exc, CstError) else f"{type(exc).__name__}: {exc}"
            why = f"not tried: {reason} (the first-line recipe answers it later)"
            log.warning("inbound.%s: first answer %s", self.settings.name, why)
            return [Answer(self.settings.name, t, NOT_TRIED, why) for t in queued]

    def _pull(self) -> None:
        from cstoolkit.instances import build_instance
        from cstoolkit.sync import pull

        backend = build_instance(self.config, self.host, "backends", self.settings.backend,
                                 self.store)  # fmt: skip
        pull(self.store, backend)

    def _answer(self, ticket_ids: list[str]) -> list[Answer]:
        from cstoolkit.textfiles import loads_yaml
        from cstoolkit.triage import engine, recipe, runner

        ws = runner.Workspace(self.config, self.host, self.store)
        where = f"[inbound.{self.settings.name}]"
        parsed, problems = recipe.parse(loads_yaml(recipe_text(self.settings), where), ws.env())
        errors = [p for p in problems if p.severity == "error"]
        if parsed is None or errors:
            raise errors[0].error() if errors else CstError(f"{where}: no first-answer recipe")
        items = []
        out: dict[str, Answer] = {}
        for ticket_id in ticket_ids:
            ticket = self.store.get_ticket(ticket_id)
            if ticket is None:
                out[ticket_id] = Answer(self.settings.name, ticket_id, NOT_TRIED,
                                        "not in the store after the pull")  # fmt: skip
                continue
            requester = self.store.person(ticket.requester_id) if ticket.requester_id else None
            items.append((ticket, requester))
        try:
            plan = engine.Planner([parsed], ws.context([parsed])).plan(items)
            report = runner.apply(ws, plan, kind="inbound")
        finally:
            ws.close()
        if report.push is not None and report.push.applied:
            try:  # the store sees the answer as written (cst inbound replies reads it there)
                self._pull()
            except CstError as exc:  # written all the same: the next cst sync pull brings it
                log.warning("inbound.%s: pull after the first answers: %s", self.settings.name, exc)
        failed = {line.split(": ", 1)[0] for line in report.failed}
        for tp in plan.tickets:
            did = [d.split(": ", 1)[-1] for d in tp.done]  # "rule: what the action did"
            action = ANSWERED if any(d.startswith("answer ") for d in did) else HANDED_OFF
            if tp.errors or tp.ticket_id in failed:
                why = "; ".join(tp.errors) or "not applied (see cst sync push)"
                out[tp.ticket_id] = Answer(self.settings.name, tp.ticket_id, NOT_TRIED, why)
            elif did:
                out[tp.ticket_id] = Answer(self.settings.name, tp.ticket_id, action, "; ".join(did))
        for ticket_id in ticket_ids:
            out.setdefault(ticket_id, Answer(self.settings.name, ticket_id, NOT_ANSWERED,
                                             "no article above the floor"))  # fmt: skip
        return [out[t] for t in ticket_ids]


def for_source(config: Config, host: Any, store: Store, settings: Settings) -> FirstAnswer | None:
    """The source's first-answer hook, or None when ``answer_from_kb`` is off."""
    return FirstAnswer(config, host, store, settings) if settings.answer_from_kb else None
