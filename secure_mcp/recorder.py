"""Turns pipeline events into audit records: redacted first, durable before the call goes on.

Every record passes the redaction library, so a secret in arguments, output or a prompt is stored
only as ``[REDACTED:<kind>]``. A record that cannot be made durable is a refusal by audit: the
server never acts without a record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from secure_mcp.call import ToolCall
from secure_mcp.confirm.approval import Answer
from secure_mcp.errors import AuditError, Denied

logger = logging.getLogger(__name__)


def failure_reason(exc: Exception) -> str:
    """Why an append failed, for the operator's log, without record content.

    The audit log's own errors carry a reason code and a message written to be safe; an OS error's
    strerror is safe; any other exception's text might quote the record, so only its class name.
    """
    if isinstance(exc, AuditError):
        return f"{exc.reason}: {exc.message}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


class AuditSink(Protocol):
    """Appends one record; returns only when it is durable, raises when it cannot be."""

    async def append(self, record: Mapping[str, Any], *, inline: bool = False) -> int: ...


class ValueRedactor(Protocol):
    """The part of the redaction library the recorder and the pipeline need: mask every string in a
    JSON-like value (keys too), keeping its shape, and count the masks per kind."""

    def redact_value(self, value: object) -> tuple[object, dict[str, int]]: ...


class Recorder:
    """The pipeline's only way to write audit records."""

    def __init__(self, sink: AuditSink, redactor: ValueRedactor) -> None:
        self._sink = sink
        self._redactor = redactor
        self.active_calls = 0
        """Calls in progress; with exactly one, its records may be committed inline (see AuditLog)."""

    async def write(self, record: dict[str, Any]) -> None:
        """Redact and append; any failure becomes ``Denied("audit", ...)``."""
        event = record.get("event")
        try:
            redacted, _ = self._redactor.redact_value(record)
            if not isinstance(redacted, dict):
                raise TypeError("the redactor changed the record's shape")
            await self._sink.append(redacted, inline=self.active_calls <= 1)
        except Exception as exc:
            logger.error("audit record %r could not be written: %s", event, failure_reason(exc))
            raise Denied("audit", "audit_unavailable", "the audit log cannot be written, so nothing was done") from None

    async def call_received(self, call: ToolCall) -> None:
        await self.write(
            {
                "event": "call_received",
                "call_id": call.call_id,
                "principal": call.caller.principal,
                "transport": call.caller.transport,
                "session": call.caller.session,
                "tool": call.tool,
                "arguments": call.raw_args,
                "resumed": call.continuation is not None,
            }
        )

    async def refused(self, call: ToolCall, stage: str, reason: str, message: str) -> None:
        await self.write(
            {
                "event": "refused",
                "call_id": call.call_id,
                "principal": call.caller.principal,
                "tool": call.tool,
                "stage": stage,
                "reason": reason,
                "message": message,
            }
        )

    async def confirmation_asked(self, call: ToolCall, question: str, decision_id: str | None = None) -> None:
        await self.write(
            {
                "event": "confirmation_asked",
                "call_id": call.call_id,
                "principal": call.caller.principal,
                "tool": call.tool,
                "question": question,
                "decision_id": decision_id,
            }
        )

    async def confirmation_answered(
        self,
        call: ToolCall,
        answer: Answer,
        note: str | None,
        waited_ms: float | None = None,
        decision_id: str | None = None,
    ) -> None:
        await self.write(
            {
                "event": "confirmation_answered",
                "call_id": call.call_id,
                "principal": call.caller.principal,
                "tool": call.tool,
                "answer": answer.outcome,
                "approved": answer.approved,
                "reason": answer.reason,
                "note": note,
                "channel": answer.channel,
                "approver": answer.approver,
                "waited_ms": waited_ms,
                "decision_id": decision_id,
            }
        )

    async def executed(self, call: ToolCall, fields: Mapping[str, Any]) -> None:
        await self.write(
            {
                "event": "executed",
                "call_id": call.call_id,
                "principal": call.caller.principal,
                "tool": call.tool,
                **fields,
            }
        )
