"""Server logs pass the redaction library too: a secret in an exception or a message is masked.

The filter sits on the root handlers, so records from every logger (ours, the SDK's, uvicorn's)
are rendered once, redacted, and the rendered text replaces the template and arguments. Tracebacks
are rendered and redacted the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable


class RedactingFilter(logging.Filter):
    """Rewrites each record into its redacted, rendered form; never drops a record."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        try:
            record.msg = self._redact(message)
            record.args = None
            if record.exc_info:
                record.exc_text = self._redact(self._formatter.formatException(record.exc_info))
                record.exc_info = None
            if record.stack_info:
                record.stack_info = self._redact(record.stack_info)
        except Exception:
            # Fail closed: a record we could not redact is replaced, not passed through.
            record.msg, record.args, record.exc_info, record.exc_text = "[log record withheld]", None, None, None
        return True


def install(redact: Callable[[str], str]) -> None:
    """Add the filter to every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter(redact))
