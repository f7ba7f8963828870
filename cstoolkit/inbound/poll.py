"""``cst inbound poll``: read every polled source once and take each message in.

A source yields :class:`~cstoolkit.inbound_source.Polled` items. A parsed message is taken by
the engine (once: the ledger) and only then marked done at the source; a message that cannot be
parsed is flagged at the source (left there, never deleted) and listed in the store's
``inbound_problems`` for status and doctor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstoolkit.inbound import first_answer, replies
from cstoolkit.inbound.engine import FAILED, Outcome, Receiver, build_source, chain
from cstoolkit.inbound_source import POLL
from cstoolkit.store import inbound as db

if TYPE_CHECKING:
    from cstoolkit.config import Config
    from cstoolkit.store import Store


@dataclass
class PollReport:
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: first answers from the knowledge base on the tickets created (``answer_from_kb``)
    answers: list[first_answer.Answer] = field(default_factory=list)


def poll_sources(
    config: Config, host: Any, store: Store, names: list[str] | None = None
) -> PollReport:
    report = PollReport()
    chosen = names if names is not None else list(config.instances("inbound"))
    for name in chosen:
        config.instance("inbound", name)
        source = build_source(config, host, name, store)
        if source.mode != POLL:
            source.close()
            if names is not None:
                report.problems.append(f"inbound.{name}: a webhook source (use cst inbound serve)")
            continue
        receiver = Receiver(config, host, store, name)
        first = first_answer.for_source(config, host, store, receiver.settings)
        receiver.on_created = chain(
            replies.acknowledger(config, host, store, receiver.settings), first
        )
        try:
            report.outcomes.extend(receiver.recover())
            for item in source.poll():
                if item.message is None:
                    item.unparsable(item.problem)
                    db.add_problem(store, name, item.ref, item.problem)
                    report.problems.append(
                        f"inbound.{name}: {item.ref} left in the mailbox, flagged: {item.problem}"
                    )
                    continue
                outcome = receiver.receive(item.message)
                report.outcomes.append(outcome)
                if outcome.action != FAILED:
                    item.done()
                    db.clear_problem(store, name, item.ref)
            if first is not None:
                report.answers.extend(first.flush())
        finally:
            source.close()
            receiver.close()
    return report
