"""``cst completion bash|zsh|fish``: the shell completion script to load
(``eval "$(cst completion bash)"``). What cst completes beyond command and option names is in
:mod:`cstoolkit.cli.completers`.
"""

from __future__ import annotations

import click

from cstoolkit.cli import base

SHELLS = ("bash", "zsh", "fish")


@click.command("completion", cls=base.Command)
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(cst completion bash)"      (in ~/.bashrc)
    zsh:   eval "$(cst completion zsh)"       (in ~/.zshrc)
    fish:  cst completion fish | source       (in ~/.config/fish/config.fish)
    """
    from click.shell_completion import get_completion_class

    from cstoolkit.cli import cli

    cls = get_completion_class(shell)
    assert cls is not None  # the three shells click knows
    click.echo(cls(cli, {}, "cst", "_CST_COMPLETE").source())
