"""The send engine with the file outbox: policy, ledger, opt-outs, in-doubt and reconciliation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cstoolkit.hookspecs import hookimpl
from cstoolkit.messages import DeliveryResult, Message
from cstoolkit.model import EventKind, now
from cstoolkit.plugin import Channel, Setting
from cstoolkit.store import surveys as db
from cstoolkit.store.ledger import DONE, FAILED, IN_DOUBT, RESERVED, Ledger
from cstoolkit.surveys.send import send_surveys

from .helpers import (
    LANGS,
    make_workspace,
    person,
    simple_desk,
    sync_store,
    ticket,
    write_helpdesk,
)


def _run(ws: Any, **kw: Any) -> Any:
    config, host, store = ws.load()
    try:
        return send_surveys(config, host, store, **kw)
    finally:
        store.close()


def test_sends_each_due_survey_once_in_the_requesters_language(tmp_path: Path) -> None:
    t0 = now()
    simple_desk(tmp_path / "helpdesk.jsonl", 6, t0)
    ws = make_workspace(tmp_path)
    dry = _run(ws, dry_run=True)
    assert dry.count("would_send") == 6 and not ws.outbox.exists()
    first = _run(ws)
    assert first.count("sent") == 6 and first.exit_code == 0
    files = sorted(ws.outbox.glob("*.eml"))
    assert len(files) == 6
    second = _run(ws)
    assert second.count("sent") == 0 and second.skipped == {"already surveyed": 6}
    assert len(list(ws.outbox.glob("*.eml"))) == 6
    _config, _host, store = ws.load()
    languages = {r.ticket_id: r.language for r in db.offers(store)}
    assert languages == {f"demo:{i}": LANGS[i % 3] for i in range(1, 7)}
    offered = store.conn.execute(
        "SELECT COUNT(*) FROM events WHERE kind = ?", (str(EventKind.SURVEY_OFFERED),)
    ).fetchone()[0]
    assert offered == 6
    assert {e.state for e in Ledger(store, "survey").entries()} == {DONE}


def test_policy_skips_are_reported_with_their_reason(tmp_path: Path) -> None:
    t0 = now()
    records = [
        person("c1"),
        ticket(1, "c1", t0 - timedelta(days=2)),
        person("c2"),
        ticket(2, "c2", t0 - timedelta(days=2), tags=["no-survey"]),
        person("c3"),
        ticket(3, "c3", t0 - timedelta(days=2), created_by=("a1", "agent")),
        person("c4", email="it@acme.example"),
        ticket(4, "c4", t0 - timedelta(days=2)),
        person("c5"),
        ticket(5, "c5", t0 - timedelta(minutes=5)),
        person("c6"),
        ticket(6, "c6", t0 - timedelta(days=30)),
        person("c7", email=""),
        ticket(7, "c7", t0 - timedelta(days=2)),
    ]
    write_helpdesk(tmp_path / "helpdesk.jsonl", records)
    ws = make_workspace(
        tmp_path,
        channels='[channels.outbox]\nplugin = "outbox"\npath = "outbox"\nformat = "email"\n',
        extra='exclude_tags = ["no-survey"]\ninternal_domains = ["acme.example"]\n',
    )
    report = _run(ws, dry_run=True)
    reasons = {i.ticket: (i.action, i.reason) for i in report.items}
    assert reasons["demo:1"] == ("would_send", "csat via outbox")
    assert reasons["demo:2"] == ("skipped", "excluded tag no-survey")
    assert reasons["demo:3"] == ("skipped", "created by an agent")
    assert reasons["demo:4"] == ("skipped", "internal requester (acme.example)")
    assert reasons["demo:5"][0] == "later" and "delay" in reasons["demo:5"][1]
    assert "demo:6" not in reasons  # older than max_age: not even a candidate
    assert reasons["demo:7"] == ("skipped", "no email address for the requester")


def test_reopened_ticket_is_not_surveyed_again_unless_per_cycle(tmp_path: Path) -> None:
    t0 = now()
    write_helpdesk(
        tmp_path / "helpdesk.jsonl", [person("c1"), ticket(1, "c1", t0 - timedelta(days=3))]
    )
    ws = make_workspace(tmp_path)
    assert _run(ws).count("sent") == 1
    # Reopened and solved again: a second resolution cycle.
    write_helpdesk(
        tmp_path / "helpdesk.jsonl",
        [person("c1"), ticket(1, "c1", t0 - timedelta(days=2), reopened=True)],
    )
    sync_store(ws)
    assert _run(ws).count("sent") == 0
    ws.config.write_text(ws.config.read_text() + "per_cycle = true\n")
    again = _run(ws)
    assert again.count("sent") == 1 and again.items[0].key == "csat/demo:1/c2"


def test_fatigue_limit_and_opt_out(tmp_path: Path) -> None:
    t0 = now()
    records = [
        person("c1"),
        ticket(1, "c1", t0 - timedelta(days=2)),
        ticket(2, "c1", t0 - timedelta(days=2, hours=1)),
        person("c2"),
        ticket(3, "c2", t0 - timedelta(days=2)),
    ]
    write_helpdesk(tmp_path / "helpdesk.jsonl", records)
    ws = make_workspace(tmp_path, extra="")
    ws.config.write_text(ws.config.read_text().replace("fatigue_days = 0", "fatigue_days = 30"))
    dry = _run(ws, dry_run=True)
    assert dry.count("would_send") == 2
    assert any(i.reason.startswith("fatigue: surveyed earlier in this run") for i in dry.items)
    report = _run(ws)
    assert report.count("sent") == 2
    assert any(r.startswith("fatigue") for r in report.skipped)
    _config, _host, store = ws.load()
    offer = db.latest_offer_for_ticket(store, "csat", "demo:3")
    assert offer is not None
    from cstoolkit.surveys.answers import opt_out

    assert opt_out(store, offer, now(), source="test") >= 2
    assert db.is_opted_out(store, None, "C2@customer.example", None)
    store.close()
    write_helpdesk(
        tmp_path / "helpdesk.jsonl",
        [*records, ticket(4, "c2", t0 - timedelta(days=1))],
    )
    sync_store(ws)
    ws.config.write_text(ws.config.read_text().replace("fatigue_days = 30", "fatigue_days = 0"))
    later = _run(ws)
    assert ("demo:4", "opted out") in {(i.ticket, i.reason) for i in later.items}
    assert later.count("sent") == 1  # c1's second ticket, now that fatigue is off


class FlakyChannel(Channel):
    """A channel that answers 'unknown' for chosen addresses (not idempotent)."""

    name: ClassVar[str] = "flaky"
    settings: ClassVar[tuple[Setting, ...]] = (Setting("unknown_for", "list", default=[]),)
    sent: ClassVar[list[str]] = []

    def send(self, message: Message) -> DeliveryResult:
        to = message.recipient.email or ""
        if to in self.config["unknown_for"]:
            return DeliveryResult.unknown("connection lost during DATA: timed out")
        FlakyChannel.sent.append(message.idempotency_key)
        return DeliveryResult.sent(f"id-{len(FlakyChannel.sent)}")


class FlakyPlugin:
    @hookimpl
    def register_channels(self, register: Any) -> None:
        register(FlakyChannel)


def test_unknown_outcome_is_in_doubt_never_resent_blindly(tmp_path: Path) -> None:
    FlakyChannel.sent = []
    t0 = now()
    simple_desk(tmp_path / "helpdesk.jsonl", 3, t0)
    ws = make_workspace(
        tmp_path,
        channels='[channels.flaky]\nplugin = "flaky"\nunknown_for = ["c2@customer.example"]\n',
        channel="flaky",
    )
    config, host, store = ws.load()
    host.register_plugin(FlakyPlugin(), "flaky")
    first = send_surveys(config, host, store)
    assert first.count("sent") == 2 and first.count("in_doubt") == 1 and first.exit_code == 1
    assert [e["ticket"] for e in first.in_doubt] == ["demo:2"]
    again = send_surveys(config, host, store)
    assert again.count("sent") == 0 and again.exit_code == 0
    assert len(again.in_doubt) == 1  # still reported on every run
    assert "in doubt" in next(i.reason for i in again.items if i.ticket == "demo:2")
    # On purpose: resend it.
    config.data["channels"]["flaky"]["unknown_for"] = []
    resent = send_surveys(config, host, store, resend_in_doubt=True)
    assert resent.count("sent") == 1 and not resent.in_doubt
    assert FlakyChannel.sent.count("csat/demo:2") == 1
    assert Ledger(store, "survey").get("csat/demo:2").state == DONE  # type: ignore[union-attr]
    store.close()


def test_orphans_are_reconciled_through_the_outbox_lookup(tmp_path: Path) -> None:
    t0 = now()
    simple_desk(tmp_path / "helpdesk.jsonl", 3, t0)
    ws = make_workspace(tmp_path)
    config, host, store = ws.load()
    # A run that crashed: it reserved two keys; it wrote one file and died before commit.
    dead = Ledger(store, "survey", run_id="dead-run")
    first = send_surveys(config, host, store, dry_run=True)
    assert first.count("would_send") == 3
    sent = send_surveys(config, host, store)  # create offers + files for all three
    assert sent.count("sent") == 3
    with store.transaction() as cur:
        cur.execute(
            "UPDATE ledger SET state = ?, run_id = ?, lease_expires = 0 WHERE key IN (?, ?)",
            (RESERVED, dead.run_id, "csat/demo:1", "csat/demo:2"),
        )
        cur.execute("DELETE FROM events WHERE kind = ?", (str(EventKind.SURVEY_OFFERED),))
    files = {p.name: p for p in ws.outbox.iterdir()}
    lost = next(p for n, p in files.items() if n.startswith("csat_demo_2-"))
    lost.unlink()  # demo:2 never reached the outbox
    report = send_surveys(config, host, store)
    actions = {i.ticket: i.action for i in report.items if i.action != "skipped"}
    assert actions == {"demo:1": "reconciled", "demo:2": "sent"}
    assert len(list(ws.outbox.iterdir())) == 3
    states = {e.key: e.state for e in Ledger(store, "survey").entries()}
    assert set(states.values()) == {DONE}
    assert not report.in_doubt
    store.close()


def test_cli_send_json_and_exit_codes(tmp_path: Path) -> None:
    simple_desk(tmp_path / "helpdesk.jsonl", 2, now())
    ws = make_workspace(tmp_path)
    dry = ws.cst("survey", "send", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["dry_run"] and data["would_send"] == 2
    assert {i["address"] for i in data["items"]} == {"c1@customer.example", "c2@customer.example"}
    real = ws.cst("survey", "send", "--json")
    assert real.returncode == 0, real.stderr
    assert json.loads(real.stdout)["sent"] == 2
    nothing = ws.cst("survey", "send")
    assert nothing.returncode == 0 and "already surveyed" in nothing.stderr
    # A broken outbox directory: the send fails, exit 1.
    (tmp_path / "blocked").write_text("a file, not a directory")
    ws.config.write_text(ws.config.read_text().replace('path = "outbox"', 'path = "blocked/x"'))
    write_helpdesk(
        tmp_path / "helpdesk.jsonl", [person("c9"), ticket(9, "c9", now() - timedelta(days=2))]
    )
    sync_store(ws)
    failed = ws.cst("survey", "send", "--json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["failed"] == 1
    _config, _host, store = ws.load()
    assert Ledger(store, "survey").get("csat/demo:9").state == FAILED  # type: ignore[union-attr]
    store.close()
    unknown = ws.cst("survey", "send", "--survey", "csta")
    assert unknown.returncode == 2 and "did you mean 'csat'" in unknown.stderr


def test_in_doubt_is_shown_by_status_summary(tmp_path: Path) -> None:
    from cstoolkit.surveys.send import status_summary

    simple_desk(tmp_path / "helpdesk.jsonl", 1, now())
    ws = make_workspace(tmp_path)
    config, host, store = ws.load()
    send_surveys(config, host, store)
    Ledger(store, "survey").mark_in_doubt("csat/demo:1", "test")
    summary = status_summary(store)
    assert summary["offers"][IN_DOUBT] == 1 and summary["in_doubt"][0]["ticket"] == "demo:1"
    store.close()


@pytest.mark.parametrize("when", [datetime(2026, 1, 1, tzinfo=UTC)])
def test_links_in_outbox_messages_verify(tmp_path: Path, when: datetime) -> None:
    import email
    import email.policy
    import re

    from cstoolkit.surveys.links import Signer

    from .helpers import KEY

    simple_desk(tmp_path / "helpdesk.jsonl", 1, now())
    ws = make_workspace(tmp_path)
    _run(ws)
    (eml,) = ws.outbox.glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    tokens = set(re.findall(r"/s/([A-Za-z0-9._-]+)\?score=", text))
    assert len(tokens) == 1
    claims = Signer({"k1": KEY}).verify(tokens.pop(), now())
    assert claims.offer_key == "csat/demo:1"
    assert msg["List-Unsubscribe"].startswith("<http://127.0.0.1:8765/u/k1.")


def test_quickstart_demo_sends_the_sample_desks_due_surveys_once(tmp_path: Path) -> None:
    from cstoolkit.config import build_instance, load_config
    from cstoolkit.host import Host
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store import open_store
    from cstoolkit.surveys.quickstart import CONFIG_SNIPPET, demo
    from cstoolkit.sync import pull

    generate_file(SampleSpec(tickets=300, days=20, seed=3), tmp_path / "helpdesk.jsonl")
    (tmp_path / "cstoolkit.toml").write_text(
        '[backends.demo]\nplugin = "local"\npath = "helpdesk.jsonl"\n' + CONFIG_SNIPPET
    )
    config = load_config(tmp_path / "cstoolkit.toml")
    host = Host().load()
    store = open_store(config.store_path)
    pull(store, build_instance(config, host, "backends", "demo", store))
    first = demo(tmp_path, config, store, host)
    assert first.sent > 0 and first.failed == 0 and first.files == first.sent
    assert first.example is not None and first.example.suffix == ".eml"
    assert str(tmp_path / "outbox") in first.lines()[0]
    again = demo(tmp_path, config, store, host)
    assert again.sent == 0 and again.files == first.files
    store.close()


class LookupChannel(Channel):
    """An idempotent channel (it can tell by lookup whether a message arrived, as Twilio's
    does) whose send can time out after reaching the provider and whose lookup can be down."""

    name: ClassVar[str] = "lookupch"
    idempotent: ClassVar[bool] = True
    settings: ClassVar[tuple[Setting, ...]] = ()
    delivered: ClassVar[list[str]] = []
    send_times_out: ClassVar[bool] = True
    lookup_down: ClassVar[bool] = True

    def send(self, message: Message) -> DeliveryResult:
        LookupChannel.delivered.append(message.idempotency_key)  # it reached the provider
        if LookupChannel.send_times_out:
            return DeliveryResult.unknown("read timed out after sending")
        return DeliveryResult.sent(f"id-{len(LookupChannel.delivered)}")

    def lookup(self, key: str, *, message: Any = None, since: Any = None) -> DeliveryResult | None:
        if LookupChannel.lookup_down:
            raise ConnectionError("lookup endpoint unreachable")
        if key in LookupChannel.delivered:
            return DeliveryResult.sent(f"found-{key}")
        return None


class LookupPlugin:
    @hookimpl
    def register_channels(self, register: Any) -> None:
        register(LookupChannel)


def test_an_unknown_outcome_with_the_lookup_down_is_reconciled_later_never_resent(
    tmp_path: Path,
) -> None:
    """A send that timed out after reaching the provider, and a lookup that fails: the survey
    is neither failed (which would resend it) nor sent; the next run reconciles it by lookup."""
    LookupChannel.delivered, LookupChannel.send_times_out, LookupChannel.lookup_down = (
        [],
        True,
        True,
    )
    simple_desk(tmp_path / "helpdesk.jsonl", 1, now())
    ws = make_workspace(tmp_path, channels='[channels.lk]\nplugin = "lookupch"\n', channel="lk")
    config, host, store = ws.load()
    host.register_plugin(LookupPlugin(), "lookupch")
    first = send_surveys(config, host, store)
    assert first.count("unknown") == 1 and first.exit_code == 1
    entry = Ledger(store, "survey").get("csat/demo:1")
    assert entry is not None and entry.state == RESERVED and entry.lease_expired()
    still_down = send_surveys(config, host, store)  # reconcile's lookup fails again: left
    assert LookupChannel.delivered == ["csat/demo:1"]
    assert still_down.errors and "lookup failed" in still_down.errors[0]
    LookupChannel.lookup_down = False
    later = send_surveys(config, host, store)
    assert LookupChannel.delivered == ["csat/demo:1"]  # never sent a second time
    assert later.count("reconciled") == 1
    assert Ledger(store, "survey").get("csat/demo:1").state == DONE  # type: ignore[union-attr]
    store.close()
