"""Operations engines: ``cst run``, ``cst status``, retention and privacy (no click here)."""

from __future__ import annotations

import re
from datetime import timedelta

from cstoolkit.errors import UsageError

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|y)?\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_span(text: str | int | float, what: str = "duration") -> timedelta:
    """``90s``, ``10m``, ``2h``, ``7d``, ``2w``, ``2y`` (365 days each) or plain seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = _SPAN.match(str(text))
        if not m:
            raise UsageError(
                f"{what}: {text!r} is not a duration (90s, 10m, 2h, 7d, 2w, 2y or seconds)"
            )
        seconds = float(m.group(1)) * _SECONDS[m.group(2) or "s"]
    if seconds <= 0:
        raise UsageError(f"{what}: {text!r} must be more than zero")
    return timedelta(seconds=seconds)
