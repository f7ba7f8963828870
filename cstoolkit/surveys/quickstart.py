"""The survey part of ``cst quickstart``: send the sample helpdesk's due surveys to a file outbox.

The lead's :mod:`cstoolkit.quickstart` writes :data:`CONFIG_SNIPPET` into the demo config and
calls :func:`demo` after the sync. Answer links are signed with a demo key kept in the 0600 keys
file of the workspace's config (its ``keys_file``; created once, never printed).
"""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cstoolkit import secrets

KEY_NAME = "quickstart-survey-key"

#: Tables ``cst quickstart`` appends to the cstoolkit.toml it creates.
CONFIG_SNIPPET = f"""
[channels.outbox]
plugin = "outbox"
path = "outbox"

[surveys.csat]
plugin = "builtin"
kind = "csat"
channel = "outbox"
signing_keys = {{ demo = "key:{KEY_NAME}" }}
public_url = "http://127.0.0.1:8765"
brand = "Demo Support"
delay = "24h"
max_age = "7d"
fatigue_days = 14
"""


@dataclass
class SurveyDemo:
    outbox: Path
    sent: int = 0
    failed: int = 0
    in_doubt: int = 0
    files: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    example: Path | None = None
    note: str = ""
    keys_file: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "outbox": str(self.outbox),
            "sent": self.sent,
            "failed": self.failed,
            "in_doubt": self.in_doubt,
            "files": self.files,
            "skipped": self.skipped,
            "example": str(self.example) if self.example else None,
            "note": self.note,
            "keys_file": str(self.keys_file) if self.keys_file else None,
        }

    def lines(self) -> list[str]:
        """What quickstart tells the person (stderr)."""
        if self.note:
            return [f"surveys: {self.note}"]
        out = [
            f"surveys: sent {self.sent} CSAT survey(s) to the file outbox {self.outbox} "
            f"({self.files} file(s) there)"
        ]
        if self.example:
            out.append(f"  open one: {self.example}")
        if self.keys_file:
            out.append(f"  links signed with the key {KEY_NAME!r} in {self.keys_file} (mode 0600)")
        out.append("  answer them: cst survey serve, then open a link from a message")
        out.append("  the counts:  cst status")
        return out


def ensure_demo_key(env: Any = None) -> Path:
    """Create the demo signing key in the keys file of a config's environment (``config.env``:
    its ``keys_file``, or $CSTOOLKIT_KEYS_FILE) if it is not there yet; return that file."""
    path = secrets.keys_path(env)
    if KEY_NAME not in secrets.load_keys(path):
        secrets.set_key(KEY_NAME, pysecrets.token_urlsafe(32), path)
    return path


def demo(workspace_dir: Path, config: Any, store: Any, host: Any) -> SurveyDemo:
    """Send the due surveys of the quickstart workspace; safe to re-run (nothing twice)."""
    from cstoolkit.surveys.send import send_surveys

    outbox = Path(workspace_dir) / "outbox"
    if "csat" not in config.instances("surveys"):
        return SurveyDemo(outbox, note="no [surveys.csat] in the config; skipped")
    inst = config.instance("channels", "outbox")
    outbox = config.resolve_path(str(inst.settings.get("path", "outbox")))
    keys_file = ensure_demo_key(config.env)
    report = send_surveys(config, host, store, survey="csat")
    files = sorted(outbox.glob("*.eml")) + sorted(outbox.glob("*.json")) if outbox.exists() else []
    return SurveyDemo(
        outbox=outbox,
        sent=report.count("sent"),
        failed=report.count("failed"),
        in_doubt=len(report.in_doubt),
        files=len(files),
        skipped=report.skipped,
        example=files[0] if files else None,
        keys_file=keys_file,
    )
