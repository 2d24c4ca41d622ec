"""Server logs are redacted: messages, arguments and tracebacks."""

from __future__ import annotations

import io
import logging

from secure_mcp.log_redaction import RedactingFilter
from secure_mcp.redaction import Redactor

SECRET = "sk-ant-api03-" + "Zx9" * 30 + "AA"


def _logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redactor = Redactor(environ={})
    handler.addFilter(RedactingFilter(lambda text: redactor.redact(text).text))
    logger = logging.getLogger(f"test-redaction-{id(stream)}")
    logger.addHandler(handler)
    logger.propagate = False
    return logger, stream


def test_a_secret_in_a_log_message_or_its_arguments_is_masked() -> None:
    """Neither the template nor the %-arguments can carry a secret to stderr."""
    logger, stream = _logger()
    logger.error("key is %s", SECRET)
    logger.error(f"inline {SECRET}")
    assert SECRET not in stream.getvalue()
    assert stream.getvalue().count("[REDACTED:") == 2


def test_a_secret_in_a_traceback_is_masked() -> None:
    """logger.exception renders the traceback, then redacts it."""
    logger, stream = _logger()
    try:
        raise ValueError(f"bad token {SECRET}")
    except ValueError:
        logger.exception("failed")
    assert "Traceback" in stream.getvalue()
    assert SECRET not in stream.getvalue()
