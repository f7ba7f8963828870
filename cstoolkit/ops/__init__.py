"""Operations engines: ``cst run``, ``cst status``, retention and privacy (no click here)."""

from __future__ import annotations

from datetime import timedelta

from cstoolkit import timespec


def parse_span(text: str | int | float, what: str = "duration") -> timedelta:
    """A positive duration option (docs/time.md): ``90s``, ``10m``, ``2h``, ``7d``, ``2w``,
    ``2y`` (365 days each), ``1h30m``, or plain seconds."""
    with timespec.option(what):
        return timespec.parse_timedelta(text, positive=True)
