"""Logging set-up: human lines on a terminal, JSON lines for cron (``--log-format json``).

Every handler carries the secrets redactor (:data:`cstoolkit.secrets.REDACTOR`, a filter that
runs :func:`cstoolkit.secrets.redact_text` over each record's message and traceback), so a
secret never reaches a log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from cstoolkit.secrets import REDACTOR, redact_text


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
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
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
