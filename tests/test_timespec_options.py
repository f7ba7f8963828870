"""Every command option and config key that takes a time spec accepts the same forms and gives
the same one-line error (exit 2) for the same mistake (issue 15: ``sync pull --since 90m``
worked and ``report kpi --since 90m`` failed; ``1.5d`` the other way round).

Each case runs the real entry point in this process (``tests.config_gen.cst``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cstoolkit import secrets
from tests.config_gen import cst

CONFIG = """\
[store]
path = "cst.db"

[backends.desk]
plugin = "local"
path = "desk.jsonl"
"""
RECIPE = (
    "name: r\nrules:\n  - name: all\n    when: 'status:open'\n    then:\n      - add_tags: [x]\n"
)

#: Forms every option that takes a time accepts (queries take no words: they have ages). The
#: issue's two forms and a date run by default, the rest in CI's profile.
_SLOW = pytest.mark.slow
TIMES = [
    "90m",
    "1.5d",
    *(
        pytest.param(v, marks=_SLOW)
        for v in ("2026-01-31T09:00:00Z", "7d", "2w", "1h30m", "7D", "2026-01-31")
    ),
]
WORDS = [pytest.param(v, marks=_SLOW) for v in ("now", "today", "yesterday")]
#: Mistakes, each refused with one message wherever it is written.
BAD_TIMES = ["soon", *(pytest.param(v, marks=_SLOW) for v in ("-5m", "7q", "2026-02-30"))]


def not_a_time(value: str) -> str:
    return (
        f"{value!r} is not a date or time (not an ISO 8601 date such as 2026-01-31 or "
        "2026-01-31T09:00:00Z, nor an age such as 90m, 1.5d or 2w)"
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("timespec")
    (root / "desk.jsonl").write_text("")
    (root / "recipe.yaml").write_text(RECIPE)
    (root / "cstoolkit.toml").write_text(CONFIG)
    return root


def run(ws: Path, *args: str, config: str | None = None) -> tuple[int, str]:
    cfg = ws / ("cstoolkit.toml" if config is None else "other.toml")
    if config is not None:
        cfg.write_text(config)
    code, _, err = cst("--config", str(cfg), *args)
    return code, err


#: Each option that takes a time: (name shown in errors, command line with {} for the value).
TIME_OPTIONS = {
    "sync pull --since": ("--since", ["sync", "pull", "--since", "{}"]),
    "report kpi --since": ("--since", ["report", "kpi", "--since", "{}", "--until", "now"]),
    "report kpi --until": ("--until", ["report", "kpi", "--since", "30d", "--until", "{}"]),
    "report staffing --since": ("--since", ["report", "staffing", "--since", "{}"]),
    "survey responses --since": ("--since", ["survey", "responses", "--since", "{}"]),
    "triage backtest --since": (
        "--since",
        ["triage", "backtest", "recipe.yaml", "--since", "{}", "--until", "2026-03-01"],
    ),
    "triage backtest --until": (
        "--until",
        ["triage", "backtest", "recipe.yaml", "--since", "30d", "--until", "{}"],
    ),
}


def _line(args: list[str], value: str) -> list[str]:
    return [a.replace("{}", value) for a in args]


@pytest.mark.parametrize("value", TIMES + WORDS)
@pytest.mark.parametrize("where", sorted(TIME_OPTIONS))
def test_every_time_option_accepts_the_same_forms(
    ws: Path, where: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    code, err = run(ws, *_line(TIME_OPTIONS[where][1], value))
    # 3: nothing in the (empty) store matched; 2 only for a period that ends before it starts
    assert code in (0, 3) or (code == 2 and "period" in err), (where, value, err)
    assert "not a date" not in err and "Traceback" not in err


@pytest.mark.parametrize("value", BAD_TIMES)
@pytest.mark.parametrize("where", sorted(TIME_OPTIONS))
def test_every_time_option_gives_the_same_error(
    ws: Path, where: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    option, args = TIME_OPTIONS[where]
    code, err = run(ws, *_line(args, value))
    assert (code, err) == (2, f"error: {option}: {not_a_time(value)}\n"), where


@pytest.mark.parametrize("value", TIMES)
def test_a_query_takes_the_same_times(ws: Path, value: str) -> None:
    code, err = run(ws, "tickets", "list", "--query", f"created<{value}")
    assert code in (0, 3), (value, err)


@pytest.mark.parametrize("value", BAD_TIMES)
def test_a_query_gives_the_same_error(ws: Path, value: str) -> None:
    code, err = run(ws, "tickets", "list", "--query", f"created<{value}")
    assert code == 2 and err.startswith(f"error: query: column 9: {not_a_time(value)}\n"), err


@pytest.mark.parametrize("value", TIMES + WORDS)
def test_start_date_takes_the_same_times(ws: Path, value: str) -> None:
    config = CONFIG + f'start_date = "{value}"\n'
    code, err = run(ws, "config", "check", config=config)
    assert code == 0, err


@pytest.mark.parametrize("value", BAD_TIMES)
def test_start_date_gives_the_same_error(ws: Path, value: str) -> None:
    config = CONFIG + f'start_date = "{value}"\n'
    code, err = run(ws, "config", "check", config=config)
    assert code == 2 and f"backends.desk.start_date: {not_a_time(value)}" in err, err


# -- durations -------------------------------------------------------------------------------

DURATIONS = ["1h30m", *(pytest.param(v, marks=_SLOW) for v in ("90s", "30m", "1.5h", "2d", "1w"))]
BAD_DURATIONS = ["1h30", *(pytest.param(v, marks=_SLOW) for v in ("soon", "7q", "-5m"))]


def bad_duration(value: str) -> str:
    return (
        f"bad duration {value!r}: expected a duration such as 90s, 30m, 1.5h, 7d, 2w or 1h30m "
        "(units s, m, h, d, w, y); a bare number is "
    )


#: Options that take a duration and fail on a bad one before doing anything.
DURATION_OPTIONS = {
    "store prune --older-than": ("--older-than", ["store", "prune", "--dry-run", "--older-than"]),
    "run --max-runtime": ("--max-runtime", ["run", "--dry-run", "--max-runtime"]),
    "doctor --timeout": ("--timeout", ["doctor", "--timeout"]),
    "report staffing --interval": ("--interval", ["report", "staffing", "--interval"]),
    "report staffing --aht": ("--aht", ["report", "staffing", "--aht"]),
    "report kpi --vendor-tolerance": (
        "--vendor-tolerance",
        ["report", "kpi", "--vendor-metrics", "--vendor-tolerance"],
    ),
    "triage backtest --after": ("--after", ["triage", "backtest", "recipe.yaml", "--after"]),
}


@pytest.mark.parametrize("value", BAD_DURATIONS)
@pytest.mark.parametrize("where", sorted(DURATION_OPTIONS))
def test_every_duration_option_gives_the_same_error(
    ws: Path, where: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    option, args = DURATION_OPTIONS[where]
    code, err = run(ws, *args, value)
    assert code == 2 and err.startswith(f"error: {option}: {bad_duration(value)}"), (where, err)
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", DURATIONS)
@pytest.mark.parametrize(
    "where",
    ["store prune --older-than", "report staffing --interval", "report staffing --aht"],
)
def test_duration_options_take_the_same_forms(
    ws: Path, where: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ws)
    args = DURATION_OPTIONS[where][1]
    code, err = run(ws, *args, value)
    assert "bad duration" not in err and code in (0, 3), (where, err)


#: Config keys that take a duration: (TOML to add, key named in the error).
DURATION_KEYS = {
    "[run] timeout": ('[run]\nsteps = ["sync pull"]\ntimeout = "{}"\n', "run.timeout"),
    "[doctor] timeout": ('[doctor]\ntimeout = "{}"\n', "doctor.timeout"),
    "[sla.x] first_reply": ('[sla.x]\nfirst_reply = "{}"\n', "sla.x.first_reply"),
    "[staffing] aht": ('[staffing]\naht = "{}"\n', "staffing.aht"),
    "[kpi] backlog_buckets": ('[kpi]\nbacklog_buckets = ["{}"]\n', "kpi.backlog_buckets"),
}


@pytest.mark.parametrize("value", ["1h30", pytest.param("soon", marks=_SLOW)])
@pytest.mark.parametrize("where", sorted(DURATION_KEYS))
def test_every_duration_key_gives_the_same_error(ws: Path, where: str, value: str) -> None:
    toml, key = DURATION_KEYS[where]
    code, err = run(ws, "config", "check", config=CONFIG + toml.replace("{}", value))
    assert code == 2 and f"{key}: {bad_duration(value)}" in err, err


@pytest.mark.parametrize(
    "value", ["1m30s", *(pytest.param(v, marks=_SLOW) for v in ("90s", "1.5m"))]
)
@pytest.mark.parametrize("where", sorted(DURATION_KEYS))
def test_every_duration_key_takes_the_same_forms(ws: Path, where: str, value: str) -> None:
    toml, _ = DURATION_KEYS[where]
    code, err = run(ws, "config", "check", config=CONFIG + toml.replace("{}", value))
    assert code == 0, err


def test_survey_keys_take_durations(ws: Path) -> None:
    secrets.set_key("survey-key", "s" * 40)
    survey = (
        '[channels.outbox]\nplugin = "outbox"\npath = "outbox"\n'
        '[surveys.csat]\nplugin = "builtin"\nkind = "csat"\nchannel = "outbox"\n'
        'signing_keys = { k1 = "key:survey-key" }\ndelay = "{}"\nmax_age = "1.5d"\n'
    )
    code, err = run(ws, "config", "check", config=CONFIG + survey.replace("{}", "1h30m"))
    assert code == 0, err
    code, err = run(ws, "config", "check", config=CONFIG + survey.replace("{}", "soon"))
    assert code == 2 and f"surveys.csat.delay: {bad_duration('soon')}" in err, err


def test_docs_time_lists_every_option() -> None:
    """docs/time.md is the one table of forms: every option tested here is in it."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "time.md").read_text()
    for where in [*TIME_OPTIONS, *DURATION_OPTIONS]:
        option = where.split()[-1]
        assert f"`{option}`" in text or f"{option}`" in text, where
    for key in ("start_date", "first_reply", "backlog_buckets", "delay", "max_age", "timeout"):
        assert key in text, key
