"""Log lines for machines: ``junbridge run --log-format json`` writes one JSON object a line.

For a log collector (journald with a JSON parser, Loki, an ELK stack): each line holds the
time (UTC, ISO 8601), the level, the logger's name and the message, and the traceback of an
error when there is one. The web server's own lines go the same way.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonLines(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """``{"time", "level", "logger", "message"}``, and ``"exception"`` if any."""
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_json() -> None:
    """Send every log record to stderr as JSON lines, instead of the console's format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    logging.getLogger().handlers = [handler]
