"""One schema for the whole config, checked by every command: each kind of problem is reported as
``file:line: error: key: message`` with exit 2, by ``cst config check``, by ``cst doctor`` and by
any command that loads the file."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from cstoolkit import secrets
from cstoolkit.config import load_config
from tests.config_gen import cst

BASE = """\
[store]
path = "cst.db"

[backends.demo]
plugin = "local"
path = "desk.jsonl"

[backends.mirror]
plugin = "local"
path = "mirror.jsonl"
read_only = true

[channels.outbox]
plugin = "outbox"
path = "outbox"

[calendars.madrid]
timezone = "Europe/Madrid"
hours = { mon-fri = "09:00-18:00" }

[surveys.csat]
plugin = "builtin"
kind = "csat"
channel = "outbox"
signing_keys = { k1 = "key:survey-key" }
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "desk.jsonl").write_text("")
    (tmp_path / "mirror.jsonl").write_text("")
    (tmp_path / "recipe.yaml").write_text("name: r\nrules: []\n")
    secrets.set_key("survey-key", "s" * 40)
    return tmp_path


def problems(ws: Path, extra: str) -> tuple[int, list[str], Path]:
    """``cst config check`` of the base config with ``extra`` (top-level keys go first)."""
    cfg = ws / "cstoolkit.toml"
    cfg.write_text(BASE + extra if extra.startswith("[") else extra + BASE)
    code, _, stderr = cst("--config", str(cfg), "config", "check")
    return code, stderr.splitlines(), cfg


def line_of(cfg: Path, text: str) -> int:
    return next(n for n, line in enumerate(cfg.read_text().splitlines(), 1) if text in line)


# Each case: (TOML added to the base, the key named, a part of the message, the line's text).
CASES = [
    # cross-references
    ('[surveys.nps]\nplugin = "builtin"\nkind = "nps"\nchannel = "outbx"\n'
     'signing_keys = { k1 = "key:survey-key" }\n',
     "surveys.nps.channel", "no [channels.outbx] (did you mean 'outbox'?)", 'channel = "outbx"'),
    ('[sla.gold]\ncalendar = "madird"\nfirst_reply = "4h"\n',
     "sla.gold.calendar", "no [calendars.madird] (did you mean 'madrid'?)", 'calendar = "madird"'),
    ('[kpi]\ncalendar = "berlin"\n', "kpi.calendar", "no [calendars.berlin]",
     'calendar = "berlin"'),
    ('[surveys.nps]\nplugin = "builtin"\nkind = "nps"\nchannel = "outbox"\n'
     'signing_keys = { k1 = "key:no-such-key" }\n',
     "surveys.nps.signing_keys.k1", "no key named 'no-such-key'", "no-such-key"),
    ('[store.x]\n', "store.x", "unknown store setting", "[store.x]"),
    ('roster = "nowhere.yaml"\n', "roster", "nowhere.yaml: no such file", "roster ="),
    # types and ranges
    ("sla = 5\n", "sla", "must be a table", "sla = 5"),
    ('[surveys.csat2]\nplugin = "builtin"\nkind = "csat"\nchannel = "outbox"\n'
     'signing_keys = { k1 = "key:survey-key" }\nfatigue_days = -3\n',
     "surveys.csat2.fatigue_days", "must be at least 0", "fatigue_days = -3"),
    ('[kpi]\nperiod_days = "thirty"\n', "kpi.period_days", "expected an integer, got a string",
     "period_days"),
    ('[staffing]\nshrinkage = 1.5\n', "staffing.shrinkage", "must be at most 1", "shrinkage"),
    ('[doctor]\ntimeout = "forever"\n', "doctor.timeout", "bad duration 'forever'", "timeout"),
    ('[calendars.x]\ntimezone = "Mars/Olympus"\n', "calendars.x.timezone",
     "unknown time zone 'Mars/Olympus'", "Mars/Olympus"),
    # unknown keys, with a did-you-mean
    ('[surveys.csat3]\nplugin = "builtin"\nkind = "csat"\nchannel = "outbox"\n'
     'signing_keys = { k1 = "key:survey-key" }\nfatigue_day = 3\n',
     "surveys.csat3.fatigue_day", "did you mean 'fatigue_days'?", "fatigue_day = 3"),
    ('[kpi]\ncalender = "madrid"\n', "kpi.calender", "did you mean 'calendar'?", "calender"),
    ('[rnu]\nsteps = ["status"]\n', "rnu", "unknown section (did you mean 'run'?)", "[rnu]"),
    # required keys
    ("[calendars.empty]\n", "calendars.empty", "required calendar setting 'timezone' is missing",
     "[calendars.empty]"),
    ("[run]\ntimeout = \"5m\"\n", "run", "required setting 'steps' is missing", "[run]"),
    # the [run] steps, checked as the command lines they are
    ('[run]\nsteps = ["sync pull nope"]\n', "run.steps[0]", "no [backends.nope]",
     "sync pull nope"),
    ('[run]\nsteps = ["triage run missing.yaml"]\n', "run.steps[0]", "missing.yaml: no such file",
     "missing.yaml"),
    ('[run]\nsteps = ["sync mirror demo mirror"]\n', "run.steps[0]", "is read_only",
     "sync mirror"),
    ('[run]\nsteps = ["survey send --bogus"]\n', "run.steps[0]", "No such option '--bogus'",
     "--bogus"),
    ('[run]\nsteps = ["report kpi --calendar madird"]\n', "run.steps[0]",
     "calendar: no [calendars.madird] (did you mean 'madrid'?)", "--calendar"),
    ('[run]\nsteps = [\n  "status",\n  { command = "frobnicate" },\n]\n', "run.steps[1]",
     "not a command cst run can schedule", "frobnicate"),
    # what only the engines can tell
    ('[calendars.bad]\ntimezone = "UTC"\nhours = { mon-fri = "25:00-26:00" }\n',
     "calendars.bad.hours.mon-fri", "bad hours", "25:00"),
    ('[sla.p]\nwhen = "staus:open"\nfirst_reply = "4h"\n', "sla.p.when", "unknown field 'staus'",
     "staus"),
    ('[backends.demo2]\nplugin = "local"\npath = "desk.jsonl"\n'
     '[backends.demo2.mapping.statuses]\nhold = "paused"\n',
     "backends.demo2.mapping.statuses.hold", "'paused' is not one of", 'hold = "paused"'),
]  # fmt: skip


def test_a_roster_tier_must_escalate_to_a_roster_group(ws: Path) -> None:
    (ws / "roster.yaml").write_text(
        "agents:\n  - id: a1\n    groups: [general]\ntiers:\n  2: tecnical\n"
    )
    code, lines, cfg = problems(ws, 'roster = "roster.yaml"\n')
    assert code == 2
    assert f"{cfg}:1: error: roster: " in lines[0] and "group 'tecnical'" in lines[0], lines


@pytest.mark.parametrize(("extra", "field", "message", "where"), CASES)
def test_each_problem_is_one_line_naming_file_line_and_key(
    ws: Path, extra: str, field: str, message: str, where: str
) -> None:
    code, lines, cfg = problems(ws, extra)
    assert code == 2, lines
    expected = f"{cfg}:{line_of(cfg, where)}: error: {field}: "
    assert any(line.startswith(expected) and message in line for line in lines), (
        expected,
        message,
        lines,
    )


def test_the_base_config_is_fine(ws: Path) -> None:
    code, lines, _ = problems(ws, "")
    assert code == 0, lines


def test_every_command_checks_the_config_on_load(ws: Path) -> None:
    """A command that reads the config stops before doing anything (exit 2, file:line: key)."""
    cfg = ws / "cstoolkit.toml"
    cfg.write_text(BASE + '[sla.gold]\ncalendar = "nowhere"\nfirst_reply = "4h"\n')
    line = line_of(cfg, 'calendar = "nowhere"')
    for args in (["status"], ["tickets", "list"], ["survey", "send", "--dry-run"], ["run"]):
        code, _, stderr = cst("--config", str(cfg), *args)
        assert code == 2, (args, stderr)
        assert f"error: {cfg}:{line}: sla.gold.calendar: no [calendars.nowhere]" in stderr
    assert not (ws / "cst.db").exists()  # nothing was done


def test_a_section_of_the_wrong_type_is_an_error_not_a_crash(ws: Path) -> None:
    cfg = ws / "cstoolkit.toml"
    cfg.write_text('backends = 5\nsurveys = "x"\n[store]\npath = "cst.db"\n')
    for args in (["config", "check"], ["status"], ["doctor", "--format", "json"]):
        code, out, err = cst("--config", str(cfg), *args)
        assert code in (1, 2) and "internal error" not in err, (args, err)
        assert f"{cfg}:1: error: backends: must be a table" in out + err or (
            f"{cfg}:1: backends: must be a table" in err
        )


def test_several_errors_are_listed_one_per_line(ws: Path) -> None:
    cfg = ws / "cstoolkit.toml"
    cfg.write_text(BASE + '[kpi]\ncalendar = "x"\nperiod_days = 0\n')
    code, _, stderr = cst("--config", str(cfg), "status")
    assert code == 2
    assert f"{cfg}:{line_of(cfg, 'calendar = ')}: error: kpi.calendar: " in stderr
    assert f"{cfg}:{line_of(cfg, 'period_days')}: error: kpi.period_days: " in stderr
    assert "2 errors in the configuration" in stderr


def test_config_check_and_doctor_report_the_same_problems(ws: Path) -> None:
    cfg = ws / "cstoolkit.toml"
    cfg.write_text(BASE + '[kpi]\ncalendar = "x"\n[run]\nsteps = ["sync pull nope"]\n')
    code, out, _ = cst("--config", str(cfg), "config", "check", "--json")
    assert code == 2
    found = {f"{p['path']}:{p['line']}: {p['severity']}: {p['field']}: {p['message']}"
             for p in json.loads(out)["problems"]}  # fmt: skip
    code, out, _ = cst("--config", str(cfg), "doctor", "--json")
    assert code == 1
    reported = {c["detail"] for c in json.loads(out) if c["check"] == "config"}
    assert found == reported and len(found) == 2


def test_literal_secrets_warn_and_unset_references_fail(ws: Path, monkeypatch) -> None:
    monkeypatch.delenv("CST_UNSET_TOKEN", raising=False)
    extra = (
        '[channels.hook]\nplugin = "webhook"\nurl = "http://127.0.0.1:9/x"\n'
        'secret = "plain-literal-secret"\n'
        '[channels.hook2]\nplugin = "webhook"\nurl = "http://127.0.0.1:9/x"\n'
        'secret = "env:CST_UNSET_TOKEN"\n'
    )
    code, lines, _cfg = problems(ws, extra)
    assert code == 2
    assert any(": warning: channels.hook.secret: a plain secret" in line for line in lines)
    assert any(
        ": error: channels.hook2.secret: environment variable CST_UNSET_TOKEN is not set" in line
        for line in lines
    )
    assert not any("plain-literal-secret" in line for line in lines)


def test_lines_are_found_in_every_toml_form(tmp_path: Path) -> None:
    from cstoolkit.config.positions import key_lines

    text = (
        "# a comment\r\n"
        'surveys.nps = { plugin = "builtin", kind = "nps", channel = "x", '
        'signing_keys = { k1 = "key:a" } }\r\n'
        "\r\n"
        "[[run.steps]]\r\n"
        'command = "status"\r\n'
        "[[run.steps]]\r\n"
        "command = '''sync\r\npull'''\r\n"
        'name = "two"\r\n'
    )
    lines = key_lines(text)
    assert lines[("surveys", "nps", "channel")] == 2
    assert lines[("surveys", "nps", "signing_keys", "k1")] == 2
    assert lines[("run", "steps", 1)] == 6
    assert lines[("run", "steps", 1, "name")] == 9
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(text.encode())
    assert load_config(cfg).line("run", "steps", 1, "command") == 7


def test_survey_kinds_are_the_scales_of_messages() -> None:
    from cstoolkit.config.core import SURVEY_KINDS
    from cstoolkit.messages import SCALES

    assert set(SURVEY_KINDS) == set(SCALES)


def test_plugin_settings_derived_from_the_schema_stay_equal() -> None:
    from cstoolkit.config.core import BACKEND_KEYS, SURVEY_POLICY_KEYS
    from cstoolkit.plugin import COMMON_BACKEND_SETTINGS
    from cstoolkit.surveys.policy import POLICY_SETTINGS

    assert [s.name for s in COMMON_BACKEND_SETTINGS] == [k.name for k in BACKEND_KEYS]
    assert [(s.name, s.default) for s in POLICY_SETTINGS] == [
        (k.name, k.default) for k in SURVEY_POLICY_KEYS
    ]


# -- layers ----------------------------------------------------------------------------------

#: What the bottom layer may import from cstoolkit (itself aside).
#: The bottom modules config may use: errors, secrets, the one reader of files people write
#: (strict UTF-8, bounded YAML; it imports only errors) and the one time-spec parser (likewise).
ALLOWED = {"cstoolkit.errors", "cstoolkit.secrets", "cstoolkit.textfiles", "cstoolkit.timespec"}
PENDING: set[tuple[str, str]] = set()


def _imports(path: Path) -> set[tuple[str, str]]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out |= {(node.module, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            out |= {(alias.name, "") for alias in node.names}
    return out


def test_config_is_the_bottom_layer() -> None:
    """cstoolkit.config imports no engine, store, plugin or command (lazy imports included)."""
    import cstoolkit.config

    root = Path(cstoolkit.config.__file__)
    files = sorted(root.parent.glob("*.py")) if root.name == "__init__.py" else [root]
    upward = []
    for path in files:
        for module, name in _imports(path):
            if not module.startswith("cstoolkit") or module.startswith("cstoolkit.config"):
                continue
            full = f"{module}.{name}" if module == "cstoolkit" else module
            if full in ALLOWED or (module, name) in PENDING:
                continue
            upward.append(f"{path.name}: {module}.{name}")
    assert upward == []


def test_a_secret_missing_on_this_host_stops_only_what_uses_it(ws: Path, monkeypatch) -> None:
    """Hosts of one team may each hold only the secrets of their own jobs: on load a reference
    that does not resolve here stops nothing; `config check` reports it; the instance that
    needs it fails with one line naming the setting when a command uses it."""
    monkeypatch.delenv("CST_UNSET_TOKEN", raising=False)
    cfg = ws / "cstoolkit.toml"
    cfg.write_text(
        BASE + '[channels.hook]\nplugin = "webhook"\nurl = "http://127.0.0.1:9/x"\n'
        'secret = "env:CST_UNSET_TOKEN"\n'
    )
    code, _, stderr = cst("--config", str(cfg), "status")
    assert code == 0, stderr
    code, _, stderr = cst("--config", str(cfg), "config", "check")
    assert code == 2 and "channels.hook.secret: environment variable CST_UNSET_TOKEN" in stderr
    code, _, stderr = cst("--config", str(cfg), "doctor", "--json")
    assert code == 1
