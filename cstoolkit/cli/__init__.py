"""The ``cst`` command line: a lazy click group.

Built-in command groups live one per module in this package and are imported only when invoked,
so ``cst --help`` imports neither the store, nor rich, nor any plugin. Plugins announce commands
in the ``cstoolkit.commands`` entry-point group (name -> ``module:command``), read from metadata
only; a command neither built in nor announced triggers a full plugin load and the
``register_commands`` hook.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from cstoolkit.__about__ import __version__
from cstoolkit.cli.base import Group

#: name -> (module, attribute, one-line help shown by ``cst --help`` without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "config": ("cstoolkit.cli.config_cmd", "config", "Show and check cstoolkit.toml."),
    "doctor": ("cstoolkit.cli.doctor_cmd", "doctor", "Check config, plugins, store and instances."),
    "keys": ("cstoolkit.cli.keys_cmd", "keys", "Manage secrets in the 0600 keys file."),
    "plugins": ("cstoolkit.cli.plugins_cmd", "plugins", "List, create and install plugins."),
    "quickstart": (
        "cstoolkit.cli.quickstart_cmd",
        "quickstart",
        "Create a demo workspace and run it.",
    ),
    "sample": ("cstoolkit.cli.sample_cmd", "sample", "Generate realistic synthetic helpdesk data."),
    "report": ("cstoolkit.cli.report_cmd", "report", "KPI reports and Erlang C staffing."),
    "recipe": ("cstoolkit.cli.recipe_cmd", "recipe", "Check, draw and test triage recipes."),
    "sync": ("cstoolkit.cli.sync_cmd", "sync", "Pull tickets from backends into the store."),
    "survey": (
        "cstoolkit.cli.survey_cmd",
        "survey",
        "Send post-resolution surveys and collect answers.",
    ),
    "inbound": (
        "cstoolkit.cli.inbound_cmd",
        "inbound",
        "Customers' WhatsApp, SMS and mail in; replies out.",
    ),
    "kb": (
        "cstoolkit.cli.kb_cmd",
        "kb",
        "Knowledge base: sync articles, search, suggest for tickets.",
    ),
    "tickets": ("cstoolkit.cli.tickets_cmd", "tickets", "List and show stored tickets."),
    "triage": ("cstoolkit.cli.triage_cmd", "triage", "Run triage recipes (dry run by default)."),
    "locks": ("cstoolkit.cli.locks_cmd", "locks", "List and release run locks."),
    "run": ("cstoolkit.cli.run_cmd", "run", "Run the [run] steps under one lock."),
    "status": ("cstoolkit.cli.status_cmd", "status", "Sync lag, queues, last run."),
    "store": ("cstoolkit.cli.store_cmd", "store", "Prune, back up and migrate the store."),
    "privacy": ("cstoolkit.cli.privacy_cmd", "privacy", "Forget a person (erasure)."),
    "model": ("cstoolkit.cli.model_cmd", "model", "Train, evaluate and explain learned routing."),
    "completion": (
        "cstoolkit.cli.completion",
        "completion",
        "Print the shell completion script (bash, zsh, fish).",
    ),
}


COMMANDS_GROUP = "cstoolkit.commands"


def _announced() -> dict[str, str]:
    """Plugin commands announced in the ``cstoolkit.commands`` entry-point group.

    Read straight from each installed distribution's ``entry_points.txt`` on ``sys.path``:
    importing :mod:`importlib.metadata` alone costs more than the whole of ``cst --help``
    should (about 55 ms against a 5 ms scan). Like importlib.metadata, the first distribution
    found on ``sys.path`` wins a name. Returns name -> ``module:attribute``.
    """
    import os

    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in sorted(entries):
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(folder, entry, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            for name, value in _group_entries(text, COMMANDS_GROUP):
                found.setdefault(name, value)
    return found


def _group_entries(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` lines of one ``[group]`` section of an entry_points.txt file."""
    out, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line == f"[{group}]"
        elif inside and "=" in line:
            name, _, value = line.partition("=")
            out.append((name.strip(), value.split("[", 1)[0].strip()))
    return out


def _load_announced(value: str) -> Any:
    import importlib

    module, _, attr = value.partition(":")
    obj: Any = importlib.import_module(module.strip())
    for part in filter(None, attr.strip().split(".")):
        obj = getattr(obj, part)
    return obj


class LazyGroup(Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(COMMANDS) | set(self.commands)
        names |= set(_announced())
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in COMMANDS:
            import importlib

            module, attr, _ = COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            self.add_command(command, cmd_name)
            return command
        announced = _announced().get(cmd_name)
        if announced is not None:
            command = _load_announced(announced)
            self.add_command(command, cmd_name)
            return command
        if ctx.resilient_parsing:
            return None
        # Last resort: load every plugin and let them add commands through the hook.
        app = ctx.find_object(_app_class())
        host = app.host if app is not None else _load_host()
        host.pm.hook.register_commands(cli=self)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        announced = _announced()
        for name in self.list_commands(ctx):
            if name in COMMANDS and name not in self.commands:
                rows.append((name, COMMANDS[name][2]))
            elif name in announced and name not in self.commands:
                # Listed from metadata only: the plugin is imported when the command runs.
                module = announced[name].partition(":")[0]
                rows.append((name, f"Plugin command ({module}); see cst {name} --help."))
            else:
                cmd = self.get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=70)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _app_class() -> Any:
    from cstoolkit.cli.app import App

    return App


def _load_host() -> Any:
    from cstoolkit.host import Host

    return Host().load()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cst")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar=None,
    help="Config file (default: $CSTOOLKIT_CONFIG, ./cstoolkit.toml, then the user config dir).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per log line, for cron and log shippers.",
)
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, verbose: int, quiet: bool, log_format: str
) -> None:
    """cst: connect the tools a customer-support team already has.

    Sync tickets from helpdesks into a local store, triage them with recipes, send surveys and
    report KPIs. Start with `cst quickstart`.

    Exit codes: 0 ok, 1 an operation failed, 2 usage or config error, 3 nothing matched,
    4 busy (another run holds the lock), 70 internal error (a bug; a crash report is written).
    """
    from cstoolkit.cli.app import App
    from cstoolkit.logs import setup

    global _current_app
    setup(verbose, quiet, log_format)
    ctx.obj = _current_app = App(config_path=config_path, verbose=verbose, quiet=quiet)
    ctx.call_on_close(ctx.obj.close)


#: The App of the command being run, kept for the crash report of an unexpected exception.
_current_app: Any = None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: maps CstError to its one-line message and exit code, and an
    unexpected exception to one line naming its crash report (exit 70, docs/exit-codes.md)."""
    from cstoolkit.errors import EXIT_INTERNAL, CstError

    def redact_text(text: str) -> str:  # loaded only to print an error: `cst --help` stays fast
        from cstoolkit.secrets import redact_text

        return redact_text(text)

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = cli.main(args=args, prog_name="cst", standalone_mode=False)
    except CstError as exc:
        click.echo(f"error: {redact_text(str(exc))}", err=True)
        if exc.hint:
            click.echo(f"hint: {redact_text(exc.hint)}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        import io

        shown = io.StringIO()
        exc.show(file=shown)  # a usage error may quote the value given to an option
        click.echo(redact_text(shown.getvalue()), err=True, nl=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # stdout was closed early (``cst tickets list | head``): not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:
        from cstoolkit import crash

        verbose = any(a == "--verbose" or re.fullmatch(r"-v+", a) for a in args)
        click.echo(crash.report(exc, args, _current_app, verbose=verbose), err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else 0)
