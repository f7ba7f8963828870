"""What every command shares: the config, the plugin host and the store, each built lazily."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from cstoolkit.config import Config, Problem
    from cstoolkit.host import Host
    from cstoolkit.store import Store

#: A host every App uses instead of loading one (set by the ``register_plugin`` test fixture).
HOST_OVERRIDE: Host | None = None


class App:
    def __init__(self, config_path: str | None = None, verbose: int = 0, quiet: bool = False):
        self.config_path = config_path
        self.verbose = verbose
        self.quiet = quiet
        self._store: Store | None = None
        #: How the config was found (cstoolkit.config.files.config_source), once it is read.
        self.config_source: str | None = None

    @cached_property
    def unchecked_config(self) -> Config:
        """The config as read (invalid TOML still fails): for the commands that report its
        problems themselves (``config check``, ``config path``, ``doctor``)."""
        from cstoolkit.config import load_config
        from cstoolkit.config.files import config_source

        path, self.config_source = config_source(self.config_path)
        return load_config(path)

    @cached_property
    def config(self) -> Config:
        """The config, checked: any error stops the command (exit 2) before it does anything."""
        from cstoolkit.errors import ConfigError

        config = self.unchecked_config
        errors = [p for p in self.config_problems(resolve_secrets=False) if p.severity == "error"]
        if len(errors) == 1:
            p = errors[0]
            raise ConfigError(p.message, path=p.path, line=p.line, field=p.field)
        if errors:
            for p in errors:
                click.echo(str(p), err=True)
            raise ConfigError(
                f"{len(errors)} errors in the configuration (listed above)", path=config.label
            )
        return config

    def config_problems(self, *, resolve_secrets: bool = True) -> list[Problem]:
        """Every problem of the config: the schema's, the engines' and the [run] steps'.

        On load (:attr:`config`) secret references are not resolved: see
        :func:`cstoolkit.config.check_config`."""
        from cstoolkit.checks import config_problems
        from cstoolkit.cli.steps import step_problems

        config = self.unchecked_config
        if config.path is None:
            return []
        return config_problems(
            config, _LazyHost(self), resolve_secrets=resolve_secrets
        ) + step_problems(config)

    @cached_property
    def host(self) -> Host:
        if HOST_OVERRIDE is not None:
            return HOST_OVERRIDE
        from cstoolkit.host import Host

        return Host().load()

    @property
    def store(self) -> Store:
        if self._store is None:
            from cstoolkit.store.configured import open_configured

            self._store = open_configured(self.config)
            self._say_which_store(self._store)
        return self._store

    def _say_which_store(self, store: Store) -> None:
        """Name the store on stderr when it is not the workspace's (the config was not found
        as ./cstoolkit.toml nor named with --config): a default must never be silent. Outside
        any workspace, an empty store also says how to start."""
        from cstoolkit.config.files import DEFAULTS, ENVIRONMENT, USER

        config = self.config
        source = getattr(self, "config_source", None)
        if source == ENVIRONMENT:
            self.say(f"store: {config.store_label} (config {config.label}, from $CSTOOLKIT_CONFIG)")
        elif source == USER:
            self.say(
                f"store: {config.store_label} (config {config.label}: "
                "no cstoolkit.toml in this directory)"
            )
        elif source == DEFAULTS:
            self.say(
                f"store: {config.store_label} (the default store: no cstoolkit.toml in this "
                "directory, in $CSTOOLKIT_CONFIG or the user config directory)"
            )
            if not store.instances():
                self.say(
                    "  it is empty. To start: `cst quickstart` creates a demo workspace (then cd "
                    "into it); `cst --config FILE ...` uses your configuration."
                )

    def backend(self, name: str) -> Any:
        from cstoolkit.instances import build_instance

        return build_instance(self.config, self.host, "backends", name, self.store)

    def say(self, message: str) -> None:
        """A message for the person at the terminal (stderr, silenced by --quiet), printed
        literally with its control characters neutralised (cstoolkit.output.echo)."""
        if not self.quiet:
            from cstoolkit.output import echo

            echo(message)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class _LazyHost:
    """The App's plugin host, loaded only when a plugin instance is checked."""

    def __init__(self, app: App) -> None:
        self._app = app

    def get(self, kind: str, name: str) -> Any:
        return self._app.host.get(kind, name)


pass_app = click.make_pass_decorator(App)


def format_options(
    default: str = "table",
    choices: tuple[str, ...] | None = None,
    extra: tuple[str, ...] = (),
) -> Callable:
    """Add ``--format`` and its ``--json`` shorthand to a command that prints records.

    The formats are cstoolkit.output's (table, json, ndjson, csv) plus the command's own
    document formats in ``extra`` (html, md, prometheus); docs/output.md describes them once.
    """
    from cstoolkit.output import FORMATS

    allowed = (*(choices or FORMATS), *extra)

    def decorate(fn: Callable) -> Callable:
        fn = click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")(
            fn
        )
        fn = click.option(
            "--format",
            "fmt",
            type=click.Choice(allowed),
            default=default,
            show_default=True,
            help="Output format (docs/output.md).",
        )(fn)
        return fn

    return decorate


def chosen_format(fmt: str, as_json: bool) -> str:
    return "json" if as_json else fmt
