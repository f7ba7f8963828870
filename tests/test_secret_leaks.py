"""Plant a secret everywhere a secret can be set, run what a user runs, grep everything.

Every secret-bearing setting of every installed plugin (each plugin class's
``secret_settings()``), every HTTP proxy URL, and the store's password and URL get a unique
random value, once written in the file and once through the environment (``env:NAME``, or
``${NAME}`` for the URLs). Then the commands a user runs on such a workspace run against
closed 127.0.0.1 ports, and their stdout, stderr (text and JSON logs, ``-vv``), JSON, the HTML
report, crash reports and the store's bytes are searched for every planted value.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.cli import app as app_module
from cstoolkit.cli import main
from cstoolkit.crash import CRASH_DIR_ENV
from cstoolkit.host import Host
from cstoolkit.sample import SampleSpec, generate_file
from cstoolkit.secrets import REDACTOR

SECTIONS = {
    "backend": "backends",
    "channel": "channels",
    "survey_provider": "surveys",
    "inbound_source": "inbound",
}
RECIPE = """
name: leak-probe
query: "status:new"
rules:
  - name: route billing
    when: {subject: {contains_any: [invoice, factura]}}
    then:
      - add_tags: [topic_billing]
"""


@pytest.fixture(scope="module")
def host() -> Host:
    return Host().load()


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    """Every run starts knowing none of the planted values (as a new process would)."""
    saved = set(REDACTOR._secrets)
    REDACTOR._secrets, REDACTOR._pattern = set(), None
    yield
    REDACTOR._secrets, REDACTOR._pattern = saved, None


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Planted:
    root: Path
    config: Path
    secrets: dict[str, str] = field(default_factory=dict)  # where -> value
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # what ran -> what it printed

    def new(self, where: str, via_env: bool, prefix: str = "S") -> tuple[str, str]:
        """A unique value planted at ``where``: (the value, how the file writes it)."""
        value = f"{prefix}{pysecrets.token_hex(10)}"
        self.secrets[where] = value
        if not via_env:
            return value, value
        name = f"CST_PLANTED_{len(self.env)}"
        self.env[name] = value
        return value, name


def toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def plant(root: Path, host: Host, port: int, store: str = "") -> Planted:
    """A workspace whose every secret setting holds a planted value (file and env forms)."""
    planted = Planted(root, root / "cstoolkit.toml")
    closed = f"http://127.0.0.1:{port}"
    fixed: dict[str, Any] = {
        "base_url": closed,
        "timeout": 1,
        "max_retry_wait": 0,  # a closed port fails at once instead of backing off
        "retries": 0,
        "channel": "outbox_lit",
        "backend": "local_lit",
        "rating_url": f"{closed}/rate/{{score}}",
        "public_url": f"{closed}/s",
        "path": "desk.jsonl",
        "from_number": "+15005550006",
        "url": f"{closed}/hook",
    }
    typed = {"str": "x", "int": 1, "float": 1.0, "bool": True, "path": "x", "table": {}, "list": []}
    tables = []
    for kind, section in SECTIONS.items():
        for name, reg in sorted(host.registry[kind].items()):
            cls = reg.obj
            secret_names = cls.secret_settings()
            for form in ("lit", "env"):
                inst = f"{name}_{form}"
                lines = [f"[{section}.{inst}]", f'plugin = "{name}"']
                if section == "inbound":  # the core keys of an inbound source
                    lines += ['backend = "local_lit"', 'reply_channel = "outbox_lit"',
                              f'public_url = "{closed}/inbound/{inst}"']  # fmt: skip
                for spec in cls.settings:
                    where = f"{section}.{inst}.{spec.name}"
                    if spec.name in secret_names:
                        value, written = planted.new(where, form == "env")
                        if spec.name.endswith("url"):  # a secret URL (a webhook's) is a URL
                            url = f"{closed}/hook/{value}"
                            planted.secrets[where] = url  # the whole URL is the secret
                            if form == "env":
                                planted.env[written] = url
                            else:
                                written = url
                        written = f"env:{written}" if form == "env" else written
                        value: Any = {"k1": written} if spec.type == "table" else written
                    elif spec.name == "proxy":
                        _, written = planted.new(where, form == "env", "P")
                        written = f"${{{written}}}" if form == "env" else written
                        value = f"http://proxyuser:{written}@127.0.0.1:{port}"
                    elif section == "inbound" and spec.name in ("host", "port", "security"):
                        value = {"host": "127.0.0.1", "port": port, "security": "none"}[spec.name]
                    elif spec.name in fixed:
                        value = fixed[spec.name]
                    elif spec.required:
                        value = spec.choices[0] if spec.choices else typed[spec.type]
                    else:
                        continue
                    lines.append(f"{spec.name} = {toml(value)}")
                tables.append("\n".join(lines))
    _, store_password = planted.new("store.password", False)
    head = store or f'[store]\npassword = "{store_password}"'
    run = '[run]\nsteps = ["config check"]'
    planted.config.write_text("\n\n".join([head, *tables, run]) + "\n", "utf-8")
    spec = SampleSpec(
        tickets=40, days=20, seed=7, end=datetime.fromisoformat("2026-03-01T00:00:00+00:00")
    )
    generate_file(spec, root / "desk.jsonl")
    (root / "recipe.yaml").write_text(RECIPE, "utf-8")
    return planted


#: What runs by default: every command kind once, logs at debug level in both formats.
COMMANDS: list[list[str]] = [
    ["config", "show"],
    ["config", "show", "--json"],
    ["config", "check", "--json"],
    ["doctor", "--json"],
    ["status", "--json"],
    ["-vv", "--log-format", "json", "sync", "pull", "--json"],
    ["tickets", "list", "--json"],
    ["-vv", "triage", "run", "recipe.yaml"],
    ["-vv", "survey", "send", "--dry-run", "--json"],
    ["report", "kpi", "--format", "html", "--out", "report.html"],
    ["-vv", "inbound", "poll", "--json"],
    ["inbound", "status", "--json"],
    ["-vv", "inbound", "replies", "--json"],
]
#: The other forms (tables, text logs), run by the slow tests.
MORE_COMMANDS: list[list[str]] = [
    ["config", "check"],
    ["doctor"],
    ["status"],
    ["-vv", "sync", "pull"],
    ["triage", "run", "recipe.yaml", "--json"],
    ["-vv", "--log-format", "json", "survey", "send", "--dry-run"],
    ["report", "kpi", "--format", "json"],
    ["run", "--dry-run"],
]


def run_all(
    planted: Planted, commands: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> dict[str, int]:
    """Run each command through the real entry point; keep what it printed. -> exit codes."""
    codes = {}
    for args in commands:
        REDACTOR._secrets, REDACTOR._pattern = set(), None  # as a new process
        label = " ".join(args)
        try:
            main(["--config", str(planted.config), *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        planted.outputs[label] = f"{out}\n{err}"
        codes[label] = code
    return codes


def force_internal_error(
    planted: Planted, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> int:
    """A bug whose message holds every planted value (as a careless plugin's repr would)."""
    from cstoolkit import checks

    everything = " ".join(planted.secrets.values())

    def config_problems(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"bug while holding {everything}")

    with monkeypatch.context() as m:
        m.setattr(checks, "config_problems", config_problems)
        codes = run_all(planted, [["config", "check"], ["-vv", "config", "check"]], capsys)
    planted.outputs["forced internal error"] = planted.outputs.pop("config check")
    planted.outputs["forced internal error -vv"] = planted.outputs.pop("-vv config check")
    assert set(codes.values()) == {70}, planted.outputs
    return 70


def files_to_search(planted: Planted) -> dict[str, bytes]:
    found = {}
    for pattern in ("cstoolkit.db*", "report.html", "crash/*.txt", "outbox/**/*"):
        for path in planted.root.glob(pattern):
            if path.is_file():
                found[str(path.relative_to(planted.root))] = path.read_bytes()
    return found


def assert_nothing_leaked(planted: Planted) -> None:
    leaks = []
    for where, value in planted.secrets.items():
        for label, text in planted.outputs.items():
            if value in text:
                line = next(x for x in text.splitlines() if value in x)
                leaks.append(f"{where} in output of `cst {label}`: {line[:300]}")
        for name, data in files_to_search(planted).items():
            if value.encode() in data:
                leaks.append(f"{where} in {name}")
    assert not leaks, "\n".join(leaks)


@pytest.fixture
def workspace(tmp_path: Path, host: Host, monkeypatch: pytest.MonkeyPatch) -> Iterator[Planted]:
    monkeypatch.setattr(app_module, "HOST_OVERRIDE", host)  # load the plugins once
    monkeypatch.setenv(CRASH_DIR_ENV, str(tmp_path / "crash"))
    planted = plant(tmp_path, host, closed_port())
    for name, value in planted.env.items():
        monkeypatch.setenv(name, value)
    yield planted


def test_planted_secrets_never_leak(
    workspace: Planted,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    host: Host,
) -> None:
    kinds = {k: sorted(host.registry[k]) for k in SECTIONS}
    assert {"zendesk", "freshdesk", "request_tracker"} <= set(kinds["backend"])
    assert {"smtp", "webhook", "slack", "twilio_sms"} <= set(kinds["channel"])
    codes = run_all(workspace, COMMANDS, capsys)
    # The commands really ran: config is fine, the local helpdesk synced, the others failed.
    assert codes["config check --json"] == 0, workspace.outputs["config check --json"]
    assert codes["-vv --log-format json sync pull --json"] == 1
    assert '"outcome": "ok"' in workspace.outputs["-vv --log-format json sync pull --json"]
    assert codes["tickets list --json"] == 0 and codes["-vv triage run recipe.yaml"] == 0
    assert codes["-vv survey send --dry-run --json"] == 0, workspace.outputs
    assert (workspace.root / "report.html").exists()
    assert "cannot connect" in workspace.outputs["doctor --json"]
    assert codes["-vv inbound poll --json"] == 1  # the mailbox's port is closed
    assert "Connection refused" in workspace.outputs["-vv inbound poll --json"]
    assert {"whatsapp", "twilio", "imap"} <= set(kinds["inbound_source"])
    force_internal_error(workspace, capsys, monkeypatch)
    assert list((workspace.root / "crash").glob("*.txt"))
    assert_nothing_leaked(workspace)
    # The secrets were there to leak: config show names every planted setting.
    shown = workspace.outputs["config show"]
    assert shown.count("***") >= len(workspace.secrets) - len(workspace.env)


@pytest.mark.slow
def test_planted_secrets_never_leak_in_any_output_form(
    workspace: Planted, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables, text logs and the other formats of the same commands."""
    codes = run_all(workspace, [*COMMANDS, *MORE_COMMANDS], capsys)
    assert codes["doctor"] == 1 and codes["-vv sync pull"] == 1
    assert codes["report kpi --format json"] == 0
    assert_nothing_leaked(workspace)


def test_cst_run_step_output_never_leaks(
    workspace: Planted, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cst run`` steps are real processes: their stderr tails reach the report and the store."""
    codes = run_all(workspace, [["run", "--dry-run", "--json"]], capsys)
    assert codes["run --dry-run --json"] == 0, workspace.outputs
    assert "secret written in the file" in workspace.outputs["run --dry-run --json"]
    assert_nothing_leaked(workspace)


def test_store_url_secrets_never_leak(
    tmp_path: Path,
    host: Host,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PostgreSQL store that cannot be reached: its URL's password, a query parameter and
    the password setting, in every command that opens or names the store."""
    monkeypatch.setattr(app_module, "HOST_OVERRIDE", host)
    monkeypatch.setenv(CRASH_DIR_ENV, str(tmp_path / "crash"))
    port = closed_port()
    pw, q = f"u#?/@{pysecrets.token_hex(8)}", pysecrets.token_hex(8)
    store = (
        f'[store]\nurl = "postgresql://cst:{pw}@127.0.0.1:{port}/support?sslpassword={q}"\n'
        'password = "env:CST_STORE_PW"'
    )
    planted = plant(tmp_path, host, port, store)
    planted.secrets.update({"store.url password": pw, "store.url sslpassword": q})
    planted.secrets["store.password"] = planted.env["CST_STORE_PW"] = pysecrets.token_hex(9)
    for name, value in planted.env.items():
        monkeypatch.setenv(name, value)
    commands = [c for c in COMMANDS if "report" not in c and "survey" not in c]
    codes = run_all(planted, commands, capsys)
    assert codes["status --json"] == 1, planted.outputs["status --json"]
    assert "cannot open the store" in planted.outputs["status --json"]
    force_internal_error(planted, capsys, monkeypatch)
    assert_nothing_leaked(planted)


@pytest.mark.slow
@pytest.mark.server
def test_planted_secrets_never_leak_into_a_postgresql_store(
    tmp_path: Path,
    host: Host,
    pg_target: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole set again on a real PostgreSQL store (password given as a query parameter and
    as the password setting; the test server trusts local users), then every row of every
    table of its schema searched."""
    import psycopg

    monkeypatch.setattr(app_module, "HOST_OVERRIDE", host)
    monkeypatch.setenv(CRASH_DIR_ENV, str(tmp_path / "crash"))
    q = pysecrets.token_hex(8)
    store = (
        f'[store]\nurl = "{pg_target.url}?password={q}"\nschema = "{pg_target.schema}"\n'
        'password = "env:CST_STORE_PW"'
    )
    planted = plant(tmp_path, host, closed_port(), store)
    planted.secrets["store.url password"] = q
    planted.secrets["store.password"] = planted.env["CST_STORE_PW"] = pysecrets.token_hex(9)
    for name, value in planted.env.items():
        monkeypatch.setenv(name, value)
    codes = run_all(planted, [*COMMANDS, *MORE_COMMANDS], capsys)
    assert codes["tickets list --json"] == 0, planted.outputs["tickets list --json"]
    force_internal_error(planted, capsys, monkeypatch)
    assert_nothing_leaked(planted)
    with psycopg.connect(pg_target.url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (pg_target.schema,)
            )
        ]
        assert "tickets" in tables
        dump = "\n".join(
            str(row)
            for table in tables
            for row in conn.execute(f'SELECT * FROM "{pg_target.schema}"."{table}"')
        )
    leaked = [w for w, v in planted.secrets.items() if v in dump]
    assert not leaked, leaked
    assert os.environ.get("CST_STORE_PW") == planted.secrets["store.password"]
