"""Policy decisions, signed links and templates: pure functions, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cstoolkit.errors import ConfigError
from cstoolkit.model import Channel, Event, EventKind, Person, Role, Status, Ticket
from cstoolkit.surveys import policy as pol
from cstoolkit.surveys.links import LinkError, Signer, peek_offer_key
from cstoolkit.surveys.templates import TemplateSet

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _policy(**over: object) -> pol.Policy:
    settings = {"kind": "csat", "channel": "mail", "delay": "24h", "max_age": "7d", **over}
    return pol.Policy.from_settings("csat", settings)


def _ticket(**over: object) -> Ticket:
    base = {
        "id": "demo:1",
        "instance": "demo",
        "external_id": "1",
        "subject": "s",
        "status": Status.SOLVED,
        "created_at": NOW - timedelta(days=3),
        "updated_at": NOW - timedelta(days=2),
        "solved_at": NOW - timedelta(days=2),
        "requester_id": "demo:c1",
        "group_id": "demo:general",
        "channel": Channel.EMAIL,
    }
    base.update(over)
    return Ticket(**base)  # type: ignore[arg-type]


def _person(**over: object) -> Person:
    base = {
        "id": "demo:c1",
        "instance": "demo",
        "external_id": "c1",
        "role": Role.REQUESTER,
        "name": "Carla Cliente",
        "email": "carla@customer.example",
        "plan": "paid",
        "timezone": "Europe/Madrid",
    }
    base.update(over)
    return Person(**base)  # type: ignore[arg-type]


def _ev(kind: EventKind, at: datetime, **kw: object) -> Event:
    return Event(id=f"e{at.timestamp()}{kind}", ticket_id="demo:1", kind=kind, at=at, **kw)  # type: ignore[arg-type]


def test_a_plain_solved_ticket_is_due_after_the_delay() -> None:
    d = pol.evaluate(_policy(), _ticket(), _person(), [], NOW)
    assert d.action == pol.SEND
    fresh = _ticket(solved_at=NOW - timedelta(hours=2))
    later = pol.evaluate(_policy(), fresh, _person(), [], NOW)
    assert later.action == pol.LATER
    assert later.due_at == fresh.solved_at + timedelta(hours=24)


@pytest.mark.parametrize(
    ("over", "person_over", "reason"),
    [
        ({"tags": ["VIP", "x"]}, {}, "excluded tag vip"),
        ({"channel": Channel.PHONE}, {}, "excluded channel phone"),
        ({}, {"plan": "free"}, "excluded plan free"),
        ({}, {"email": "boss@acme.example"}, "internal requester (acme.example)"),
        ({}, {"email": "x@eu.acme.example"}, "internal requester (eu.acme.example)"),
        ({}, {"role": Role.AGENT}, "requester is an agent"),
        ({"solved_at": NOW - timedelta(days=20)}, {}, "solved 20d ago (max_age 1w)"),
        ({"status": Status.OPEN}, {}, "not solved"),
        ({"group_id": "demo:billing"}, {}, "excluded group billing"),
    ],
)
def test_exclusions_say_why(over: dict, person_over: dict, reason: str) -> None:
    policy = _policy(
        exclude_tags=["vip"],
        exclude_channels=["phone"],
        exclude_plans=["free"],
        internal_domains=["acme.example"],
        exclude_groups=["billing"],
    )
    d = pol.evaluate(policy, _ticket(**over), _person(**person_over), [], NOW)
    assert (d.action, d.reason) == (pol.SKIP, reason)


def test_agent_created_tickets_are_skipped_unless_configured() -> None:
    events = [
        _ev(EventKind.CREATED, NOW - timedelta(days=3), author_id="demo:a1", author_role=Role.AGENT)
    ]
    assert pol.evaluate(_policy(), _ticket(), _person(), events, NOW).reason == (
        "created by an agent"
    )
    relaxed = _policy(skip_agent_created=False)
    assert pol.evaluate(relaxed, _ticket(), _person(), events, NOW).action == pol.SEND


def test_quiet_hours_use_the_requesters_time_zone() -> None:
    policy = _policy(quiet_hours="21:00-08:00")
    at = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 in Madrid (UTC+1), 21:30 in London
    madrid = pol.evaluate(policy, _ticket(), _person(), [], at)
    assert madrid.action == pol.LATER and "Europe/Madrid" in madrid.reason
    assert madrid.due_at == datetime(2026, 3, 11, 7, 0, tzinfo=UTC)  # 08:00 Madrid
    london = pol.evaluate(policy, _ticket(), _person(timezone="America/New_York"), [], at)
    assert london.action == pol.SEND  # 16:30 in New York


def test_sampling_is_deterministic_by_ticket_id() -> None:
    picked = [pol.sampled(f"demo:{i}", 0.3) for i in range(2000)]
    assert picked == [pol.sampled(f"demo:{i}", 0.3) for i in range(2000)]
    assert 0.25 < sum(picked) / 2000 < 0.35
    assert all(pol.sampled("demo:1", 1.0) for _ in range(3))
    assert not pol.sampled("demo:1", 0.0)


def test_resolution_cycles_and_ledger_keys() -> None:
    t = _ticket()
    events = [
        _ev(EventKind.STATUS_CHANGE, NOW - timedelta(days=5), old="open", new="solved"),
        _ev(EventKind.STATUS_CHANGE, NOW - timedelta(days=4), old="solved", new="open"),
        _ev(EventKind.STATUS_CHANGE, NOW - timedelta(days=3), old="open", new="solved"),
        _ev(EventKind.STATUS_CHANGE, NOW - timedelta(days=2), old="solved", new="closed"),
    ]
    assert pol.resolution_cycle(t, events) == 2
    assert pol.ledger_key(_policy(), t.id, 2) == "csat/demo:1"
    assert pol.ledger_key(_policy(per_cycle=True), t.id, 2) == "csat/demo:1/c2"
    assert pol.split_key("csat/demo:1/c2") == ("csat", "demo:1")


def test_bad_policy_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"surveys\.csat\.delay"):
        _policy(delay="soon")
    with pytest.raises(ConfigError, match="quiet_hours"):
        _policy(quiet_hours="22h to 7h")
    with pytest.raises(ConfigError, match="sample_rate"):
        _policy(sample_rate=1.5)


# -- links -------------------------------------------------------------------------------------


def test_links_verify_and_detect_tampering_and_expiry() -> None:
    signer = Signer({"k1": "a" * 32})
    token = signer.sign("csat/demo:1", NOW + timedelta(days=1))
    assert peek_offer_key(token) == "csat/demo:1"
    claims = signer.verify(token, NOW)
    assert (claims.offer_key, claims.kid) == ("csat/demo:1", "k1")
    kid, payload, mac = token.split(".")
    forged = signer.sign("csat/demo:2", NOW + timedelta(days=1)).split(".")[1]
    for bad in (f"{kid}.{forged}.{mac}", f"{kid}.{payload}.{mac[:-2]}AA", "garbage"):
        with pytest.raises(LinkError) as err:
            signer.verify(bad, NOW)
        assert err.value.reason == "invalid"
    with pytest.raises(LinkError) as err:
        signer.verify(token, NOW + timedelta(days=2))
    assert err.value.reason == "expired"


def test_key_rotation_keeps_old_links_valid() -> None:
    old = Signer({"k1": "a" * 32})
    token = old.sign("csat/demo:1", NOW + timedelta(days=1))
    rotated = Signer({"k1": "a" * 32, "k2": "b" * 32}, "k2")
    assert rotated.verify(token, NOW).kid == "k1"
    assert rotated.sign("csat/demo:1", NOW + timedelta(days=1)).startswith("k2.")
    retired = Signer({"k2": "b" * 32})
    with pytest.raises(LinkError):
        retired.verify(token, NOW)
    with pytest.raises(ConfigError, match="current_key"):
        Signer({"k1": "a" * 32, "k2": "b" * 32})
    with pytest.raises(ConfigError, match="too short"):
        Signer({"k1": "short"})


# -- templates ---------------------------------------------------------------------------------


def _ctx(**over: object) -> dict[str, object]:
    ctx: dict[str, object] = {
        "brand": "Acme",
        "name": "Carla",
        "ticket_id": "7",
        "ticket_subject": "Login <broken>",
        "question": "Q?",
        "low": "bad",
        "high": "good",
        "expires": "2026-04-01",
        "scores": [{"value": n, "url": f"https://s.example/s/t?score={n}"} for n in range(1, 6)],
        "survey_url": "https://s.example/s/t",
        "opt_out_url": "https://s.example/u/t",
        "language": "es",
    }
    ctx.update(over)
    return ctx


def test_builtin_templates_in_three_languages_escape_html() -> None:
    ts = TemplateSet()
    es = ts.render("csat", "es", _ctx())
    en = ts.render("csat", "en", _ctx(language="en"))
    pt = ts.render("csat", "pt", _ctx(language="pt"))
    assert es.subject.startswith("¿Qué tal") and "Hola, Carla:" in es.text
    assert en.subject.startswith("How did we do") and "Hi Carla," in en.text
    assert pt.subject.startswith("Como foi") and "Olá, Carla," in pt.text
    assert "Login &lt;broken&gt;" in es.html and "Login <broken>" in es.text
    assert "https://s.example/s/t?score=5" in es.text and "https://s.example/u/t" in es.short


def test_user_templates_override_and_add_languages(tmp_path) -> None:
    (tmp_path / "csat.subject.en.j2").write_text("Rate ticket {{ ticket_id }}")
    (tmp_path / "text.fr.j2").write_text("Bonjour {{ name }} {{ survey_url }}")
    ts = TemplateSet(tmp_path)
    assert ts.render("csat", "en", _ctx()).subject == "Rate ticket 7"
    assert ts.render("nps", "en", _ctx()).subject.startswith("How did we do")
    assert ts.pick_language(["fr"], "csat", "en") == "fr"
    assert ts.pick_language(["de", None], "csat", "es") == "es"
    assert ts.render("csat", "fr", _ctx()).text == "Bonjour Carla https://s.example/s/t"


def test_user_templates_are_sandboxed(tmp_path) -> None:
    (tmp_path / "subject.en.j2").write_text("{{ name.__class__.__mro__ }}")
    with pytest.raises(ConfigError, match="template error"):
        TemplateSet(tmp_path).render("csat", "en", _ctx())
