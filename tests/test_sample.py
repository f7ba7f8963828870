"""Tests for cstoolkit.sample: the synthetic helpdesk generator.

Most checks run on one 5,000-ticket sample over a winter period (Dec 2025 - Feb 2026) so that
Europe/Madrid local time is simply UTC+1 throughout.
"""

from __future__ import annotations

import io
import json
import os
import re
import statistics
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import sample
from cstoolkit.errors import UsageError
from cstoolkit.model import Channel, EventKind, Priority, Role, Status
from cstoolkit.sample import SampleSpec, SampleStats, generate, generate_file

END = datetime(2026, 3, 1, tzinfo=UTC)
MADRID = timedelta(hours=1)  # CET: no summer time between December and March
N = 5000

Record = dict[str, Any]


def _text(spec: SampleSpec) -> str:
    buf = io.StringIO()
    generate(spec, buf)
    return buf.getvalue()


def _time(value: str) -> datetime:
    assert value.endswith("Z") and len(value) == 20, value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class _Null(io.TextIOBase):
    """A text sink that throws everything away (but counts it)."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        return len(s)


@pytest.fixture(scope="module")
def generated() -> tuple[str, SampleStats]:
    buf = io.StringIO()
    stats = generate(SampleSpec(tickets=N, days=90, seed=1, end=END), buf)
    return buf.getvalue(), stats


@pytest.fixture(scope="module")
def raw(generated: tuple[str, SampleStats]) -> str:
    return generated[0]


@pytest.fixture(scope="module")
def records(raw: str) -> list[Record]:
    return [json.loads(line) for line in raw.splitlines()]


@pytest.fixture(scope="module")
def tickets(records: list[Record]) -> list[Record]:
    return [r for r in records if r["type"] == "ticket"]


@pytest.fixture(scope="module")
def people(records: list[Record]) -> dict[str, Record]:
    return {r["id"]: r for r in records if r["type"] == "person"}


def _shares(values: Iterator[str] | list[str]) -> dict[str, float]:
    counts = Counter(values)
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def _has(ticket: Record, test: Callable[[Record], bool]) -> bool:
    return any(test(e) for e in ticket["events"])


def _reopened(e: Record) -> bool:
    return e["kind"] == "status_change" and e["old"] == "solved" and e["new"] == "open"


def _internal_note(e: Record) -> bool:
    return e["kind"] == "comment" and e["public"] is False


# -- determinism -------------------------------------------------------------------------------


def test_same_spec_gives_identical_bytes_and_another_seed_differs() -> None:
    spec = SampleSpec(tickets=400, days=10, seed=42, end=END)
    first = _text(spec)
    assert first == _text(SampleSpec(tickets=400, days=10, seed=42, end=END))
    other = _text(SampleSpec(tickets=400, days=10, seed=43, end=END))
    assert other != first
    assert other.count('"type":"ticket"') == first.count('"type":"ticket"') == 400


def test_output_with_an_end_does_not_depend_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SampleSpec(tickets=200, days=7, seed=3, end=END)
    monkeypatch.setattr(sample, "now", lambda: datetime(2030, 6, 15, 13, 0, tzinfo=UTC))
    later = _text(spec)
    monkeypatch.setattr(sample, "now", lambda: datetime(2021, 1, 2, 3, 4, tzinfo=UTC))
    assert _text(spec) == later


def test_default_end_is_todays_midnight_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "now", lambda: datetime(2026, 7, 15, 13, 45, 7, tzinfo=UTC))
    midnight = datetime(2026, 7, 15, tzinfo=UTC)
    lines = [json.loads(x) for x in _text(SampleSpec(tickets=300, days=5, seed=9)).splitlines()]
    created = [_time(r["created_at"]) for r in lines if r["type"] == "ticket"]
    assert min(created) >= midnight - timedelta(days=5)
    assert max(created) < midnight
    latest = max(_time(e["at"]) for r in lines if r["type"] == "ticket" for e in r["events"])
    assert latest <= midnight


def test_an_unaligned_end_is_respected() -> None:
    end = datetime(2026, 2, 10, 15, 30, 20, 500000, tzinfo=UTC)
    lines = [json.loads(x) for x in _text(SampleSpec(200, 2, 5, end=end)).splitlines()]
    cut = end.replace(microsecond=0)
    tks = [r for r in lines if r["type"] == "ticket"]
    assert all(cut - timedelta(days=2) <= _time(t["created_at"]) < cut for t in tks)
    assert all(_time(e["at"]) <= cut for t in tks for e in t["events"])


# -- structure ---------------------------------------------------------------------------------


def test_exactly_n_tickets_numbered_in_arrival_order(tickets: list[Record]) -> None:
    assert [t["id"] for t in tickets] == [str(i) for i in range(1, N + 1)]
    created = [t["created_at"] for t in tickets]
    assert created == sorted(created)
    assert END - timedelta(days=90) <= _time(created[0])
    assert _time(created[-1]) < END


def test_everything_referenced_is_defined_on_an_earlier_line(records: list[Record]) -> None:
    defined: set[tuple[str, str]] = set()
    kinds = [r["type"] for r in records]
    assert kinds[:4] == ["group"] * 4
    assert {r["id"] for r in records[:4]} == {"general", "billing", "technical", "escalations"}
    for i, rec in enumerate(records):
        if rec["type"] in ("group", "person"):
            assert (rec["type"], rec["id"]) not in defined, f"{rec['id']} defined twice"
            defined.add((rec["type"], rec["id"]))
            if rec["type"] == "person" and rec["role"] == "agent":
                assert all(("group", g) in defined for g in rec["groups"])
            if rec["type"] == "person" and rec["role"] == "requester":
                # written lazily: right before the first ticket that needs it
                assert records[i + 1]["type"] == "ticket"
                assert records[i + 1]["requester"] == rec["id"]
            continue
        assert ("person", rec["requester"]) in defined
        assert ("group", rec["group"]) in defined
        if rec["assignee"] is not None:
            assert ("person", rec["assignee"]) in defined
        for e in rec["events"]:
            if e["author"] is not None:
                assert ("person", e["author"]) in defined
            if e["kind"] == "assignment":
                assert ("person", e["new"]) in defined
            if e["kind"] == "group_change":
                assert ("group", e["new"]) in defined


def test_keys_are_exactly_the_documented_ones(records: list[Record]) -> None:
    ticket_keys = ["type", "id", "subject", "description", "status", "priority", "channel",
                   "requester", "assignee", "group", "tags", "created_at", "updated_at",
                   "solved_at", "language", "custom_fields", "events"]  # fmt: skip
    agent_keys = ["type", "id", "role", "name", "email", "language", "timezone", "groups",
                  "tier", "skills", "capacity", "shift"]  # fmt: skip
    requester_keys = ["type", "id", "role", "name", "email", "organization", "plan", "language",
                      "timezone"]  # fmt: skip
    base = ["id", "kind", "at", "author", "role"]
    for rec in records:
        if rec["type"] == "group":
            assert list(rec) == ["type", "id", "name"]
        elif rec["type"] == "person":
            assert list(rec) == (agent_keys if rec["role"] == "agent" else requester_keys)
        else:
            assert list(rec) == ticket_keys
            for e in rec["events"]:
                text = e["kind"] in ("created", "comment")
                assert list(e) == base + (["public", "body"] if text else ["old", "new"])


def test_values_belong_to_the_model(tickets: list[Record], people: dict[str, Record]) -> None:
    statuses, priorities = {s.value for s in Status}, {p.value for p in Priority}
    channels, kinds = {c.value for c in Channel}, {k.value for k in EventKind}
    roles = {r.value for r in Role}
    for t in tickets:
        assert t["status"] in statuses and t["priority"] in priorities
        assert t["channel"] in channels
        assert t["language"] in ("es", "en", "pt") and t["custom_fields"]["product"]
        assert all(e["kind"] in kinds and e["role"] in roles for e in t["events"])
    for p in people.values():
        assert p["email"].count("@") == 1
        if p["role"] == "agent":
            assert p["email"].endswith("@support.example") and p["tier"] in (1, 2, 3)
    emails = [p["email"] for p in people.values()]
    assert len(set(emails)) == len(emails)


def test_events_are_ordered_unique_and_within_the_period(tickets: list[Record]) -> None:
    end = END.strftime("%Y-%m-%dT%H:%M:%SZ")
    seen: set[str] = set()
    for t in tickets:
        times = [e["at"] for e in t["events"]]  # fixed-width ISO strings sort as times
        assert all(len(x) == 20 and x.endswith("Z") for x in times)
        assert [e["id"] for e in t["events"]] == [
            f"{t['id']}-{n}" for n in range(1, len(t["events"]) + 1)
        ]
        assert seen.isdisjoint(e["id"] for e in t["events"])
        seen.update(e["id"] for e in t["events"])
        assert times == sorted(times)
        assert times[0] == t["created_at"] and times[-1] <= end
        assert t["events"][0]["kind"] == "created"
        assert t["events"][0]["body"] == t["description"]
        assert t["updated_at"] == times[-1]


def test_ticket_fields_agree_with_its_events(tickets: list[Record]) -> None:
    for t in tickets:
        status, assignee, group, priority = "new", None, None, None
        solved_at = None
        for e in t["events"]:
            if e["kind"] == "status_change":
                assert e["old"] == status
                status = e["new"]
                if status == "solved":
                    solved_at = e["at"]
            elif e["kind"] == "assignment":
                assert e["old"] == assignee
                assignee = e["new"]
            elif e["kind"] == "group_change":
                group = e["new"]
            elif e["kind"] == "priority_change":
                priority = e["new"]
            elif e["kind"] == "tags_change":
                assert e["new"] == " ".join(t["tags"])
        assert (t["status"], t["assignee"]) == (status, assignee)
        assert t["group"] == (group or t["group"]) and t["priority"] == (priority or t["priority"])
        if t["status"] in ("solved", "closed"):
            assert t["solved_at"] == solved_at
        else:
            assert t["solved_at"] is None
        if t["status"] == "closed":
            close = t["events"][-1]
            assert (close["role"], close["author"]) == ("system", None)
            assert _time(close["at"]) - _time(solved_at or "") == timedelta(days=4)


# -- realism -----------------------------------------------------------------------------------


def test_channel_mix(tickets: list[Record]) -> None:
    got = _shares(t["channel"] for t in tickets)
    expected = {"email": 0.40, "chat": 0.20, "whatsapp": 0.15, "web": 0.12, "phone": 0.08,
                "social": 0.05}  # fmt: skip
    assert set(got) == set(expected)
    for channel, share in expected.items():
        assert got[channel] == pytest.approx(share, abs=0.03), channel


def test_plans_and_languages(tickets: list[Record], people: dict[str, Record]) -> None:
    requesters = [p for p in people.values() if p["role"] == "requester"]
    plans = _shares(p["plan"] for p in requesters)
    for plan, share in {"free": 0.60, "paid": 0.32, "enterprise": 0.08}.items():
        assert plans[plan] == pytest.approx(share, abs=0.05), plan
    languages = _shares(t["language"] for t in tickets)
    for lang, share in {"es": 0.45, "en": 0.35, "pt": 0.20}.items():
        assert languages[lang] == pytest.approx(share, abs=0.05), lang
    assert all(t["language"] == people[t["requester"]]["language"] for t in tickets)
    with_org = [p for p in requesters if p["organization"]]
    assert 0.2 < len(with_org) / len(requesters) < 0.6


def test_priorities_skew_higher_for_enterprise(
    tickets: list[Record], people: dict[str, Record]
) -> None:
    got = _shares(t["priority"] for t in tickets)
    for prio, share in {"low": 0.20, "normal": 0.55, "high": 0.18, "urgent": 0.07}.items():
        assert got[prio] == pytest.approx(share, abs=0.04), prio

    def urgent_share(plan: str) -> float:
        mine = [t for t in tickets if people[t["requester"]]["plan"] == plan]
        return sum(t["priority"] == "urgent" for t in mine) / len(mine)

    assert urgent_share("enterprise") > 2 * urgent_share("free")


def test_weekends_get_about_a_third_of_a_weekday(tickets: list[Record]) -> None:
    local = [_time(t["created_at"]) + MADRID for t in tickets]
    per_weekday = Counter(d.weekday() for d in local)
    days_of = Counter(d.weekday() for d in {d.date() for d in local})
    weekday = sum(per_weekday[i] for i in range(5)) / sum(days_of[i] for i in range(5))
    weekend = (per_weekday[5] + per_weekday[6]) / (days_of[5] + days_of[6])
    assert 0.25 <= weekend / weekday <= 0.45


def test_arrivals_peak_in_office_hours_and_drop_at_night(tickets: list[Record]) -> None:
    hours = Counter((_time(t["created_at"]) + MADRID).hour for t in tickets)
    morning = sum(hours[h] for h in (9, 10, 11)) / 3
    afternoon = sum(hours[h] for h in (14, 15, 16)) / 3
    night = sum(hours[h] for h in range(6)) / 6
    lunch = hours[13]
    assert morning > 5 * night and afternoon > 5 * night
    assert lunch < min(morning, afternoon)


def test_customers_repeat_with_a_skew(tickets: list[Record], people: dict[str, Record]) -> None:
    per_customer = Counter(t["requester"] for t in tickets)
    assert len(per_customer) < N / 2  # a pool of N/3, not one customer per ticket
    assert max(int(r[1:]) for r in per_customer) <= N // 3
    assert per_customer.most_common(1)[0][1] >= 10
    assert statistics.median(per_customer.values()) <= 4
    assert sum(1 for p in people.values() if p["role"] == "requester") == len(per_customer)


def test_lifecycle_shares(tickets: list[Record]) -> None:
    def share(test: Callable[[Record], bool]) -> float:
        return sum(_has(t, test) for t in tickets) / len(tickets)

    assert 0.05 <= share(_reopened) <= 0.11
    assert 0.19 <= share(_internal_note) <= 0.31
    assert 0.015 <= share(lambda e: e["kind"] == "group_change") <= 0.05
    assert 0.03 <= share(lambda e: e["kind"] == "status_change" and e["new"] == "on_hold") <= 0.08
    assert share(lambda e: e["kind"] == "status_change" and e["new"] == "pending") > 0.3
    assert share(lambda e: e["kind"] == "comment" and e["role"] == "requester") > 0.3


def test_escalations_move_up_a_tier(tickets: list[Record], people: dict[str, Record]) -> None:
    escalated = [t for t in tickets if _has(t, lambda e: e["kind"] == "group_change")]
    assert escalated
    for t in escalated:
        change = next(e for e in t["events"] if e["kind"] == "group_change")
        assert change["new"] in ("technical", "escalations") and change["old"] != change["new"]
        assert "escalated" in t["tags"]
        handover = [e for e in t["events"] if e["kind"] == "assignment"][-1]
        assert t["group"] in people[handover["new"]]["groups"]


def test_reopened_tickets_are_reopened_by_the_requester(tickets: list[Record]) -> None:
    for t in tickets:
        events = t["events"]
        for i, e in enumerate(events):
            if _reopened(e):
                before = events[i - 1]
                assert before["kind"] == "comment" and before["role"] == "requester"
                assert before["at"] == e["at"]


def test_backlog_sits_at_the_end_of_the_period(tickets: list[Record]) -> None:
    def unresolved(ts: list[Record]) -> float:
        return sum(t["status"] not in ("solved", "closed") for t in ts) / len(ts)

    recent = [t for t in tickets if _time(t["created_at"]) >= END - timedelta(days=3)]
    old = [t for t in tickets if _time(t["created_at"]) < END - timedelta(days=14)]
    assert unresolved(recent) >= 0.1
    assert unresolved(old) < 0.01
    assert any(t["status"] in ("new", "open", "pending", "on_hold") for t in recent)
    four_days_ago = (END - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for t in tickets:  # solved tickets close four days after their last solve
        if t["status"] in ("solved", "closed"):
            assert (t["status"] == "closed") == (t["solved_at"] <= four_days_ago)
    assert any(t["status"] == "solved" for t in recent)


def test_first_reply_is_slower_at_night_and_weekends(tickets: list[Record]) -> None:
    office: list[float] = []
    off_hours: list[float] = []
    for t in tickets:
        if t["channel"] != "email":
            continue
        created = _time(t["created_at"])
        reply = next(
            (e for e in t["events"] if e["kind"] == "comment" and e["role"] == "agent"), None
        )
        if reply is None or not reply["public"]:
            continue
        hours = (_time(reply["at"]) - created).total_seconds() / 3600
        local = created + MADRID
        if local.weekday() < 5 and 9 <= local.hour < 16:
            office.append(hours)
        elif local.weekday() >= 5 or local.hour < 5:
            off_hours.append(hours)
    assert 1.0 <= statistics.median(office) <= 3.5  # log-normal, median ~2 business hours
    assert statistics.median(off_hours) > 2 * statistics.median(office)


def test_assignees_fit_the_group_and_mostly_the_language(
    tickets: list[Record], people: dict[str, Record]
) -> None:
    assigned = [t for t in tickets if t["assignee"]]
    assert len(assigned) > 0.99 * len(tickets)
    assert all(t["group"] in people[t["assignee"]]["groups"] for t in assigned)
    same_language = sum(t["language"] in people[t["assignee"]]["skills"] for t in assigned)
    assert same_language / len(assigned) > 0.9
    agents = [p for p in people.values() if p["role"] == "agent"]
    tiers = Counter(a["tier"] for a in agents)
    assert tiers[1] > tiers[2] >= tiers[3] >= 1


def test_texts_are_in_the_requesters_language_with_routing_keywords(
    tickets: list[Record],
) -> None:
    greeting = {"es": "Hola", "en": "Hi", "pt": "Olá"}
    keywords = {
        "refund": {"es": "reembolso", "en": "refund", "pt": "reembolso"},
        "password": {"es": "contraseña", "en": "password", "pt": "senha"},
        "invoice": {"es": "factura", "en": "invoice", "pt": "fatura"},
    }
    seen: Counter[str] = Counter()
    for t in tickets:
        text = f"{t['subject']} {t['description']}".lower()
        for tag, words in keywords.items():
            if tag in t["tags"]:
                assert words[t["language"]] in text, (tag, text)
                seen[tag, t["language"]] += 1
        for number in re.findall(r"#\d{6}|F-\d{4}-\d{5}", t["subject"]):
            assert number in t["description"]  # one order / invoice per ticket
        replies = (e for e in t["events"] if e["role"] == "agent" and e["kind"] == "comment")
        first = next(replies, None)
        if first is not None and first["public"]:
            assert first["body"].startswith(greeting[t["language"]])
    assert len(seen) == 9  # every keyword in every language occurs


def test_agent_count_scales_with_volume_and_can_be_set() -> None:
    def agents(spec: SampleSpec) -> list[Record]:
        lines = [json.loads(x) for x in _text(spec).splitlines()]
        return [r for r in lines if r["type"] == "person" and r["role"] == "agent"]

    assert len(agents(SampleSpec(tickets=50, days=30, seed=1, end=END))) == 8
    assert len(agents(SampleSpec(tickets=120, days=1, seed=1, end=END))) == 10
    many = agents(SampleSpec(tickets=2600, days=1, seed=1, end=END))
    assert len(many) == 200
    assert {a["timezone"] for a in many} == {"Europe/Madrid", "America/Sao_Paulo",
                                             "America/Mexico_City", "Europe/London",
                                             "America/New_York"}  # fmt: skip
    starts = {a["shift"]["start"] for a in many}
    assert len(starts) >= 3
    tiny = [json.loads(x) for x in _text(SampleSpec(100, 5, 1, END, agents=2)).splitlines()]
    assert sum(r.get("role") == "agent" for r in tiny) == 2
    assert all(r["assignee"] in ("a1", "a2", None) for r in tiny if r["type"] == "ticket")


def test_stats_describe_what_was_written(
    generated: tuple[str, SampleStats], records: list[Record]
) -> None:
    raw, stats = generated
    persons = [r for r in records if r["type"] == "person"]
    expected_events = sum(len(r["events"]) for r in records if r["type"] == "ticket")
    assert stats == SampleStats(N, expected_events, len(persons), 4, len(raw.encode("utf-8")))


# -- memory ------------------------------------------------------------------------------------


def _peak(tickets: int) -> int:
    # A fixed team: the default head count grows with volume (up to 200 agents), tickets must not.
    generate(SampleSpec(50, 30, 5, END, agents=20), _Null())  # one-time allocations
    tracemalloc.start()
    try:
        generate(SampleSpec(tickets, 30, 5, END, agents=20), _Null())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_tickets() -> None:
    # Kept small for speed (tracemalloc slows generation ~6x): a version that held the tickets
    # would need ~25 MB for 1,500 of them (as parsed dicts) and grow 5x between the two sizes.
    small, large = _peak(300), _peak(1500)
    assert large < 2_000_000
    assert large / small < 1.5


@pytest.mark.slow  # ~45 s: CI's profile
def test_memory_is_bounded_at_fifty_thousand_tickets() -> None:
    small, large = _peak(10_000), _peak(50_000)
    assert large < 40_000_000
    assert large / small < 2


# -- files -------------------------------------------------------------------------------------


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty directory of the test's own (tmp_path also holds the isolated HOME)."""
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def test_generate_file_writes_the_same_bytes(out: Path) -> None:
    spec = SampleSpec(tickets=300, days=10, seed=8, end=END)
    target = out / "desk.jsonl"
    stats = generate_file(spec, target)
    assert target.read_bytes() == _text(spec).encode("utf-8")
    assert stats.bytes == target.stat().st_size and stats.tickets == 300
    assert os.listdir(out) == ["desk.jsonl"]
    generate_file(spec, target)  # overwriting is fine
    assert os.listdir(out) == ["desk.jsonl"]


class _FailingFile(io.StringIO):
    """Stands in for the temp file: accepts some text, then fails like a full disk."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__()
        self.path, self.limit = path, limit

    def write(self, s: str) -> int:
        if self.tell() + len(s) > self.limit:
            raise OSError(28, "No space left on device")
        Path(self.path).write_text(self.getvalue() + s)  # really half-write the temp file
        return super().write(s)

    def fileno(self) -> int:
        raise AssertionError("never reached")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = out / "desk.jsonl"
    target.write_text("old content\n")
    opened: list[str] = []

    def failing_open(path: str, *args: Any, **kwargs: Any) -> _FailingFile:
        opened.append(str(path))
        return _FailingFile(str(path), limit=50_000)

    monkeypatch.setattr(sample, "open", failing_open, raising=False)
    with pytest.raises(OSError, match="No space left"):
        generate_file(SampleSpec(tickets=500, days=10, seed=1, end=END), target)
    assert opened and Path(opened[0]).parent == out and opened[0] != str(target)
    assert target.read_text() == "old content\n"
    assert os.listdir(out) == ["desk.jsonl"]


def test_an_interrupted_run_creates_nothing(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sample._ticket_record
    calls = 0

    def interrupt_midway(*args: Any) -> Record:
        nonlocal calls
        calls += 1
        if calls == 200:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sample, "_ticket_record", interrupt_midway)
    target = out / "new.jsonl"
    with pytest.raises(KeyboardInterrupt):
        generate_file(SampleSpec(tickets=500, days=10, seed=1, end=END), target)
    assert calls == 200
    assert os.listdir(out) == []


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SampleSpec(tickets=0), "tickets"),
        (SampleSpec(tickets=-5), "tickets"),
        (SampleSpec(days=0), "days"),
        (SampleSpec(agents=0), "agents"),
        (SampleSpec(end=datetime(2026, 1, 1)), "time zone"),
    ],
)
def test_bad_specs_are_usage_errors(spec: SampleSpec, message: str, out: Path) -> None:
    with pytest.raises(UsageError, match=message) as info:
        generate(spec, io.StringIO())
    assert info.value.exit_code == 2
    with pytest.raises(UsageError):
        generate_file(spec, out / "x.jsonl")
    assert os.listdir(out) == []


# -- survey answers (quickstart's option) ------------------------------------------------------


def test_survey_answers_are_added_and_nothing_else_changes(raw: str) -> None:
    """``survey_answers`` adds CSAT (and some NPS) answers after solves, from their own random
    stream: every other event, ticket and person is what the default output has."""
    with_answers = _text(SampleSpec(tickets=N, days=90, seed=1, end=END, survey_answers=True))
    plain, answered = raw.splitlines(), with_answers.splitlines()
    assert len(plain) == len(answered)
    kinds: Counter[str] = Counter()
    for a, b in zip(plain, answered, strict=True):
        if a == b:
            continue
        ra, rb = json.loads(a), json.loads(b)
        answers = [e for e in rb["events"] if e["kind"] == "survey_answered"]
        assert [e for e in rb["events"] if e["kind"] != "survey_answered"] == ra["events"]
        assert answers and ra["solved_at"] is not None
        assert [e["at"] for e in rb["events"]] == sorted(e["at"] for e in rb["events"])
        for e in answers:
            assert e["at"] > ra["solved_at"] and e["role"] == "requester"
            low, high = {"csat": (1, 5), "nps": (0, 10)}[e["data"]["kind"]]
            assert low <= e["data"]["score"] <= high
            kinds[e["data"]["kind"]] += 1
    assert kinds["csat"] > N * 0.1 and 0 < kinds["nps"] < kinds["csat"]
    assert "survey_answered" not in raw  # the default output (the benchmarks' input) has none
