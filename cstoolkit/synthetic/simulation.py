"""The simulation of one ticket's life: routing, replies, notes, pending and on-hold periods,
escalations, reopenings and automatic closing, cut off at the end of the period, as the local
backend's JSON record.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cstoolkit.model import Channel, EventKind, Role, Status
from cstoolkit.synthetic.desk import (
    Agent,
    Cutoff,
    Requester,
    Roster,
    Timestamps,
    advance_business,
    pick,
)
from cstoolkit.synthetic.text import rewrite
from cstoolkit.synthetic.vocabulary import (
    AGENT_FOLLOW_UPS,
    AUTO_SOLVE_AFTER,
    CHANNELS,
    CLOSE_AFTER,
    CURRENCY,
    CUSTOMER_FOLLOW_UPS,
    CUSTOMER_REPLY,
    DAY,
    ESCALATE_TO,
    ESCALATION_NOTES,
    FIRST_REPLIES,
    FIRST_REPLY,
    HOUR,
    LIVE_CHANNELS,
    NEXT_REPLY,
    NORMAL,
    NOTES,
    ON_HOLD_REPLIES,
    P_AUTO_SOLVE,
    P_ESCALATE,
    P_INTERNAL_NOTE,
    P_ON_HOLD,
    P_PENDING_AFTER_REPLY,
    P_PRIORITY_TWEAK,
    P_REOPEN,
    PRIORITIES,
    PRIORITY_ORDER,
    PRIORITY_SPEED,
    REOPENINGS,
    ROUNDS_ASYNC,
    ROUNDS_LIVE,
    ROUTING,
    TEMPLATES,
    TOPIC_GROUP,
    TOPIC_PRODUCTS,
    TOPICS,
    URGENT,
)

# -- one ticket --------------------------------------------------------------------------------

# Plain-string forms of the model's enums, used in the hot loop (cheaper than enum members).
NEW, OPEN, PENDING, ON_HOLD, SOLVED, CLOSED = (
    s.value
    for s in (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED)
)
REQUESTER, AGENT, SYSTEM = Role.REQUESTER.value, Role.AGENT.value, Role.SYSTEM.value
CREATED, COMMENT = EventKind.CREATED.value, EventKind.COMMENT.value
STATUS_CHANGE, PRIORITY_CHANGE = EventKind.STATUS_CHANGE.value, EventKind.PRIORITY_CHANGE.value
ASSIGNMENT, GROUP_CHANGE = EventKind.ASSIGNMENT.value, EventKind.GROUP_CHANGE.value
TAGS_CHANGE = EventKind.TAGS_CHANGE.value


class Ticket:
    """The state of one ticket while its history is simulated.

    Every event's time goes through :meth:`_at`, which raises :class:`Cutoff` instead of recording
    an event after the end of the period; the fields therefore always describe the ticket as of
    its last recorded event.
    """

    __slots__ = ("assignee", "end", "events", "group", "iso", "priority", "solved_at", "status",
                 "t", "tags", "tid")  # fmt: skip

    def __init__(self, tid: str, created: int, end: int, iso: Timestamps) -> None:
        self.tid = tid
        self.end = end
        self.iso = iso
        self.t = created  # time of the last event: events never go back in time
        self.events: list[dict[str, Any]] = []
        self.status = NEW
        self.assignee: Agent | None = None
        self.group = ""
        self.priority = NORMAL
        self.tags: list[str] = []
        self.solved_at: int | None = None

    @property
    def owner(self) -> str | None:
        return self.assignee.id if self.assignee else None

    def _at(self, at: int) -> int:
        """The time of the next event: never before the last one, never after the end."""
        at = max(at, self.t)
        if at > self.end:
            raise Cutoff
        self.t = at
        return at

    def message(
        self, at: int, author: str | None, role: str, body: str, public: bool, kind: str = COMMENT
    ) -> None:
        at = self._at(at)
        self.events.append(
            {
                "id": f"{self.tid}-{len(self.events) + 1}",
                "kind": kind,
                "at": self.iso(at),
                "author": author,
                "role": role,
                "public": public,
                "body": body,
            }
        )

    def change(
        self, at: int, kind: str, author: str | None, role: str, old: str | None, new: str
    ) -> None:
        at = self._at(at)
        self.events.append(
            {
                "id": f"{self.tid}-{len(self.events) + 1}",
                "kind": kind,
                "at": self.iso(at),
                "author": author,
                "role": role,
                "old": old,
                "new": new,
            }
        )

    def set_status(self, at: int, new: str, author: str | None, role: str) -> None:
        if new != self.status:
            self.change(at, STATUS_CHANGE, author, role, self.status, new)
            self.status = new
            if new == SOLVED:
                self.solved_at = self.t

    def assign(self, at: int, agent: Agent, author: str | None, role: str) -> None:
        self.change(at, ASSIGNMENT, author, role, self.owner, agent.id)
        self.assignee = agent


@dataclass(frozen=True, slots=True)
class Context:
    """What a ticket's simulation needs to know beyond its own dice."""

    rng: random.Random
    roster: Roster
    end: int
    iso: Timestamps
    surveys: random.Random | None = None  # SampleSpec.survey_answers: the answers' own stream
    text: random.Random | None = None  # SampleSpec.realistic_text: the first messages' own stream


def speed(channel: str) -> str:
    if channel in LIVE_CHANNELS:
        return "live"
    return "whatsapp" if channel == Channel.WHATSAPP.value else "async"


def lognormal(rng: random.Random, median: float, sigma: float = 1.0) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def choice(rng: random.Random, options: Sequence[str]) -> str:
    # Not rng.choice: this keeps to rng.random(), whose output is stable across Python versions.
    return options[int(rng.random() * len(options))]


def order_details(rng: random.Random, lang: str) -> dict[str, str]:
    """Values for a template's ``{order}``, ``{invoice}`` and ``{amount}``, in local format."""
    cents = int(rng.random() * 30000) + 990
    amount = f"{cents // 100}.{cents % 100:02d}"
    if lang != "en":
        amount = amount.replace(".", ",")
    return {
        "order": f"#{100000 + int(rng.random() * 900000)}",
        "invoice": f"F-{2020 + int(rng.random() * 7)}-{int(rng.random() * 99999):05d}",
        "amount": CURRENCY[lang].format(amount),
    }


class Simulation:
    """Plays out one ticket's life: routing, replies, back-and-forth, notes, holds,
    escalation, solving, reopening and closing. Stops (via Cutoff) at the end of the period."""

    def __init__(
        self, ctx: Context, tk: Ticket, req: Requester, channel: str, correct_to: str | None = None
    ) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.tk = tk
        self.req = req
        self.lang = req.language
        self.speed = speed(channel)
        self.correct_to = correct_to  # the group an agent moves a misrouted ticket to

    def run(self, topic: str) -> None:
        rng, tk = self.rng, self.tk
        self.route()
        at = self.agent_delay(FIRST_REPLY)
        if rng.random() < P_PRIORITY_TWEAK:
            self.tweak_priority(at)
        self.agent_reply(at, FIRST_REPLIES[self.lang][topic].format(name=self.req.first_name))
        if self.correct_to is not None:
            self.correct_group()
        rounds = pick(ROUNDS_LIVE if self.speed == "live" else ROUNDS_ASYNC, rng.random())
        note_at = self.some_round(rounds, P_INTERNAL_NOTE)
        hold_at = self.some_round(rounds, P_ON_HOLD)
        escalate_at = self.some_round(rounds, P_ESCALATE)
        for r in range(rounds + 1):
            if r == note_at:
                self.internal_note()
            if r == escalate_at:
                self.escalate()
            if r == hold_at:
                self.hold()
            if r < rounds:
                self.exchange()
        self.solve()
        if rng.random() < P_REOPEN:
            self.reopen()
        solved_at = tk.solved_at if tk.solved_at is not None else tk.t
        tk.set_status(solved_at + CLOSE_AFTER, CLOSED, None, SYSTEM)

    def correct_group(self) -> None:
        """The assignee sees the trigger routed the ticket to the wrong group and moves it."""
        tk, new = self.tk, self.correct_to
        assert new is not None and self.ctx.text is not None
        at = tk.t + 60 + int(self.ctx.text.random() * 600)
        tk.change(at, GROUP_CHANGE, tk.owner, AGENT, tk.group, new)
        tk.group = new

    def some_round(self, rounds: int, probability: float) -> int:
        """With ``probability``, a round in ``0..rounds`` for something to happen in; else -1."""
        if self.rng.random() < probability:
            return int(self.rng.random() * (rounds + 1))
        return -1

    def agent_delay(self, medians: dict[str, int]) -> int:
        """When the assignee next answers: a log-normal delay in business time from now."""
        factor = PRIORITY_SPEED[self.tk.priority] * (0.7 if self.req.plan == "enterprise" else 1)
        delay = lognormal(self.rng, medians[self.speed] * factor, 0.9)
        return advance_business(self.tk.t, delay)

    def agent_reply(self, at: int, text: str) -> None:
        self.tk.message(at, self.tk.owner, AGENT, text, True)

    def follow_up(self) -> None:
        """The assignee answers again after a (business-time) delay."""
        text = choice(self.rng, AGENT_FOLLOW_UPS[self.lang]).format(name=self.req.first_name)
        self.agent_reply(self.agent_delay(NEXT_REPLY), text)

    def customer_writes(self, texts: Sequence[str], delay: float) -> None:
        """The requester writes after ``delay`` wall-clock seconds; the ticket (re)opens."""
        at = self.tk.t + int(delay)
        self.tk.message(at, self.req.id, REQUESTER, choice(self.rng, texts), True)
        self.tk.set_status(at, OPEN, None, SYSTEM)

    def route(self) -> None:
        """Triggers assign the ticket to an agent of its group, and it opens."""
        tk = self.tk
        at = advance_business(tk.t, lognormal(self.rng, ROUTING[self.speed], 0.8))
        tk.assign(at, self.ctx.roster.pick(self.rng, tk.group, self.lang, at), None, SYSTEM)
        tk.set_status(at, OPEN, None, SYSTEM)

    def tweak_priority(self, at: int) -> None:
        """The agent moves the priority one step (up, or down half the time when it can)."""
        tk = self.tk
        rank = PRIORITY_ORDER.index(tk.priority)
        rank = rank + 1 if rank == 0 or (rank < 3 and self.rng.random() < 0.5) else rank - 1
        new = PRIORITY_ORDER[rank]
        tk.change(at, PRIORITY_CHANGE, tk.owner, AGENT, tk.priority, new)
        tk.priority = new

    def exchange(self) -> None:
        """One round of back-and-forth: maybe pending, the customer writes, the agent answers."""
        if self.rng.random() < P_PENDING_AFTER_REPLY:
            self.tk.set_status(self.tk.t, PENDING, self.tk.owner, AGENT)
        delay = lognormal(self.rng, CUSTOMER_REPLY[self.speed], 1.1)
        self.customer_writes(CUSTOMER_FOLLOW_UPS[self.lang], delay)
        self.follow_up()

    def internal_note(self) -> None:
        tk = self.tk
        at = tk.t + int(lognormal(self.rng, 15 * 60, 0.8))
        tk.message(at, tk.owner, AGENT, choice(self.rng, NOTES[self.lang]), False)

    def hold(self) -> None:
        """Waiting on a third party: on hold for about a day, then an update and an answer."""
        tk = self.tk
        tk.set_status(tk.t, ON_HOLD, tk.owner, AGENT)
        back = tk.t + int(lognormal(self.rng, DAY, 0.7))
        tk.set_status(back, OPEN, tk.owner, AGENT)
        self.agent_reply(back, ON_HOLD_REPLIES[self.lang])
        self.follow_up()

    def escalate(self) -> None:
        """Move up a tier: a note, the group and the assignee change, a tag, maybe urgency."""
        tk, rng = self.tk, self.rng
        new_group = ESCALATE_TO.get(tk.group, "escalations")
        by = tk.owner
        at = tk.t + int(lognormal(rng, 20 * 60, 0.8))
        tk.message(at, by, AGENT, ESCALATION_NOTES[self.lang].format(group=new_group), False)
        tk.change(at, GROUP_CHANGE, by, AGENT, tk.group, new_group)
        tk.group = new_group
        tk.assign(at, self.ctx.roster.pick(rng, new_group, self.lang, at), by, AGENT)
        tags = [*tk.tags, "escalated"]
        tk.change(at, TAGS_CHANGE, by, AGENT, " ".join(tk.tags), " ".join(tags))
        tk.tags = tags
        if tk.priority != URGENT and rng.random() < 0.5:
            self.tweak_priority(at)
        self.follow_up()

    def solve(self) -> None:
        """Usually the agent solves with the last answer; sometimes the customer goes silent
        and the pending ticket is solved by the system a few days later."""
        tk = self.tk
        if self.speed != "live" and self.rng.random() < P_AUTO_SOLVE:
            tk.set_status(tk.t, PENDING, tk.owner, AGENT)
            tk.set_status(tk.t + AUTO_SOLVE_AFTER, SOLVED, None, SYSTEM)
        else:
            tk.set_status(tk.t + int(self.rng.random() * 120), SOLVED, tk.owner, AGENT)

    def reopen(self) -> None:
        """The customer writes back before the ticket closes; the agent answers and re-solves."""
        # Reopening is only possible while solved, so the delay stays under the closing delay.
        delay = min(lognormal(self.rng, 18 * HOUR, 0.9), CLOSE_AFTER - 2 * HOUR)
        self.customer_writes(REOPENINGS[self.lang], delay)
        self.follow_up()
        self.tk.set_status(self.tk.t, SOLVED, self.tk.owner, AGENT)


def ticket_record(ctx: Context, tid: str, created: int, req: Requester) -> dict[str, Any]:
    """Simulate one ticket and return its ``ticket`` line."""
    rng = ctx.rng
    topic = pick(TOPICS, rng.random())
    templates = TEMPLATES[req.language][topic]
    tag, subject, description = templates[int(rng.random() * len(templates))]
    details = order_details(rng, req.language)  # the same order number in subject and description
    subject, description = subject.format(**details), description.format(**details)
    channel = pick(CHANNELS, rng.random())
    product = choice(rng, TOPIC_PRODUCTS[topic])

    tk = Ticket(tid, created, ctx.end, ctx.iso)
    tk.group = TOPIC_GROUP[topic]
    tk.priority = pick(PRIORITIES[req.plan], rng.random())
    correct_to: str | None = None
    if ctx.text is not None:
        msg = rewrite(ctx.text, req.language, topic, subject, description)
        subject, description = msg.subject, msg.description
        tk.group = msg.routed or msg.group
        correct_to = msg.group if msg.routed else None
    tk.tags = [topic, tag, req.language]
    if req.plan == "enterprise":
        tk.tags.append("vip")
    tk.message(created, req.id, REQUESTER, description, True, kind=CREATED)
    with contextlib.suppress(Cutoff):
        Simulation(ctx, tk, req, channel, correct_to).run(topic)
    if ctx.surveys is not None:
        survey_answers(ctx.surveys, tk, req, ctx.end, ctx.iso)

    resolved = tk.status in (SOLVED, CLOSED) and tk.solved_at is not None
    return {
        "type": "ticket",
        "id": tid,
        "subject": subject,
        "description": description,
        "status": tk.status,
        "priority": tk.priority,
        "channel": channel,
        "requester": req.id,
        "assignee": tk.owner,
        "group": tk.group,
        "tags": tk.tags,
        "created_at": tk.events[0]["at"],
        "updated_at": tk.events[-1]["at"],
        "solved_at": ctx.iso(tk.solved_at) if resolved and tk.solved_at is not None else None,
        "language": req.language,
        "custom_fields": {"product": product},
        "events": tk.events,
    }


# -- survey answers (SampleSpec.survey_answers) ------------------------------------------------

SURVEY_DELAY = 24 * HOUR  # the survey goes out a day after the solve, as quickstart's does
P_CSAT_ANSWER = 0.3  # share of solved tickets whose requester answers the CSAT survey
P_NPS_ANSWER = 0.35  # of those, the share who also answer the NPS question
# CSAT 1-5 for a smooth ticket; each bad experience moves weight towards the low scores.
CSAT_SCORES = ((5, 0.56), (4, 0.24), (3, 0.09), (2, 0.05), (1, 0.06))
CSAT_UNHAPPY = ((5, 0.22), (4, 0.22), (3, 0.2), (2, 0.16), (1, 0.2))
NPS_BY_CSAT = {5: (8, 10), 4: (7, 9), 3: (4, 8), 2: (1, 6), 1: (0, 4)}


def survey_answers(
    rng: random.Random, tk: Ticket, req: Requester, end: int, iso: Timestamps
) -> None:
    """Some requesters answer a CSAT survey (and some an NPS question) after the last solve:
    ``survey_answered`` events whose ``data`` holds the survey's kind and score, as
    ``cst survey serve`` records them. A reopened or escalated ticket scores lower."""
    if tk.solved_at is None or rng.random() >= P_CSAT_ANSWER:
        return
    at = tk.solved_at + SURVEY_DELAY + int(lognormal(rng, 3 * HOUR, 1.2))
    if at > end:
        return
    reopened = sum(1 for e in tk.events if e.get("new") == SOLVED) > 1
    unhappy = reopened or "escalated" in tk.tags or tk.priority == URGENT
    score = pick(CSAT_UNHAPPY if unhappy else CSAT_SCORES, rng.random())
    answers = [("csat", score)]
    if rng.random() < P_NPS_ANSWER:
        low, high = NPS_BY_CSAT[score]
        answers.append(("nps", low + int(rng.random() * (high - low + 1))))
    for kind, value in answers:
        event = {
            "id": f"{tk.tid}-{kind}",
            "kind": EventKind.SURVEY_ANSWERED.value,
            "at": iso(at),
            "author": req.id,
            "role": REQUESTER,
            "data": {"survey": f"sample_{kind}", "kind": kind, "score": value},
        }
        # In time order among the ticket's events (ISO 8601 UTC strings sort as times).
        stamps = [e["at"] for e in tk.events]
        tk.events.insert(bisect.bisect_right(stamps, event["at"]), event)
