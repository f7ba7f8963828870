"""The core sections of cstoolkit.toml, declared as data.

This is the one description of what the file may hold besides plugin settings: the checker
(:mod:`cstoolkit.config.check`), the typed values the engines read (:func:`section_values`), the
settings the survey providers and backends declare (derived from :data:`SURVEY_POLICY_KEYS` and
:data:`BACKEND_KEYS`) and the reference table of docs/configuration.md are all made from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cstoolkit.config.run_plan import plan_rule
from cstoolkit.config.schema import BAD, Key, Section
from cstoolkit.config.types import INSTANCE_NAME

#: ``problem(key, message, severity="error")``, for the rules of a section.
Problem = Callable[..., None]

# -- [store] ---------------------------------------------------------------------------------


def _store_rules(v: dict[str, Any], problem: Problem) -> None:
    if v.get("url") not in (None, BAD):
        from cstoolkit import secrets

        if v.get("path") is not None:
            problem("path", "set either path (SQLite) or url (PostgreSQL), not both")
        # Not parsed here: libpq reads URLs its own way (a raw '#' in a password is fine for
        # it); one it cannot read fails, masked, when the store is opened.
        if secrets.url_secrets(v["url"]):
            problem(
                "url",
                "holds a password: move it to store.password as an env: or key: reference",
                "warning",
            )


STORE = Section(
    "store",
    "table",
    (
        Key("path", "path", help="SQLite store file (default: cstoolkit.db beside this file)."),
        Key("url", "store_url", help="postgresql://user@host:5432/db: the team store."),
        Key("schema", "name", default="public", help="PostgreSQL schema of the store."),
        Key("password", "secret", secret=True, help="PostgreSQL password (env:/key: reference)."),
    ),
    help="Where the store is: a SQLite file, or a PostgreSQL database for several hosts.",
    doc="store.md",
    rules=(_store_rules,),
    noun="store setting",
)

# -- named plugin instances ------------------------------------------------------------------

FILTER_KEYS = ("brand", "mailbox", "queue", "group")
MAPPING_TABLES = ("statuses", "priorities", "channels", "fields")

_STR_OR_LIST = Key("*", "str|list", items=Key("*", "str"))
BACKEND_KEYS: tuple[Key, ...] = (
    Key("plugin", required=True, help="The backend plugin this instance uses."),
    Key("read_only", "bool", default=False, help="Never write anything to this instance."),
    Key(
        "start_date",
        "when",
        help="First-run start: ISO 8601 date or time (UTC unless zoned) or a span ago (90d); "
        "also bounds --full.",
    ),
    Key(
        "filters",
        "table",
        keys=tuple(
            Key(k, "str|list", items=Key(k, "str"), help=f"Only this {k} (or these).")
            for k in FILTER_KEYS
        ),
        noun="filter",
        help="Only sync what matches: brand, mailbox, queue, group (a value or a list).",
    ),
    Key(
        "mapping",
        "table",
        keys=(
            *(
                Key(k, "table", values=Key(k, "str"), help=f"Vendor {k} -> model {k}.")
                for k in MAPPING_TABLES
            ),
            Key("plan_field", "str", help="The organization field holding the plan."),
        ),
        noun="mapping table",
        help="Vendor values onto the model: statuses, priorities, channels, fields "
        "(vendor -> model) and plan_field.",
    ),
)

SURVEY_KINDS = ("csat", "nps", "ces")  # cstoolkit.messages.SCALES (a test keeps them equal)

SURVEY_POLICY_KEYS: tuple[Key, ...] = (
    Key("kind", required=True, choices=SURVEY_KINDS, help="csat (1-5), nps (0-10), ces (1-7)"),
    Key("channel", required=True, ref="channels", help="The [channels.NAME] that delivers it."),
    Key(
        "channel_for",
        "table",
        default={},
        values=Key("channel_for", ref="channels"),
        help='Ticket channel -> channel instance, e.g. {whatsapp = "wa"}; others use `channel`.',
    ),
    Key("enabled", "bool", default=True, help="false: never send this survey."),
    Key("delay", "duration", default="24h", help="Wait this long after the solve (30m, 24h, 2d)."),
    Key("max_age", "duration", default="7d", help="Never survey a ticket solved longer ago."),
    Key(
        "quiet_hours",
        "clock_range",
        default="",
        help="HH:MM-HH:MM in the requester's time zone during which nothing is sent.",
    ),
    Key("timezone", "timezone", default="UTC", help="Time zone for requesters that have none."),
    Key(
        "per_cycle",
        "bool",
        default=False,
        help="true: a reopened and solved-again ticket is surveyed again.",
    ),
    Key(
        "fatigue_days",
        "int",
        default=14,
        minimum=0,
        maximum=3650,
        help="At most one survey per person per N days.",
    ),
    Key("exclude_tags", "list", default=[], items=Key("tag"), help="Skip tickets with any tag."),
    Key("exclude_groups", "list", default=[], items=Key("group"), help="Skip these groups."),
    Key("exclude_channels", "list", default=[], items=Key("ch"), help="Skip these channels."),
    Key("exclude_plans", "list", default=[], items=Key("plan"), help="Skip requesters' plans."),
    Key(
        "skip_agent_created",
        "bool",
        default=True,
        help="Skip tickets an agent created (and requesters who are agents).",
    ),
    Key(
        "internal_domains",
        "list",
        default=[],
        items=Key("domain"),
        help="Requesters of these domains are staff.",
    ),
    Key(
        "sample_rate",
        "float",
        default=1.0,
        minimum=0,
        maximum=1,
        help="Share of tickets surveyed (0-1).",
    ),
    Key("default_language", default="en", help="Language when the requester has none."),
    Key(
        "max_attempts",
        "int",
        default=3,
        minimum=1,
        maximum=100,
        help="Give up after this many failed sends.",
    ),
)


def _instances(name: str, kind: str, keys: tuple[Key, ...], help: str, doc: str) -> Section:
    return Section(
        name,
        "tables",
        keys,
        help=help,
        doc=doc,
        plugin_kind=kind,
        name_pattern=INSTANCE_NAME,
    )


BACKENDS = _instances(
    "backends",
    "backend",
    BACKEND_KEYS,
    "A helpdesk account: an instance of a backend plugin, plus the plugin's own settings.",
    "backends/index.md",
)
CHANNELS = _instances(
    "channels",
    "channel",
    (Key("plugin", required=True, help="The channel plugin this instance uses."),),
    "A way to deliver messages: an instance of a channel plugin, plus its settings.",
    "channels.md",
)
SURVEYS = _instances(
    "surveys",
    "survey_provider",
    (
        Key("plugin", required=True, help="The survey provider (builtin, nicereply)."),
        *SURVEY_POLICY_KEYS,
    ),
    "A survey: an instance of a survey provider, its eligibility policy and its settings.",
    "surveys.md",
)

INBOUND_KEYS: tuple[Key, ...] = (
    Key("plugin", required=True, help="The inbound source (whatsapp, twilio, imap, maildir)."),
    Key("backend", required=True, ref="backends", help="The [backends.NAME] tickets go to."),
    Key(
        "reply_channel",
        ref="channels",
        help="The [channels.NAME] that delivers agents' public replies and acknowledgements.",
    ),
    Key(
        "public_url",
        help="The URL the provider calls, as it calls it (behind a proxy: the public one); "
        "signatures are verified against it.",
    ),
    Key("acknowledge", "bool", default=False, help="Answer a new ticket with its number."),
    Key(
        "acknowledgement",
        default="We received your message. Your ticket number is {ticket}.",
        help="The acknowledgement's text; {ticket} is the ticket's number.",
    ),
    Key(
        "answer_from_kb",
        "bool",
        default=False,
        help="Answer a new ticket once from the knowledge base (the answer_from_kb action, "
        "in the customer's language), when its best article scores at least "
        "answer_min_score; a customer asking for a person is handed to the team instead.",
    ),
    Key(
        "answer_min_score",
        "float",
        default=0.35,
        minimum=0,
        maximum=1,
        help="The floor of that answer (answer_from_kb's min_score, docs/knowledge.md).",
    ),
    Key(
        "handoff_words",
        "list",
        items=Key("word"),
        help="Words that mean 'a person, please' (default: answer_from_kb's: agent, humano, "
        "atendente...).",
    ),
    Key("tags", "list", items=Key("tag"), help="Tags given to tickets this source creates."),
    Key("priority", default="normal", help="Priority of tickets this source creates."),
    Key(
        "window_closed_tag",
        default="whatsapp-window-closed",
        help="Tag set on a ticket whose reply could not be delivered: the 24-hour window "
        "is closed and no template is configured.",
    ),
)
INBOUND = _instances(
    "inbound",
    "inbound_source",
    INBOUND_KEYS,
    "A way customers write in: an instance of an inbound source, the backend its tickets go "
    "to and the channel replies go out on.",
    "inbound.md",
)
KNOWLEDGE = _instances(
    "knowledge",
    "knowledge_source",
    (Key("plugin", required=True, help="The knowledge source (markdown, zendesk_guide, ...)."),),
    "A knowledge base cst reads articles from: an instance of a knowledge source plugin.",
    "knowledge.md",
)

# -- triage: calendars, SLA, roster ----------------------------------------------------------

CALENDARS = Section(
    "calendars",
    "tables",
    (
        Key("timezone", "timezone", required=True, help="IANA zone of the business hours."),
        Key(
            "hours",
            "table",
            values=Key("hours"),
            help='Day or days -> HH:MM-HH:MM, e.g. { mon-fri = "09:00-18:00" } (24:00 ends a day).',
        ),
        Key("holidays", "list", items=Key("holiday", "date"), help="Closed dates."),
        Key("holidays_country", help="Public holidays of this country (ISO code: ES)."),
        Key("holidays_subdivision", help="And of this subdivision (MD)."),
    ),
    help="Business-hours calendars named by SLA policies and reports; 24x7 is built in.",
    doc="sla.md",
    builtin_names=("24x7",),
    noun="calendar setting",
)

SLA_METRICS = ("first_reply", "next_reply", "periodic_update", "resolution")
_TARGET = Key("target", "duration", unit="m", minimum=1, maximum=3650 * 86400)
SLA = Section(
    "sla",
    "tables",
    (
        Key("order", "int", help="Policies apply in this order (default: the file's)."),
        Key("when", help="A condition: the tickets this policy applies to (default: all)."),
        Key("calendar", default="24x7", ref="calendars", help="The business-hours calendar."),
        Key(
            "business_hours",
            "bool|list",
            items=Key("metric", choices=SLA_METRICS),
            help="true/false, or the metrics counted in business hours.",
        ),
        Key("paused_in", "list|table", items=Key("status"), help="Statuses that pause clocks."),
        Key("description"),
        *(
            Key(
                m,
                "duration|table",
                unit="m",
                minimum=1,
                maximum=3650 * 86400,
                values=_TARGET,
                help="A target (bare numbers are minutes), or one per priority.",
            )
            for m in SLA_METRICS
        ),
    ),
    help="SLA policies: targets per metric and priority, computed by cstoolkit itself.",
    doc="sla.md",
    noun="SLA setting",
)


ROSTER = Section(
    "roster",
    "value",
    (Key("roster", help='The roster file (roster.yaml), or "store" to build it from the store.'),),
    doc="roster.md",
    help="Who works on the desk (assignment strategies and escalations).",
)

# -- reports: [kpi], [costs], [staffing] -----------------------------------------------------


def _kpi_rules(v: dict[str, Any], problem: Problem) -> None:
    low, high = v.get("nps_detractor_max"), v.get("nps_promoter_min")
    if isinstance(low, int) and isinstance(high, int) and low >= high:
        problem("nps_detractor_max", "must be below nps_promoter_min")


KPI = Section(
    "kpi",
    "table",
    (
        Key("calendar", ref="calendars", help="Business hours of reports (default: the only one)."),
        Key("timezone", "timezone", help="Zone of days and weeks (default: the calendar's)."),
        Key("period_days", "int", default=30, minimum=1, maximum=36500, help="Default period."),
        Key("csat_good_min", "int", default=4, minimum=1, maximum=5, help="CSAT 1-5: good from."),
        Key("nps_promoter_min", "int", default=9, minimum=0, maximum=10, help="NPS promoters."),
        Key("nps_detractor_max", "int", default=6, minimum=0, maximum=10, help="NPS detractors."),
        Key("ces_agree_min", "int", default=5, minimum=1, maximum=7, help="CES 1-7: agree from."),
        Key(
            "ces_headline",
            default="average",
            choices=("average", "agree_pct"),
            help="The CES figure shown first.",
        ),
        Key(
            "backlog_buckets",
            "list",
            minimum=1,
            items=Key("bucket", "duration", unit="h"),
            index_items=False,
            help="Backlog age bucket edges (bare numbers are hours).",
        ),
        Key(
            "agent_tiers",
            "table",
            default={},
            values=Key("tier", "int", minimum=0, maximum=1000),
            help="Agent id -> tier.",
        ),
        Key("jobs", "int", default=0, minimum=0, maximum=64, help="No effect (old configs)."),
    ),
    help="KPI reports: calendar, zone, score thresholds.",
    doc="metrics.md",
    rules=(_kpi_rules,),
)


def _cost_rules(v: dict[str, Any], problem: Problem) -> None:
    if v.get("agent_hour") is not None and v.get("monthly_team") is not None:
        problem((), "set agent_hour or monthly_team, not both")


COSTS = Section(
    "costs",
    "table",
    (
        Key("currency", default="EUR", help="Currency code shown with costs."),
        Key("agent_hour", "float", minimum=0, help="Cost of one agent-hour."),
        Key("monthly_team", "float", minimum=0, help="Cost of the whole team per month."),
        Key(
            "hours_per_agent_day",
            "float",
            default=8.0,
            minimum=0.1,
            maximum=24,
            help="Working hours of an agent's day.",
        ),
    ),
    help="What the team costs, to price a solved ticket.",
    doc="metrics.md",
    rules=(_cost_rules,),
)


def _staffing_rules(v: dict[str, Any], problem: Problem) -> None:
    occupancy, shrinkage, interval = v["max_occupancy"], v["shrinkage"], v["interval"]
    if isinstance(occupancy, float) and occupancy <= 0:
        problem((), f"max_occupancy must be in (0, 1], got {occupancy:g}")
    if isinstance(shrinkage, float) and shrinkage >= 1:
        problem((), f"shrinkage must be in [0, 1), got {shrinkage:g}")
    if isinstance(interval, float) and (interval < 300 or 86400 % interval):
        problem("interval", "interval must divide a day and be at least 5m (15m, 30m, 1h)")


STAFFING = Section(
    "staffing",
    "table",
    (
        Key("target", "target", default="80/20", help="Service level: PERCENT/SECONDS."),
        Key("max_occupancy", "float", default=0.85, minimum=0, maximum=1, help="(0, 1]."),
        Key("shrinkage", "float", default=0.30, minimum=0, maximum=1, help="[0, 1)."),
        Key("interval", "duration", default="30m", unit="m", help="Planning interval."),
        Key("aht", "duration", minimum=1, maximum=86400, help="Average handle time."),
        Key("handle_time_field", help="Custom field holding measured handle seconds."),
    ),
    help="Erlang C staffing: targets and handle time.",
    doc="staffing.md",
    rules=(_staffing_rules,),
)

# -- operations: [run], [doctor], required_plugins -------------------------------------------

_DAY = 86400
RUN = Section(
    "run",
    "table",
    (
        Key(
            "steps",
            "list",
            required=True,
            minimum=1,
            items=Key(
                "step",
                "str|table",
                noun="step key",
                keys=(
                    Key("command", required=True, help="A cst command line."),
                    Key("name", help="The step's name (default: its command)."),
                    Key(
                        "timeout",
                        "duration",
                        minimum=1,
                        maximum=7 * _DAY,
                        help="This step's timeout (default: [run] timeout).",
                    ),
                    Key("needs", "str|list", items=Key("need"), help="Earlier steps it needs."),
                ),
            ),
            help='Each a cst command line ("sync pull") or a table { command, name, timeout, '
            "needs }.",
        ),
        Key("timeout", "duration", default="30m", minimum=1, maximum=7 * _DAY, help="Per step."),
        Key("max_runtime", "duration", minimum=1, maximum=7 * _DAY, help="The whole run."),
    ),
    help="The steps of `cst run`.",
    doc="operations.md",
    rules=(plan_rule,),
)

DOCTOR = Section(
    "doctor",
    "table",
    (
        Key(
            "timeout",
            "duration",
            default="5s",
            minimum=0.1,
            maximum=300,
            help="Each live check gives up after this long (no retries).",
        ),
        Key(
            "max_runtime",
            "duration",
            default="60s",
            minimum=1,
            maximum=3600,
            help="The whole command stops after this long.",
        ),
    ),
    help="Bounds of `cst doctor`'s live checks.",
    doc="operations.md",
)

REQUIRED_PLUGINS = Section(
    "required_plugins",
    "value",
    (
        Key(
            "required_plugins",
            "list",
            items=Key("requirement", "requirement"),
            index_items=False,
            expect='must be a list of requirement strings, e.g. ["cstoolkit-zendesk>=1.2"]',
            help="Distributions this configuration needs, e.g. ['cstoolkit-zendesk>=1.2'].",
        ),
    ),
    help="Checked before any command: a missing or too old plugin stops it.",
    doc="configuration.md",
)

KEYS_FILE = Section(
    "keys_file",
    "value",
    (
        Key(
            "keys_file",
            "path",
            help="The 0600 keys file of this file's key: references (default: "
            "$CSTOOLKIT_KEYS_FILE, else the user config dir's keys.json).",
        ),
    ),
    help="Where `key:` references of this configuration are kept (and `cst keys` writes).",
    doc="configuration.md",
)

#: Every core section, in the order the reference documents them.
SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        STORE,
        BACKENDS,
        CHANNELS,
        SURVEYS,
        INBOUND,
        KNOWLEDGE,
        CALENDARS,
        SLA,
        ROSTER,
        KPI,
        COSTS,
        STAFFING,
        RUN,
        DOCTOR,
        REQUIRED_PLUGINS,
        KEYS_FILE,
    )
}
