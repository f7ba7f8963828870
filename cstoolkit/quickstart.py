"""``cst quickstart``: a workspace that shows the whole product in seconds, with no account.

Safe to re-run: an existing config and helpdesk file are kept (so changes written to the
helpdesk survive), and the sync is incremental, so a second run adds nothing.
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
CONFIG_TEXT = """\
# Created by `cst quickstart`. Paths are relative to this file.
# Reference: docs/configuration.md

[store]
path = "cstoolkit.db"

[backends.{backend}]
plugin = "local"
path = "helpdesk.jsonl"
"""


def _config_text() -> str:
    from cstoolkit.surveys.quickstart import CONFIG_SNIPPET

    return CONFIG_TEXT.format(backend=BACKEND) + CONFIG_SNIPPET


@dataclass
class QuickstartResult:
    directory: Path
    config: Path
    helpdesk: Path
    store: Path
    created_config: bool
    generated_tickets: int
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
            "created_config": self.created_config,
            "generated_tickets": self.generated_tickets,
            "sync": self.sync.as_dict(),
            "by_status": self.by_status,
            "by_channel": self.by_channel,
            **{name: details for name, (_, details) in self.stages.items()},
        }


def run(directory: Path, host: Host, *, tickets: int = 5000, seed: int = 1) -> QuickstartResult:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "cstoolkit.toml"
    created = not config_path.exists()
    if created:
        config_path.write_text(_config_text(), "utf-8")
    config = load_config(config_path)
    inst = config.instance("backends", BACKEND)
    helpdesk = config.resolve_path(str(inst.settings.get("path", "helpdesk.jsonl")))
    generated = 0
    if not helpdesk.exists():
        generated = generate_file(SampleSpec(tickets=tickets, seed=seed), helpdesk).tickets
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
        created_config=created,
        generated_tickets=generated,
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
    text, plan = triage_demo(config, store, host)
    stages["triage"] = (text.splitlines(), plan.summary())
    surveys = survey_demo(directory, config, store, host)
    stages["surveys"] = (surveys.lines(), surveys.as_dict())
    summary, html = kpi_demo(config, store, directory, host)
    stages["report"] = (
        [*summary.splitlines(), f"HTML report: {html}"],
        {"html": str(html)},
    )
    return stages
