"""The small sample workspace several test packages share: a config with one local helpdesk, an
outbox channel, a business-hours calendar and an SLA, and a sample helpdesk synced into its store.

Each package builds it once per session with its own size and seed (fixtures in its conftest)
and copies it for every test that may write to it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

CONFIG = """\
roster = "roster.yaml"

[store]
path = "cstoolkit.db"

[backends.demo]
plugin = "local"
path = "helpdesk.jsonl"

[channels.out]
plugin = "outbox"
path = "outbox"

[calendars.madrid]
timezone = "Europe/Madrid"
hours = { mon-fri = "09:00-18:00" }

[sla.standard]
calendar = "madrid"
first_reply = { urgent = "1h", high = "4h", normal = "8h", low = "16h" }
resolution = "40h"
"""


def build(base: Path, *, roster: str, tickets: int, days: int, seed: int, end: datetime) -> Path:
    """Write the config, the roster and a generated helpdesk into ``base`` and sync it into the
    workspace's store (a fixed ``end`` keeps results from drifting with the clock)."""
    from cstoolkit.config import build_instance, load_config
    from cstoolkit.host import Host
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store import open_store
    from cstoolkit.sync import pull

    (base / "cstoolkit.toml").write_text(CONFIG)
    (base / "roster.yaml").write_text(roster)
    spec = SampleSpec(tickets=tickets, days=days, seed=seed, end=end)
    generate_file(spec, base / "helpdesk.jsonl")
    config = load_config(base / "cstoolkit.toml")
    store = open_store(config.store_path)
    try:
        pull(store, build_instance(config, Host().load(), "backends", "demo", store))
    finally:
        store.close()
    return base
