"""The recorder: a record that cannot be made durable is a refusal by audit, and the operator's log
says why (the audit log's own reason) without ever quoting the record."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from secure_mcp.errors import AuditError, Denied
from secure_mcp.recorder import Recorder
from secure_mcp.redaction import Redactor

pytestmark = pytest.mark.anyio
SECRET = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"


class FailingSink:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def append(self, record: Mapping[str, Any], *, inline: bool = False) -> int:
        raise self.error


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (AuditError("log_truncated", "the log ends inside a record; run secure-mcp audit verify"), "log_truncated: "
         "the log ends inside a record; run secure-mcp audit verify"),
        (OSError(28, "No space left on device"), "No space left on device"),
        (ValueError(f"cannot serialise {SECRET}"), "ValueError"),
    ],
)
async def test_a_failed_append_is_a_refusal_by_audit_and_the_log_says_why(
    caplog: pytest.LogCaptureFixture, error: Exception, logged: str
) -> None:
    recorder = Recorder(FailingSink(error), Redactor(environ={}))
    with caplog.at_level(logging.ERROR, logger="secure_mcp.recorder"), pytest.raises(Denied) as denied:
        await recorder.write({"event": "call_received", "arguments": {"token": SECRET}})
    assert (denied.value.stage, denied.value.reason) == ("audit", "audit_unavailable")
    [line] = [r.getMessage() for r in caplog.records]
    assert line == f"audit record 'call_received' could not be written: {logged}"
    assert SECRET not in caplog.text  # neither the record nor an exception's text reaches the log
