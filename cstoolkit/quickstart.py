"""``cst quickstart``: a workspace that shows the whole product in seconds, with no account.

Safe to re-run: an existing config, helpdesk file and recipes are kept (so changes written to
them survive), and the sync is incremental, so a second run adds nothing.

Every figure it prints is what a documented command prints when run in the workspace with no
flags: the generated config holds what those commands need (the business-hours calendar of the
KPI figures as ``[kpi] calendar``, an SLA policy, costs, the roster the recipes use), and the
survey signing key is kept in the workspace's own keys file (``keys_file``), never in the
user's global one unless ``$CSTOOLKIT_KEYS_FILE`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cstoolkit.config import load_config
from cstoolkit.host import Host
from cstoolkit.instances import build_instance
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.store import open_store
from cstoolkit.sync import PullSummary, pull

BACKEND = "demo"
#: The sample mailbox's inbound source, and the tag of the tickets it creates.
INBOUND = "mail"
INBOUND_TAG = "inbound"
#: The business-hours calendar of the sample desk (its office hours in Madrid).
CALENDAR = "madrid"
KEYS_FILE = "keys.json"
CONFIG_TEXT = """\
# Created by `cst quickstart`. Paths are relative to this file.
# Reference: docs/configuration.md

# The 0600 file holding this file's key: references (`cst keys set NAME` adds one).
keys_file = "{keys_file}"
# Who works on the desk: the agents synced from the sample helpdesk (docs/roster.md).
roster = "store"

[store]
path = "cstoolkit.db"

[backends.{backend}]
plugin = "local"
path = "helpdesk.jsonl"

# The sample desk's office hours: the KPI report, the recipes and the SLA policy use them.
[calendars.{calendar}]
timezone = "Europe/Madrid"
hours = {{ mon-fri = "09:00-18:00" }}
holidays_country = "ES"

[kpi]
calendar = "{calendar}"

# Targets per priority, in business hours of the calendar (docs/sla.md).
[sla.standard]
calendar = "{calendar}"
business_hours = true
first_reply = {{ urgent = "1h", high = "2h", normal = "4h", low = "8h" }}
resolution = {{ urgent = "8h", high = "1d", normal = "3d", low = "5d" }}

[costs]
currency = "EUR"
agent_hour = 28.5

# The knowledge base: Markdown articles in kb/ (docs/knowledge.md); `cst kb sync` reads them.
[knowledge.help]
plugin = "markdown"
path = "kb"
base_url = "https://help.example.com"

# Customers' mail, delivered to a Maildir (docs/inbound.md): `cst inbound poll` takes each new
# message in once, as a ticket in [backends.{backend}] or a comment on the ticket it answers, and
# the knowledge base answers a new ticket first when an article clears the floor.
[inbound.{inbound}]
plugin = "maildir"
backend = "{backend}"
path = "Maildir"
tags = ["inbound"]
answer_from_kb = true
"""


def config_text() -> str:
    """The cstoolkit.toml quickstart writes into a new workspace."""
    from cstoolkit.surveys.quickstart import CONFIG_SNIPPET

    core = CONFIG_TEXT.format(
        backend=BACKEND, calendar=CALENDAR, keys_file=KEYS_FILE, inbound=INBOUND
    )
    return core + CONFIG_SNIPPET


@dataclass
class QuickstartResult:
    directory: Path
    config: Path
    helpdesk: Path
    store: Path
    keys: Path
    created_config: bool
    generated_tickets: int
    recipes: list[Path]
    sync: PullSummary
    by_status: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    #: stage name -> (what to tell the person, JSON-ready details)
    stages: dict[str, tuple[list[str], dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "config": str(self.config),
            "helpdesk": str(self.helpdesk),
            "store": str(self.store),
            "keys_file": str(self.keys),
            "created_config": self.created_config,
            "generated_tickets": self.generated_tickets,
            "recipes": [str(p) for p in self.recipes],
            "sync": self.sync.as_dict(),
            "by_status": self.by_status,
            "by_channel": self.by_channel,
            **{name: details for name, (_, details) in self.stages.items()},
        }


def run(directory: Path, host: Host, *, tickets: int = 5000, seed: int = 1) -> QuickstartResult:
    from cstoolkit import secrets
    from cstoolkit.triage.quickstart import install_recipes

    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "cstoolkit.toml"
    created = not config_path.exists()
    if created:
        config_path.write_text(config_text(), "utf-8")
    config = load_config(config_path)
    inst = config.instance("backends", BACKEND)
    helpdesk = config.resolve_path(str(inst.settings.get("path", "helpdesk.jsonl")))
    generated = 0
    if not helpdesk.exists():
        spec = SampleSpec(tickets=tickets, seed=seed, survey_answers=True, realistic_text=True)
        generated = generate_file(spec, helpdesk).tickets
    recipes = install_recipes(config.base_dir / "recipes")
    store = open_store(config.store_path)
    try:
        backend = build_instance(config, host, "backends", BACKEND, store)
        summary = pull(store, backend)
        by_status = store.live_ticket_counts("status")
        by_channel = store.live_ticket_counts("channel")
        stages = _stages(directory, config, store, host)
    finally:
        store.close()
    return QuickstartResult(
        directory=directory,
        config=config_path,
        helpdesk=helpdesk,
        store=config.store_path,
        keys=secrets.keys_path(config.env),
        created_config=created,
        generated_tickets=generated,
        recipes=recipes,
        sync=summary,
        by_status=by_status,
        by_channel=by_channel,
        stages=stages,
    )


def _stages(
    directory: Path, config: Any, store: Any, host: Host
) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """The rest of the product on the sample helpdesk: each stage is safe to re-run."""
    from cstoolkit.kpi.quickstart import demo as kpi_demo
    from cstoolkit.surveys.quickstart import demo as survey_demo
    from cstoolkit.triage.quickstart import demo as triage_demo

    stages: dict[str, tuple[list[str], dict[str, Any]]] = {}
    # The sample mail first (after the articles: it is answered from them), so every later
    # figure counts its tickets as the commands they name do.
    articles = _knowledge_sync(config, store, host)
    inbound = _inbound(config, store, host)
    text, plan = triage_demo(config, store, host)
    stages["triage"] = (text.splitlines(), plan.summary())
    stages["knowledge"] = _knowledge(config, store, host, articles)
    stages["inbound"] = inbound
    surveys = survey_demo(directory, config, store, host)
    stages["surveys"] = (surveys.lines(), surveys.as_dict())
    summary, html, figures = kpi_demo(config, store, directory, host)
    stages["report"] = (summary.splitlines(), {"html": str(html), "figures": figures})
    return stages


def _knowledge_sync(config: Any, store: Any, host: Host) -> int | None:
    """The sample knowledge base written and synced: how many articles (None: no source)."""
    from cstoolkit.knowledge import sample
    from cstoolkit.knowledge.sync import sync_source

    names = sorted(config.instances("knowledge"))
    if not names:
        return None
    sample.write(config.base_dir / sample.FOLDER)
    total = 0
    for name in names:
        source = build_instance(config, host, "knowledge", name, store)
        total = sync_source(store, name, source).total
    return total


def _knowledge(
    config: Any, store: Any, host: Host, total: int | None
) -> tuple[list[str], dict[str, Any]]:
    """The first-line recipe applied to the sample helpdesk: the open tickets it answers show
    in the report (self_service)."""
    from cstoolkit.knowledge import sample
    from cstoolkit.knowledge.backtest import backtest
    from cstoolkit.knowledge.search import Index
    from cstoolkit.triage import runner

    if total is None:
        return ["Knowledge base: no [knowledge.NAME] source configured (docs/knowledge.md)."], {}
    from cstoolkit.triage.quickstart import install_recipes

    recipe = config.base_dir / "recipes" / sample.RECIPE_NAME
    if not recipe.exists():
        install_recipes(recipe.parent)
    rel = recipe.relative_to(config.base_dir)
    ws = runner.Workspace(config, host, store)
    plan = runner.plan_run(ws, [recipe])
    report = runner.apply(ws, plan)
    answered = [tp for tp in plan.changing if any("answer" in d for d in tp.done)]
    handed = [tp for tp in plan.changing if any("handed" in d for d in tp.done)]
    past = backtest(Index(store), store.select()).summary()
    lines = [
        f"Knowledge base {sample.FOLDER}/: {total} articles (cst kb list). Recipe {rel} applied "
        f"to the sample helpdesk: {len(answered)} open tickets answered from the knowledge "
        f"base, {len(handed)} handed to the team.",
    ]
    for tp in answered[:3]:
        lines.append(f"  {tp.ticket_id}  {'; '.join(d.split(': ', 1)[-1] for d in tp.done)}")
    if report.push is not None and report.push.applied:
        lines.append(f"  undo it:      cst triage revert {report.run_id}")
    lines.append('  search it:    cst kb search "reset password"')
    lines.append(
        f"  backtest:     cst kb backtest  ({past['answered']} of {past['evaluated']} tickets "
        "would have been answered)"
    )
    lines.append("  what is missing: cst kb gaps")
    details = {
        "articles": total,
        "answered": len(answered),
        "handed_off": len(handed),
        "run_id": report.run_id,
        "backtest": past,
    }
    return lines, details


def _inbound(config: Any, store: Any, host: Host) -> tuple[list[str], dict[str, Any]]:
    """The sample mailbox polled into the sample helpdesk: new tickets, a reply threaded to its
    ticket, the knowledge base's first answers; and the self-service figure of today's
    inbound tickets, as ``cst report kpi`` prints it with the options shown."""
    from cstoolkit.inbound import sample
    from cstoolkit.inbound.engine import COMMENTED, CREATED
    from cstoolkit.inbound.first_answer import ANSWERED, HANDED_OFF
    from cstoolkit.inbound.poll import poll_sources

    if INBOUND not in config.instances("inbound"):
        return [f"Inbound: no [inbound.{INBOUND}] source configured (docs/inbound.md)."], {}
    inst = config.instance("inbound", INBOUND)
    folder = config.resolve_path(str(inst.settings.get("path") or sample.FOLDER))
    sample.write(folder)
    report = poll_sources(config, host, store, [INBOUND])
    created = sum(1 for o in report.outcomes if o.action == CREATED)
    commented = sum(1 for o in report.outcomes if o.action == COMMENTED)
    answered = [a for a in report.answers if a.action == ANSWERED]
    handed = [a for a in report.answers if a.action == HANDED_OFF]
    try:
        where = folder.relative_to(config.base_dir).as_posix() + "/"
    except ValueError:
        where = str(folder)
    replies = "reply" if commented == 1 else "replies"
    if report.outcomes:
        head = (
            f"Inbound mail {where}: {len(report.outcomes)} messages taken in once (cst inbound "
            f"poll): {created} new tickets, {commented} {replies} threaded to a ticket; the "
            f"knowledge base answered {len(answered)} first, handed {len(handed)} to the team."
        )
    else:
        head = f"Inbound mail {where}: nothing new (each message is taken in once)."
    lines = [head]
    for a in [*answered, *handed]:
        lines.append(f"  {a.ticket_id}  {a.detail}")
    for problem in report.problems:
        lines.append(f"  {problem}")
    figure = _inbound_self_service(config, store, host)
    lines.append(f"  the tickets:  cst tickets list --query tag:{INBOUND_TAG}")
    lines.append(f"  today's, answered from the KB: {figure}  ({INBOUND_REPORT})")
    details = {
        "taken": len(report.outcomes),
        "created": created,
        "commented": commented,
        "answered": len(answered),
        "handed_off": len(handed),
        "problems": list(report.problems),
        "answered_today": figure,
    }
    return lines, details


#: The report that shows today's inbound tickets answered from the knowledge base.
INBOUND_REPORT = f"cst report kpi --since today --until now --query tag:{INBOUND_TAG} --no-sla"


def _inbound_self_service(config: Any, store: Any, host: Host) -> str:
    """``answered`` of the self_service metric in :data:`INBOUND_REPORT`, as it prints it."""
    from cstoolkit.kpi.formatting import fmt_value, headline
    from cstoolkit.kpi.report import KpiOptions, build_report

    options = KpiOptions(since="today", until="now", query=f"tag:{INBOUND_TAG}", sla=False)
    report = build_report(store, config, options, host)
    for m in report["metrics"]:
        if m["name"] == "self_service":
            return fmt_value(m["unit"], headline(m), m.get("labels"))
    return "-"
