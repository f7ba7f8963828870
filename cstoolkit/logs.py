"""Logging set-up: human lines on a terminal, JSON lines for cron (``--log-format json``).

Every handler carries the secrets redactor, so a resolved secret never reaches a log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from cstoolkit.secrets import REDACTOR


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("instance", "event"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(verbosity: int = 0, quiet: bool = False, fmt: str = "text") -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(REDACTOR)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("cstoolkit")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
