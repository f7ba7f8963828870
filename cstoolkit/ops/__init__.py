"""Operations engines: ``cst run``, ``cst status``, retention and privacy (no click here)."""

from __future__ import annotations

from datetime import timedelta

from cstoolkit.config.types import parse_duration
from cstoolkit.errors import UsageError


def parse_span(text: str | int | float, what: str = "duration") -> timedelta:
    """``90s``, ``10m``, ``2h``, ``7d``, ``2w``, ``2y`` (365 days each) or plain seconds."""
    try:
        return timedelta(seconds=parse_duration(text, positive=True))
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
